// A board session: one board, one output folder, from power-on to power-off. It owns the
// power, the console, the U-Boot driver and the loader, records how long each phase took,
// and on close() always powers the board off and ends every process it started, whatever
// happened before.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Board } from '../config/board.js';
import type { CaseImages } from '../config/case.js';
import { Console } from '../console/console.js';
import { openSerial } from '../console/serial.js';
import { Transcript } from '../console/transcript.js';
import { LabError, PhaseTimeout } from '../errors.js';
import type { Power } from '../power/power.js';
import { QemuPower } from '../power/qemu.js';
import { ShellPower } from '../power/shell.js';
import { hex, hostImage, type HostImage, type Loader, type LoadMethod, type TransferFigures } from '../transfer/image.js';
import { TftpLoader } from '../transfer/tftp.js';
import { YmodemLoader } from '../transfer/ymodem-load.js';
import { UBoot } from '../uboot/driver.js';
import { UBootStorage } from '../uboot/storage.js';
import type { DeployFigures, DeployTools } from '../transfer/deploy.js';
import { ensureVirtualDisk } from '../power/virtual-disk.js';

/** A case's phases, in the order a run goes through them. */
export const PHASES = ['build', 'power', 'uboot', 'deploy', 'load', 'boot', 'guest'] as const;
export type Phase = (typeof PHASES)[number];

export interface SessionOptions {
  /** Where the transcript and logs go. */
  outDir: string;
  /** Aborted on Ctrl-C and when the case's time is up. */
  signal: AbortSignal;
  /** One line per step for the person watching. */
  log?: (msg: string) => void;
}

export class BoardSession {
  readonly phases: Partial<Record<Phase, number>> = {};
  readonly transfers: TransferFigures[] = [];
  readonly deploys: DeployFigures[] = [];
  readonly transcript: Transcript;
  readonly power: Power;
  private con?: Console;
  private ub?: UBoot;
  private loaders = new Map<LoadMethod, Loader>();
  /** Where in the list of methods loading starts: after a fallback, later images do not
   * wait out the failing method again. */
  private methodIndex = 0;
  private tmpTftp?: string;
  private storageDriver?: UBootStorage;
  /** The virtual board's SD card image, when it has one. */
  readonly disk?: string;
  private tftpRoot: string;
  private closing?: Promise<void>;
  private log: (msg: string) => void;

  constructor(readonly board: Board, readonly opts: SessionOptions) {
    mkdirSync(opts.outDir, { recursive: true });
    this.log = opts.log ?? (() => {});
    this.transcript = new Transcript(opts.outDir);
    const powerLog = path.join(opts.outDir, 'power.log');
    if (board.power.kind === 'qemu') {
      // The virtual board's TFTP server is QEMU's own, serving a folder of this run.
      this.tmpTftp = mkdtempSync(path.join(os.tmpdir(), 'hil-tftp-'));
      this.tftpRoot = this.tmpTftp;
      const d = board.power.disk;
      if (d) this.disk = ensureVirtualDisk(d.path ? path.resolve(path.dirname(board.file), d.path) : path.join(opts.outDir, 'virtual-sd.img'), d.size_mib);
      this.power = new QemuPower(board.power, { tftp_dir: this.tftpRoot, disk: this.disk ?? '' }, powerLog);
    } else {
      this.tftpRoot = board.load.tftp_dir!;
      this.power = new ShellPower(board.power, powerLog, { HIL_BOARD: board.name });
    }
  }

  /** Whether the console was opened (a failed power-on leaves it closed). */
  get consoleOpen(): boolean {
    return this.con !== undefined;
  }

  get console(): Console {
    if (!this.con) throw new LabError('console', 'the console is not open: start the board first');
    return this.con;
  }

  get uboot(): UBoot {
    if (!this.ub) throw new LabError('uboot', 'U-Boot is not reached yet: start the board first');
    return this.ub;
  }

  get signal(): AbortSignal {
    return this.opts.signal;
  }

  /** Times a phase; phases that run more than once (load) add up. */
  async phase<T>(name: Phase, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    this.transcript.note(`phase ${name}`);
    try {
      return await fn();
    } finally {
      this.phases[name] = (this.phases[name] ?? 0) + (performance.now() - t0) / 1000;
    }
  }

  /** Power on with the console already listening, and stop in U-Boot at a clean prompt. */
  async start(): Promise<UBoot> {
    this.signal.throwIfAborted();
    await this.phase('power', async () => {
      const { consolePath } = await this.power.attach();
      const port = consolePath ?? this.board.console.port!;
      this.transcript.note(`console ${port} at ${this.board.console.baud} baud`);
      this.con = new Console(await openSerial(port, this.board.console.baud, this.board.console.appear_timeout), this.transcript);
      this.ub = new UBoot(this.con, this.board, this.signal);
      this.transcript.note('power on');
      await this.power.on();
    });
    await this.phase('uboot', async () => {
      await this.uboot.interrupt();
      for (const cmd of this.board.uboot.init_cmds) await this.uboot.run(cmd);
    });
    this.log(`U-Boot prompt after ${((this.phases.power ?? 0) + (this.phases.uboot ?? 0)).toFixed(2)} s`);
    return this.uboot;
  }

  private loader(method: LoadMethod): Loader {
    let l = this.loaders.get(method);
    if (!l) {
      l = method === 'tftp'
        ? new TftpLoader(this.uboot, this.board, this.tftpRoot, `${path.basename(this.opts.outDir)}-${process.pid}`)
        : new YmodemLoader(this.uboot, this.console, this.board, this.log, this.signal);
      this.loaders.set(method, l);
    }
    return l;
  }

