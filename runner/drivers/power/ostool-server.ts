// A board from ostool-server's pool (TGOSKits' board lab). The pool session is this
// driver's resource: attach() leases a board of the type asked for (waiting up to
// `hil run --wait` while every one is busy, as ostool waits, but with a limit; and first,
// for the board this run gave back a moment ago, while the pool still releases it), keeps
// the lease alive with heartbeats, and says where the console WebSocket is (console kind
// "ostool-server"), how to stage images in the session's TFTP share (the tftp load method)
// and what the session's boot profile says of addresses, network and device tree.
//
// Power, as ostool-server has it (serial/ws.rs, state.rs): the server switches the board on
// itself as the console WebSocket opens (the power link), and off when the session is
// released, which the console's close or DELETE starts. So on() asks for power only when
// no console is open; off() only gives the session back (DELETE, as ostool's release()
// does: no power-off request, which a releasing session would refuse with 409); a cycle
// switches off and on through the session's power endpoints, keeping the session.
//
// The driver is on the power base (drivers/base.ts: power.log, masking, time limits, the
// off-to-on delay), and what it gives the other drivers goes in the resource bag: the
// session's TFTP share (TFTP_SHARE, for the tftp load method) and the boot profile's
// addresses and device tree (BOOT_DEFAULTS, for the load action). The pool client it
// drives is drivers/pool/ostool-server.ts.
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { LabError } from '../../errors.js';
import {
  apiOf,
  type BootProfile,
  describeApi,
  HEARTBEAT_MS,
  noteOwnRelease,
  PoolClient,
  PoolError,
  poolLabError,
  resolveServer,
  type SessionCreated,
  type SessionDtb,
  type TftpStatus,
  waitOwnReleases,
} from '../pool/ostool-server.js';
import { defineSwitch, type PowerAction, type PowerSwitch, powerSettings } from '../base.js';
import {
  type Attached,
  BOOT_DEFAULTS,
  type BootDefaults,
  type PowerContext,
  Resources,
  TFTP_SHARE,
  type TftpShare,
} from '../registry.js';

const settings = powerSettings({
  /** The pool's address; omitted, the case's `server`/`port`, then ~/.ostool/config.toml. */
  server: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  /** The pool's name for this board type; omitted, the case's `board_type`, then the board's name. */
  board_type: z.string().min(1).optional(),
  /** Tags every leased board must have (ostool-server's required_tags). */
  required_tags: z.array(z.string()).default([]),
  /** How the session shows in the pool's admin page. */
  client_name: z.string().min(1).default(`hil@${os.hostname()}`),
  /** Seconds to wait for the board this run gave back to be released by the pool (its
   * power-off, a relay's 10 s settle, the share emptied) before the next case leases it. */
  release_wait: z.number().positive().default(60),
});

type Settings = z.infer<typeof settings>;

/** A 404 with no JSON body: the route does not exist on this server (an older one). */
const noRoute = (e: unknown) => e instanceof PoolError && e.status === 404 && e.code === undefined;

export class PoolPower implements PowerSwitch {
  private client?: PoolClient;
  private session?: SessionCreated;
  private readonly boardType: string;
  private beating?: AbortController;
  private ended = false;
  /** power.log, through the base (masked), also after the action: heartbeats, staging. */
  private note: (line: string) => void = () => {};

  constructor(
    private cfg: Settings,
    private ctx: PowerContext,
  ) {
    this.boardType = cfg.board_type ?? ctx.pool.boardType ?? ctx.board.name;
  }

  get describe(): string {
    return `ostool-server pool, board type ${this.boardType}`;
  }

  /** Attach may wait for a free board (--wait) and for the board this run gave back. */
  get attachWaitS(): number {
    return this.ctx.pool.waitS + this.cfg.release_wait;
  }

  idle(): boolean {
    return this.ended || !this.session;
  }

