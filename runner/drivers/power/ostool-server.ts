// A board from ostool-server's pool (TGOSKits' board lab). The pool session is this
// driver's resource: attach() leases a board of the type asked for (waiting up to
// `hil run --wait` while every one is busy, as ostool waits, but with a limit), keeps the
// lease alive with heartbeats for as long as the run holds it, and says where the console
// WebSocket is (console kind "ostool-server") and how to stage images in the session's
// TFTP share (the tftp load method). on/off/reset are the session's power endpoints.
// off() ends the session on every path; the server powers the board off when it does.
//
// The server also powers the board on when the console WebSocket opens (ws.rs: the power
// link) and off when it closes; on() asks again, which for a relay is a no-op.
import { appendFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { LabError } from '../../errors.js';
import { heartbeatDelayMs, PoolClient, PoolError, poolLabError, resolveServer, type SessionCreated } from '../../lab/ostool-server.js';
import { shownTime } from '../../config/paths.js';
import { definePower, type Attached, type PowerContext } from '../registry.js';

const settings = z
  .object({
    /** The pool's address; omitted, the case's `server`/`port`, then ~/.ostool/config.toml. */
    server: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    /** The pool's name for this board type; omitted, the case's `board_type`, then the board's name. */
    board_type: z.string().min(1).optional(),
    /** Tags every leased board must have (ostool-server's required_tags). */
    required_tags: z.array(z.string()).default([]),
    /** How the session shows in the pool's admin page. */
    client_name: z.string().min(1).default(`hil@${os.hostname()}`),
  })
  .strict();

type Settings = z.infer<typeof settings>;

export class PoolPower {
  private client?: PoolClient;
  private session?: SessionCreated;
  private beating?: AbortController;
  private ended = false;

  constructor(
    private cfg: Settings,
    private ctx: PowerContext,
  ) {}

  private note(line: string): void {
    appendFileSync(this.ctx.logFile, `${shownTime(new Date().toISOString())} ${line}\n`);
  }

  async attach(): Promise<Attached> {
    const where = resolveServer(this.cfg, this.ctx.pool);
    const client = new PoolClient(where.server, where.port);
    this.client = client;
    const boardType = this.cfg.board_type ?? this.ctx.pool.boardType ?? this.ctx.board.name;
    this.note(
      `pool ${where.server}:${where.port} (from ${where.from}), board type ${boardType}${this.cfg.required_tags.length ? `, tags ${this.cfg.required_tags.join(',')}` : ''}`,
    );
    const signal = this.ctx.signal();
    const deadline = Date.now() + this.ctx.pool.waitS * 1000;
    let told = false;
    for (;;) {
      try {
        this.session = await client.createSession(boardType, this.cfg.required_tags, this.cfg.client_name, signal);
        break;
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        if (!(e instanceof PoolError && e.busy(boardType))) throw poolLabError(client, `no session on a ${boardType}`, e);
        if (Date.now() >= deadline) {
          throw new LabError(
            'power',
            `${client}: every ${boardType} is busy${this.ctx.pool.waitS ? ` and none came free within ${this.ctx.pool.waitS} s` : ''}: run again later, or wait for one with --wait 10m`,
          );
        }
        if (!told) this.ctx.log(`every ${boardType} in ${client} is busy: waiting up to ${this.ctx.pool.waitS} s for one`);
        told = true;
        await sleep(1000, undefined, { signal }).catch(() => {});
      }
    }
    const s = this.session;
    this.note(`session ${s.session_id} on board ${s.board_id}, lease until ${s.lease_expires_at}`);
    this.ctx.log(`${client}: leased ${s.board_id} (session ${s.session_id})`);
    this.beat(client, s);
    if (!s.serial_available || !s.ws_url) throw new LabError('power', `${client}: board ${s.board_id} has no serial console: the pool's board config needs a [serial] port`);
    const profile = await client.bootProfile(s.session_id, signal).catch((e) => {
      throw poolLabError(client, 'reading the boot profile', e);
    });
    return {
      consolePath: client.wsUrl(s.ws_url),
      tftpShare: {
        serverIp: profile.server_ip ?? undefined,
        describe: `${client} session ${s.session_id}`,
        put: async (localPath, name, sig) => {
          const staged = await client.putFile(s.session_id, name, readFileSync(localPath), sig).catch((e) => {
            throw poolLabError(client, `staging ${name} in the session's TFTP share`, e);
          });
          this.note(`staged ${staged.relative_path} (${staged.size} bytes)`);
          return staged.relative_path;
        },
      },
    };
  }

  /** Heartbeats at half the lease left, as ostool does, until the session ends. A failed
   * one is noted; the server ends a session it no longer sees, and closes its console,
   * which ends the run as a lab error where it stood. */
  private beat(client: PoolClient, s: SessionCreated): void {
    const ac = new AbortController();
    this.beating = ac;
    let expires = s.lease_expires_at;
    void (async () => {
      while (!ac.signal.aborted) {
        const ok = await sleep(heartbeatDelayMs(expires), true, { signal: ac.signal }).catch(() => false);
        if (!ok) return;
        try {
          expires = (await client.heartbeat(s.session_id)).lease_expires_at;
        } catch (e) {
          if (ac.signal.aborted) return;
          this.note(`heartbeat failed: ${(e as Error).message}`);
          this.ctx.log(`warning: ${client}: heartbeat of session ${s.session_id} failed: ${(e as Error).message}`);
          if (e instanceof PoolError && e.status === 404) return; // the session is gone
        }
      }
    })();
  }

  private async switch(on: boolean): Promise<void> {
    if (!this.client || !this.session) throw new LabError('power', 'the pool session is not open: attach first');
    const r = await this.client.power(this.session.session_id, on, this.ctx.signal()).catch((e) => {
      throw poolLabError(this.client!, `power ${on ? 'on' : 'off'} of ${this.session!.board_id}`, e);
    });
    this.note(`power ${on ? 'on' : 'off'}: ${r.ok ? 'ok' : 'FAILED'} ${r.message}`);
    if (!r.ok) throw new LabError('power', `${this.client}: power ${on ? 'on' : 'off'} of ${this.session.board_id} failed: ${r.message}`);
  }

  on(): Promise<void> {
    return this.switch(true);
  }

  /** Powers the board off and ends the session (the server powers it off then too, so a
   * failed power-off still ends with the board off once the session is released). */
  async off(): Promise<void> {
    if (this.ended || !this.client || !this.session) return;
    this.ended = true;
    this.beating?.abort();
    const { client, session } = this;
    const errors: string[] = [];
    await client.power(session.session_id, false).catch((e: unknown) => {
      if (!(e instanceof PoolError && e.status === 404)) errors.push(`power off: ${(e as Error).message}`);
    });
    await client.deleteSession(session.session_id).catch((e: unknown) => errors.push(`release: ${(e as Error).message}`));
    this.note(`session ${session.session_id} released${errors.length ? ` with errors: ${errors.join('; ')}` : ''}`);
    if (errors.length) throw new LabError('power', `${client}: ${errors.join('; ')} (the server ends the session itself within 10 s of the last heartbeat)`);
  }

  async reset(): Promise<void> {
    await this.switch(false);
    await this.switch(true);
  }
}

export const ostoolServerPower = definePower({
  kind: 'ostool-server',
  summary: 'a board leased from an ostool-server pool: server, port, board_type, required_tags',
  settings,
  arbitrates: true,
  create: (s, ctx) => new PoolPower(s, ctx),
});