  /** Loads one image with the first method that works, from the current one on. */
  private async loadOne(img: HostImage, addr: string, methods: LoadMethod[]): Promise<TransferFigures> {
    const failed: { method: LoadMethod; reason: string }[] = [];
    for (let i = this.methodIndex; i < methods.length; i++) {
      try {
        const f = await this.loader(methods[i]).load(img, addr);
        if (failed.length) f.fallback_from = failed;
        return f;
      } catch (e) {
        const labTrouble = e instanceof LabError || (e instanceof PhaseTimeout && e.phase === 'load');
        if (!labTrouble || this.signal.aborted) throw e;
        failed.push({ method: methods[i], reason: (e as Error).message });
        if (i === methods.length - 1) {
          throw failed.length === 1 ? e : new LabError('load', `every load method failed for the ${img.role}: ${failed.map((f) => `${f.method}: ${f.reason}`).join('; ')}`);
        }
        this.log(`${methods[i]} failed for the ${img.role} (${(e as Error).message}); falling back to ${methods[i + 1]}`);
        this.transcript.note(`falling back from ${methods[i]} to ${methods[i + 1]}`);
        this.methodIndex = i + 1;
        await this.uboot.recover('load');
      }
    }
    throw new LabError('load', 'no load method left');
  }

  /** Loads one image into RAM at `addr` (with fallback) and keeps its figures. */
  async loadImage(img: HostImage, addr: string, methods: LoadMethod[] = this.board.load.methods): Promise<TransferFigures> {
    const f = await this.loadOne(img, addr, methods);
    this.transfers.push(f);
    return f;
  }

  /** The board's storage, through U-Boot. */
  get storage(): UBootStorage {
    if (!this.board.storage) throw new LabError('deploy', `board ${this.board.name} has no [storage] table: nothing to deploy to`);
    this.storageDriver ??= new UBootStorage(this.uboot, this.board.storage, this.board.timeouts.deploy);
    return this.storageDriver;
  }

  /** Deploys images to the board's storage (loaded with `methods`), in one timed phase. */
  async deploy(steps: ((t: DeployTools) => Promise<DeployFigures>)[], methods?: LoadMethod[]): Promise<void> {
    if (!steps.length) return;
    const tools: DeployTools = { uboot: this.uboot, storage: this.storage, load: (img, a) => this.loadImage(img, a, methods), timeoutS: this.board.timeouts.deploy };
    await this.phase('deploy', async () => {
      for (const step of steps) {
        const f = await step(tools);
        this.deploys.push(f);
        this.log(`deployed ${path.basename(f.image)} to ${f.target}: ${f.bytes} bytes in ${f.seconds.toFixed(2)} s (load ${f.load_s.toFixed(2)}, write ${f.write_s.toFixed(2)}, read back ${f.verify_s.toFixed(2)}), CRC-32 ${f.crc32} verified`);
      }
    });
  }

  /** Loads the images (initrd last, dtb in between) and returns the boot command. */
  async load(images: CaseImages, methods: LoadMethod[] = this.board.load.methods): Promise<string> {
    const l = this.board.load;
    const host: [HostImage, string][] = [[hostImage('kernel', images.kernel), l.kernel_addr]];
    if (images.dtb) host.push([hostImage('dtb', images.dtb), l.dtb_addr]);
    if (images.initrd) host.push([hostImage('initrd', images.initrd), l.initrd_addr]);
    await this.phase('load', async () => {
      for (const [img, addr] of host) {
        const f = await this.loadImage(img, addr, methods);
        this.log(`loaded ${img.role} ${path.basename(img.path)} by ${f.method}: ${(f.bytes / 1e6).toFixed(1)} MB in ${f.seconds.toFixed(2)} s${f.retries ? `, ${f.retries} block(s) resent` : ''}${f.verified ? ', CRC-32 verified' : ''}`);
      }
    });
    const initrd = host.find(([i]) => i.role === 'initrd');
    const rd = initrd ? `${l.initrd_addr}:${hex(initrd[0].size)}` : '-';
    const fdt = images.dtb ? l.dtb_addr : l.fdt_fallback;
    return `${this.board.uboot.boot_cmd} ${l.kernel_addr} ${rd} ${fdt}`;
  }

  /** Runs a boot: the given commands, the last of which hands over to the guest. */
  async boot(cmds: string[]): Promise<void> {
    await this.phase('boot', async () => {
      for (const cmd of cmds.slice(0, -1)) await this.uboot.run(cmd, { phase: 'boot' });
      await this.uboot.boot(cmds[cmds.length - 1]);
    });
  }

  /** Power off, close the console, remove staged files. Never throws; a second call
   * waits for the first to finish. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    // The console closes first: a pty or USB-UART that vanishes on power-off is expected
    // then, not a lost port.
    for (const [what, step] of [
      ['console close', () => this.con?.close()],
      ['power off', () => this.power.off()],
      ['staged images', async () => this.loaders.forEach((l) => l.cleanup())],
      ['tftp folder', async () => this.tmpTftp && rmSync(this.tmpTftp, { recursive: true, force: true })],
    ] as const) {
      try {
        await step();
        if (what === 'power off') this.transcript.note('power off');
      } catch (e) {
        this.transcript.note(`${what} failed: ${(e as Error).message}`);
        this.log(`warning: ${what} failed: ${(e as Error).message}`);
      }
    }
    this.transcript.close();
  }
}
