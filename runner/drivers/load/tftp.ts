// Loading images into the board's RAM over TFTP. Images are staged into a per-run folder
// inside the folder the TFTP server serves (so two runs never see each other's files),
// under names the runner chooses (a quote or a space in a file name never reaches U-Boot's
// shell), loaded with `tftpboot`, and checked: the byte count U-Boot reports, then `crc32`
// against the host's CRC-32. A mismatch is a lab error (a bad cable, a stale TFTP cache),
// never a guest failure.
//
// The server's address: `server_ip`, or (ostool's way) this host's IPv4 address on
// `interface`. The board's: `board_ip`, or DHCP.
import { copyFileSync, linkSync, mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { LabError } from '../../errors.js';
import { figures, imageDigest, type HostImage, type TransferFigures } from '../../transfer/image.js';
import { verifyLoad } from '../../transfer/verify.js';
import { sweepLeftovers } from '../leftovers.js';
import { defineLoad, type LoadContext, type Loader, TFTP_ROOT, TFTP_SHARE, type TftpShare } from '../registry.js';
import { labHostOf, type LabHost, shq } from '../../remote/lab-host.js';

const settings = z
  .object({
    /** Folder the TFTP server serves. Omitted when the power driver brings a server (QEMU). */
    dir: z.string().min(1).optional(),
    /** `dhcp` before loading instead of a fixed board_ip. */
    dhcp: z.boolean().default(false),
    board_ip: z.string().optional(),
    server_ip: z.string().optional(),
    /** The host's network interface the board reaches: its address is the server's. */
    interface: z.string().optional(),
    netmask: z.string().optional(),
    gateway_ip: z.string().optional(),
    /** "lab_host": `dir` is on the board file's [lab_host]; images go there over SFTP. */
    via: z.enum(['direct', 'lab_host']).optional(),
  })
  .strict();

type Settings = z.infer<typeof settings>;

/** This host's IPv4 address on an interface (ostool's detect_tftp_ip). */
export function interfaceAddress(name: string): string | undefined {
  return os.networkInterfaces()[name]?.find((a) => a.family === 'IPv4')?.address;
}

/** A file name any TFTP server and U-Boot's shell take as it is. */
export const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '') || 'image';

export class TftpLoader implements Loader {
  readonly method = 'tftp';
  private stageDir = '';
  /** Staging on a lab host over SFTP: the host and this run's folder there. */
  private remote?: { host: LabHost; dir: string };
  private netReady = false;
  /** A pool session's share, when the power driver gives one: staged through its API. */
  private share?: TftpShare;

  constructor(
    private s: Settings,
    private ctx: LoadContext,
  ) {
    this.share = ctx.resources.get(TFTP_SHARE);
    if (this.share) return;
    if (s.via === 'lab_host') {
      const host = labHostOf(ctx.board, '[load.tftp] via = "lab_host"');
      if (!s.dir)
        throw new LabError(
          'load',
          `board ${ctx.board.name}: [load.tftp] dir is not set: the folder the TFTP server on ${host} serves is needed to stage images`,
        );
      const dir = path.posix.join(s.dir, `hil-${safeName(ctx.runId)}`);
      this.remote = { host, dir };
      return;
    }
    const root = ctx.resources.get(TFTP_ROOT) ?? s.dir;
    if (!root)
      throw new LabError(
        'load',
        `board ${ctx.board.name}: [load.tftp] dir is not set: the folder your TFTP server serves is needed to stage images`,
      );
    this.stageDir = path.join(root, `hil-${safeName(ctx.runId)}`);
    for (const name of sweepLeftovers(root, 'hil-'))
      ctx.log(`removed ${name} from the TFTP folder: staged by a runner that was killed`);
  }

  private serverIp(): string | undefined {
    if (this.s.server_ip) return this.s.server_ip;
    if (this.share?.serverIp) return this.share.serverIp;
    if (!this.s.interface) return undefined;
    const ip = interfaceAddress(this.s.interface);
    if (!ip)
      throw new LabError(
        'load',
        `[load.tftp] interface ${this.s.interface} has no IPv4 address on this host: is the cable to the board plugged in? (ip -br addr)`,
      );
    return ip;
  }

  private async prepareNetwork(): Promise<void> {
    if (this.netReady) return;
    const u = this.ctx.uboot;
    const t = this.ctx.board.timeouts;
    // A pool session's boot profile says the board's network as ostool uses it (run/uboot.rs:
    // a static board_ip with its netmask and gatewayip, else DHCP); the board file's keys win.
    const share = this.share;
    const boardIp = this.s.board_ip ?? share?.boardIp;
    const netmask = this.s.netmask ?? share?.netmask;
    const gateway = this.s.gateway_ip ?? share?.gatewayIp;
    if (this.s.dhcp || (!boardIp && share?.dhcp)) {
      await u.setenv('autoload', 'no');
      await u.run('dhcp', { phase: 'load', timeoutS: t.load });
    } else {
      if (boardIp) await u.setenv('ipaddr', boardIp);
      if (netmask) await u.setenv('netmask', netmask);
      if (gateway) await u.setenv('gatewayip', gateway);
    }
    const server = this.serverIp();
    if (server) await u.setenv('serverip', server);
    this.netReady = true;
  }

