// Loading images into the board's RAM over TFTP. Images are staged into a per-run folder
// inside the folder the TFTP server serves (so two runs never see each other's files),
// loaded with `tftpboot`, and checked: the byte count U-Boot reports, then `crc32` against
// the host's CRC-32. A mismatch is a lab error (a bad cable, a stale TFTP cache), never a
// guest failure.
import { copyFileSync, linkSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Board } from '../config/board.js';
import { LabError } from '../errors.js';
import type { UBoot } from '../uboot/driver.js';
import { figures, type HostImage, type Loader, type TransferFigures } from './image.js';
import { verifyLoad } from './verify.js';

export class TftpLoader implements Loader {
  readonly method = 'tftp';
  private stageDir: string;
  private netReady = false;

  constructor(private uboot: UBoot, private board: Board, tftpRoot: string, runId: string) {
    this.stageDir = path.join(tftpRoot, `hil-${runId}`);
  }

  private async prepareNetwork(): Promise<void> {
    if (this.netReady) return;
    const l = this.board.load;
    if (l.dhcp) {
      await this.uboot.setenv('autoload', 'no');
      await this.uboot.run('dhcp', { phase: 'load', timeoutS: 30 });
    } else {
      if (l.board_ip) await this.uboot.setenv('ipaddr', l.board_ip);
      if (l.netmask) await this.uboot.setenv('netmask', l.netmask);
      if (l.gateway_ip) await this.uboot.setenv('gatewayip', l.gateway_ip);
    }
    if (l.server_ip) await this.uboot.setenv('serverip', l.server_ip);
    this.netReady = true;
  }

  private stage(img: HostImage): string {
    mkdirSync(this.stageDir, { recursive: true });
    const name = `${img.role}-${path.basename(img.path)}`;
    const dest = path.join(this.stageDir, name);
    rmSync(dest, { force: true });
    try {
      linkSync(img.path, dest); // same filesystem: instant, no copy of a 30 MB kernel
    } catch {
      copyFileSync(img.path, dest);
    }
    return `${path.basename(this.stageDir)}/${name}`;
  }

  async load(img: HostImage, addr: string): Promise<TransferFigures> {
    await this.prepareNetwork();
    const remote = this.stage(img);
    const t0 = performance.now();
    const what = `TFTP load of the ${img.role} ${path.basename(img.path)} (server ${this.board.load.server_ip ?? 'from DHCP'}, file ${remote})`;
    const res = await this.uboot.run(`tftpboot ${addr} ${remote}`, { phase: 'load', timeoutS: this.board.timeouts.load, allowFail: true }).catch((e: unknown) => {
      throw e instanceof LabError ? new LabError('load', `${what} failed: ${e.message}`) : e;
    });
    const got = res.output.map((l) => /Bytes transferred = (\d+)/.exec(l)).find(Boolean);
    if (res.status !== 0 || !got) {
      const why = res.output.filter((l) => /error|not found|timeout|retry|abort/i.test(l)).pop() ?? res.output.pop() ?? 'no output';
      throw new LabError('load', `${what} failed: ${why.trim()}`);
    }
    if (Number(got[1]) !== img.size) {
      throw new LabError('load', `TFTP load of ${img.role} gave ${got[1]} bytes, the host file has ${img.size}`);
    }
    const moved = (performance.now() - t0) / 1000;
    if (this.board.load.verify) await verifyLoad(this.uboot, img, addr, this.board.timeouts.load);
    return figures(img, 'tftp', moved, (performance.now() - t0) / 1000, this.board.load.verify, 0);
  }

  cleanup(): void {
    rmSync(this.stageDir, { recursive: true, force: true });
  }
}