  async attach(a: PowerAction): Promise<Attached> {
    this.note = (line) => a.note(line);
    const where = resolveServer(this.cfg, this.ctx.pool);
    const client = new PoolClient(where.server, where.port);
    this.client = client;
    const boardType = this.boardType;
    this.note(
      `pool ${where.server}:${where.port} (from ${where.from}), board type ${boardType}${this.cfg.required_tags.length ? `, tags ${this.cfg.required_tags.join(',')}` : ''}`,
    );
    const signal = a.signal;
    // The board this run gave back may still be the pool's: wait for it, not as "busy".
    await waitOwnReleases(client, boardType, this.cfg.release_wait, signal, (m) => {
      this.note(m);
      this.ctx.log(m);
    });
    const deadline = Date.now() + this.ctx.pool.waitS * 1000;
    let told = false;
    for (;;) {
      try {
        this.session = await client.createSession(boardType, this.cfg.required_tags, this.cfg.client_name, signal);
        break;
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        if (!(e instanceof PoolError && e.busy(boardType)))
          throw poolLabError(client, `no session on a ${boardType}`, e);
        if (Date.now() >= deadline) {
          throw new LabError(
            'power',
            `${client}: every ${boardType} is busy${this.ctx.pool.waitS ? ` and none came free within ${this.ctx.pool.waitS} s` : ''}: run again later, or wait for one with --wait 10m`,
          );
        }
        if (!told)
          this.ctx.log(`every ${boardType} in ${client} is busy: waiting up to ${this.ctx.pool.waitS} s for one`);
        told = true;
        await sleep(1000, undefined, { signal }).catch(() => {});
      }
    }
    const s = this.session;
    this.note(`session ${s.session_id} on board ${s.board_id}, lease until ${s.lease_expires_at}`);
    this.ctx.log(`${client}: leased ${s.board_id} (session ${s.session_id})`);
    this.beat(client, s);
    if (!s.serial_available || !s.ws_url)
      throw new LabError(
        'power',
        `${client}: board ${s.board_id} has no serial console: the pool's board config needs a [serial] port`,
      );
    if (s.boot_mode !== 'uboot')
      throw new LabError(
        'power',
        `${client}: board ${s.board_id} boots by ${s.boot_mode}; the runner drives boards that boot U-Boot`,
      );
    const asked = <T>(what: string, p: Promise<T>) =>
      p.catch((e: unknown) => {
        if (signal.aborted) throw signal.reason;
        throw poolLabError(client, what, e);
      });
    // What ostool's remote runner asks before it opens the console (run/uboot.rs
    // RemoteBackend): the boot profile, the TFTP status, the session's DTB. A server
    // without /tftp or /dtb (no such route) is taken as one without them.
    const [detail, profile, tftp, dtb] = await Promise.all([
      asked('reading the session', client.session(s.session_id, signal)),
      asked('reading the boot profile', client.bootProfile(s.session_id, signal)),
      asked(
        'reading the TFTP status',
        client.tftpStatus(s.session_id, signal).catch((e: unknown) => {
          if (noRoute(e)) return undefined;
          throw e;
        }),
      ),
      asked(
        "reading the session's device tree",
        client.sessionDtb(s.session_id, signal).catch((e: unknown) => {
          if (noRoute(e)) return undefined;
          throw e;
        }),
      ),
    ]);
    this.note(`pool API: ${describeApi(apiOf(detail, profile))}`);
    const { tftpShare, bootDefaults } = this.boot(client, s, profile, tftp, dtb);
    return {
      consolePath: client.wsUrl(s.ws_url),
      provides: new Resources().set(TFTP_SHARE, tftpShare).set(BOOT_DEFAULTS, bootDefaults),
    };
  }

  /** The share and boot defaults the boot profile, /tftp and /dtb give, as ostool uses them:
   * serverip from /tftp, else the profile; a static profile's board_ip, netmask, gatewayip;
   * its kernel_load_addr, fit_load_addr, bootm_addr under the case's own; the preset DTB for
   * a case that brings none. */
  private boot(
    client: PoolClient,
    s: SessionCreated,
    profile: BootProfile,
    tftp: TftpStatus | undefined,
    dtb: SessionDtb | undefined,
  ): { tftpShare: TftpShare; bootDefaults: BootDefaults } {
    const p = profile.boot;
    if (p.kind !== 'uboot')
      throw new LabError(
        'power',
        `${client}: board ${s.board_id}'s boot profile is ${p.kind}; the runner drives boards that boot U-Boot`,
      );
    const isStatic = p.network_mode === 'static_ip';
    const serverIp = tftp?.server_ip ?? profile.server_ip ?? undefined;
    const str = (v: string | null | undefined) => (v?.trim() ? v.trim() : undefined);
    const said = [
      `serverip ${serverIp ?? '(none)'}${tftp ? ` (TFTP ${tftp.available ? 'available' : 'NOT available'})` : ''}`,
      isStatic
        ? `static ipaddr ${p.board_ip ?? '?'} netmask ${p.netmask ?? profile.netmask ?? '?'} gatewayip ${p.gatewayip ?? '-'}`
        : 'DHCP',
      ...(['kernel_load_addr', 'fit_load_addr', 'bootm_addr'] as const)
        .filter((k) => str(p[k]))
        .map((k) => `${k} ${p[k]}`),
      ...(dtb?.dtb_name ? [`device tree ${dtb.dtb_name} (${dtb.session_file_path})`] : []),
    ];
    this.note(`boot profile: ${said.join(', ')}`);
    if (p.use_tftp === false || (tftp && !tftp.available))
      this.ctx.log(
        `warning: ${client}: board ${s.board_id} has no TFTP in its boot profile${tftp && !tftp.available ? ' (the pool says its TFTP is not available)' : ''}: loads over TFTP will fail`,
      );
    return {
      tftpShare: {
        serverIp,
        boardIp: isStatic ? str(p.board_ip) : undefined,
        netmask: str(tftp?.netmask) ?? str(isStatic ? p.netmask : undefined) ?? str(profile.netmask),
        gatewayIp: isStatic ? str(p.gatewayip) : undefined,
        dhcp: !isStatic,
        describe: `${client} session ${s.session_id}`,
        put: async (localPath, name, sig) => {
          const staged = await client.putFile(s.session_id, name, readFileSync(localPath), sig).catch((e) => {
            throw poolLabError(client, `staging ${name} in the session's TFTP share`, e);
          });
          this.note(`staged ${staged.relative_path} (${staged.size} bytes)`);
          return staged.relative_path;
        },
      },
      bootDefaults: {
        kernel_load_addr: str(p.kernel_load_addr),
        fit_load_addr: str(p.fit_load_addr),
        bootm_addr: str(p.bootm_addr),
        dtb: dtb?.dtb_name
          ? async () => {
              const bytes = await client.downloadDtb(s.session_id, this.ctx.signal()).catch((e) => {
                throw poolLabError(client, `downloading the pool's device tree ${dtb.dtb_name}`, e);
              });
              const file = path.join(this.ctx.outDir, `pool-${path.basename(dtb.dtb_name!)}`);
              writeFileSync(file, bytes);
              this.note(`device tree ${dtb.dtb_name} from the pool (${bytes.length} bytes): ${file}`);
              return file;
            }
          : undefined,
      },
    };
  }