  private async stage(img: HostImage): Promise<string> {
    const name = `${img.role}-${safeName(path.basename(img.path))}`;
    const share = this.share;
    if (share) return share.put(img.path, `hil-${safeName(this.ctx.runId)}/${name}`, this.ctx.signal());
    if (this.remote) {
      await this.stageOnLabHost(img, path.posix.join(this.remote.dir, name));
      return `${path.posix.basename(this.remote.dir)}/${name}`;
    }
    mkdirSync(this.stageDir, { recursive: true });
    const dest = path.join(this.stageDir, name);
    rmSync(dest, { force: true });
    try {
      linkSync(img.path, dest); // same filesystem: instant, no copy of a 30 MB kernel
    } catch {
      copyFileSync(img.path, dest);
    }
    return `${path.basename(this.stageDir)}/${name}`;
  }

  /**
   * Stages an image on the lab host. Images are kept there by content (hil-cache/<sha256>,
   * beside the run folders, a week after last use): the same hypervisor image loaded by
   * every case of a suite, or again by a rerun, is copied over SSH once, then linked.
   */
  private async stageOnLabHost(img: HostImage, dest: string): Promise<void> {
    const { host } = this.remote!;
    const cacheDir = path.posix.join(this.s.dir!, 'hil-cache');
    const cached = path.posix.join(cacheDir, `${imageDigest(img.path)}-${img.size}`);
    const link = `mkdir -p ${shq(path.posix.dirname(dest))} && touch ${shq(cached)} && ln -f ${shq(cached)} ${shq(dest)}`;
    const hit = await host.exec(`[ -f ${shq(cached)} ] && ${link} && echo HIT || echo MISS`, 30);
    if (hit.output.trim() === 'HIT') return;
    const part = `${cached}.${safeName(this.ctx.runId)}.part`;
    await host.put(img.path, part, this.ctx.signal());
    const r = await host.exec(
      `mv -f ${shq(part)} ${shq(cached)} && ${link} && find ${shq(cacheDir)} -type f -mtime +7 -delete; echo $?`,
      30,
    );
    if (r.output.trim().split('\n').pop() !== '0')
      throw new LabError('load', `${host}: staging ${dest} failed: ${r.output.trim()}`);
  }

  async load(img: HostImage, addr: string): Promise<TransferFigures> {
    await this.prepareNetwork();
    const remote = await this.stage(img);
    const { uboot, board } = this.ctx;
    const t0 = performance.now();
    const what =
      `TFTP load of the ${img.role} ${path.basename(img.path)} (server ` +
      `${this.s.server_ip ?? this.share?.describe ?? this.s.interface ?? 'from DHCP'}, file ` +
      `${remote}${this.remote ? ` staged on ${this.remote.host}` : ''})`;
    const res = await uboot
      .run(`tftpboot ${addr} ${remote}`, { phase: 'load', timeoutS: board.timeouts.load, allowFail: true })
      .catch((e: unknown) => {
        throw e instanceof LabError ? new LabError('load', `${what} failed: ${e.message}`) : e;
      });
    const got = res.output.map((l) => /Bytes transferred = (\d+)/.exec(l)).find(Boolean);
    if (res.status !== 0 || !got) {
      const why =
        res.output.filter((l) => /error|not found|timeout|retry|abort/i.test(l)).pop() ??
        res.output.pop() ??
        'no output';
      throw new LabError('load', `${what} failed: ${why.trim()}`);
    }
    if (Number(got[1]) !== img.size) {
      throw new LabError('load', `TFTP load of ${img.role} gave ${got[1]} bytes, the host file has ${img.size}`);
    }
    const moved = (performance.now() - t0) / 1000;
    if (board.load.verify) await verifyLoad(uboot, img, addr, board.timeouts.load);
    return figures(img, 'tftp', moved, (performance.now() - t0) / 1000, board.load.verify, 0);
  }

  async cleanup(): Promise<void> {
    // A pool session's share is emptied by the server when the session ends.
    if (this.remote) {
      await this.remote.host.exec(`rm -rf -- ${shq(this.remote.dir)}`, 30).catch(() => {});
      return;
    }
    if (this.stageDir) rmSync(this.stageDir, { recursive: true, force: true });
  }
}

export const tftpLoad = defineLoad({
  kind: 'tftp',
  summary: "tftpboot from a TFTP server's folder: dir, board_ip/server_ip/interface or dhcp",
  notes:
    '`via = "lab_host"`: `dir` is on the lab host, images go there over SFTP; with a pool board, the session\'s TFTP share; with the virtual board, its QEMU\'s TFTP folder',
  settings,
  create: (s, ctx) => new TftpLoader(s, ctx),
});