  /** Heartbeats every second, as ostool's client does, until the session ends. A session
   * the server is releasing (409) or has forgotten (404) ends the beats; another failure is
   * noted, and the server ends a session it no longer hears from, closing its console,
   * which ends the run as a lab error where it stood. */
  private beat(client: PoolClient, s: SessionCreated): void {
    const ac = new AbortController();
    this.beating = ac;
    void (async () => {
      while (!ac.signal.aborted) {
        const ok = await sleep(HEARTBEAT_MS, true, { signal: ac.signal }).catch(() => false);
        if (!ok) return;
        try {
          await client.heartbeat(s.session_id);
        } catch (e) {
          if (ac.signal.aborted) return;
          if (e instanceof PoolError && e.releasing) {
            this.note(
              `heartbeat: session ${s.session_id} is releasing (its console closed or its lease ran out): beats end`,
            );
            return;
          }
          this.note(`heartbeat failed: ${(e as Error).message}`);
          this.ctx.log(`warning: ${client}: heartbeat of session ${s.session_id} failed: ${(e as Error).message}`);
          if (e instanceof PoolError && e.status === 404) return; // the session is gone
        }
      }
    })();
  }

  private async switch(on: boolean, signal: AbortSignal): Promise<void> {
    if (!this.client || !this.session) throw new LabError('power', 'the pool session is not open: attach first');
    const { client, session } = this;
    const r = await client.power(session.session_id, on, signal).catch((e) => {
      this.note(
        `power ${on ? 'on' : 'off'} FAILED: ${(e as Error).message}${e instanceof PoolError && e.answered ? ` (${e.http})` : ''}`,
      );
      throw poolLabError(client, `power ${on ? 'on' : 'off'} of ${session.board_id}`, e);
    });
    this.note(`power ${on ? 'on' : 'off'}: ${r.message}`);
  }

  /** The server powers the board on as the session's console opens (the power link), and
   * the runner opens the console before it powers on: a second power-on would run the
   * pool's power command again. Only a board whose console is not the session's gets one. */
  async on(a: PowerAction): Promise<void> {
    if (!this.client || !this.session) throw new LabError('power', 'the pool session is not open: attach first');
    if (this.ctx.board.console.kind === 'ostool-server') {
      this.note('power on: by the pool, as the console opened');
      return;
    }
    await this.switch(true, a.signal);
  }

  /** Gives the session back (DELETE, as ostool's release()): the server powers the board
   * off and frees it; a server with the release job answers 202 at once and frees the board
   * once off (a relay's settle delay, the share emptied); the next case waits for that. */
  async off(_a: PowerAction): Promise<void> {
    if (this.ended || !this.client || !this.session) return;
    this.ended = true;
    this.beating?.abort();
    const { client, session } = this;
    let status: number;
    try {
      status = await client.deleteSession(session.session_id);
    } catch (e) {
      this.note(`session ${session.session_id} released with errors: ${(e as Error).message}`);
      throw poolLabError(client, `release of session ${session.session_id}`, e);
    }
    if (status === 202) noteOwnRelease(client, this.boardType, session.session_id, session.board_id);
    this.note(
      `session ${session.session_id} released (DELETE ${status}${
        status === 202
          ? ': the pool powers the board off and frees it in the background'
          : status === 404
            ? ': the pool had already ended it'
            : ''
      })`,
    );
  }

  /** A reset keeps the session: off and on through its power endpoints (off() would give
   * the board back to the pool). */
  async cycle(delayS: number, a: PowerAction): Promise<void> {
    await this.switch(false, a.signal);
    if (delayS > 0) await sleep(delayS * 1000, undefined, { signal: a.signal });
    await this.switch(true, a.signal);
  }
}

export const ostoolServerPower = defineSwitch({
  kind: 'ostool-server',
  summary:
    'a board leased from an ostool-server pool: server, port, board_type, required_tags, release_wait, cycle_delay',
  settings,
  arbitrates: true,
  create: (s, ctx) => new PoolPower(s, ctx),
});
