// The virtual lab board's power: "on" is a QEMU process running Debian's U-Boot, "off" is
// ending it. QEMU is started paused (-S) so its pty exists and our console is attached
// before the first instruction runs: no banner byte and no autoboot countdown is missed,
// which is the race real boards give us and the virtual one need not.
//
// QEMU must never outlive the runner, even a runner killed with SIGKILL (no handler runs
// then): it is started under util-linux's `setpriv --pdeathsig KILL`, so the kernel ends
// it when the runner's process goes.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, mkdtempSync, openSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { LabError } from '../../errors.js';
import { defineSwitch, type PowerAction, type PowerSwitch, powerSettings } from '../base.js';
import { type Attached, FASTBOOT_UDP, type PowerContext, Resources, TFTP_ROOT } from '../registry.js';
import { owner, sweepLeftovers } from '../leftovers.js';
import { ensureVirtualDisk } from './virtual-disk.js';
import { projectRoot } from '../../config/paths.js';

const settings = powerSettings({
  binary: z.string().default('qemu-system-aarch64'),
  /** QEMU arguments; `{tftp_dir}` becomes the case's TFTP folder (QEMU's own TFTP server
   * serves it), `{disk}` the SD card image, `{out_dir}` the case's output folder,
   * `{fastboot_port}` a free UDP port of this host (forwarded to U-Boot's fastboot),
   * `{board_dir}` the board file's folder (firmware kept beside it), `{runner_dir}` the
   * runner's own folder (the firmware its fixtures build). Must
   * contain a pty chardev for the console (`-chardev pty,id=s0 -serial chardev:s0`). */
  args: z
    .array(z.string())
    .min(1)
    .refine((a) => a.some((x) => /^pty,/.test(x)), {
      message: 'the virtual board\'s console must be a pty chardev ("-chardev", "pty,id=s0", "-serial", "chardev:s0")',
    }),
  /** The virtual board's SD card (`{disk}` in args): a raw image with one FAT32 partition,
   * made when missing. Without `path`, each case gets a fresh one in its output folder. */
  disk: z
    .object({
      path: z.string().min(1).optional(),
      size_mib: z.number().int().min(40).default(64),
    })
    .strict()
    .optional(),
  /** A fixed path the pty is linked to (`{out_dir}` allowed), for programs that need one
   * before QEMU runs: ser2net's connector line, a labgrid place. */
  pty_link: z.string().min(1).optional(),
});

type Settings = z.infer<typeof settings>;
const PTY_LINE = /char device redirected to (\/dev\/pts\/\d+)/;

let setprivPath: string | null | undefined;
function setpriv(): string | null {
  if (setprivPath === undefined) setprivPath = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p)) ?? null;
  return setprivPath;
}

/** A UDP port of this host that nothing uses now (QEMU's hostfwd to U-Boot's fastboot). */
export async function freeUdpPort(): Promise<number> {
  const { createSocket } = await import('node:dgram');
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export class QemuPower implements PowerSwitch {
  private proc: ChildProcess | null = null;
  /** Whether the machine runs (`cont` given): paused at start, as a board not yet on. */
  private running = false;
  private exited: Promise<void> | null = null;
  private tftp?: string;
  private link?: string;
  /** Our own descriptor of the pty, opened the moment QEMU names it (see attach()). */
  private holder?: number;

  constructor(
    private cfg: Settings,
    private ctx: PowerContext,
  ) {}

  get describe(): string {
    return `the virtual board's ${this.cfg.binary}`;
  }

  private vars(): Record<string, string> {
    const disk = this.cfg.disk;
    const diskPath = disk
      ? ensureVirtualDisk(
          disk.path
            ? path.resolve(path.dirname(this.ctx.board.file), disk.path)
            : path.join(this.ctx.outDir, 'virtual-sd.img'),
          disk.size_mib,
        )
      : '';
    return {
      ...this.ctx.vars,
      tftp_dir: this.tftp!,
      disk: diskPath,
      out_dir: this.ctx.outDir,
      board_dir: path.dirname(this.ctx.board.file),
      runner_dir: projectRoot,
      ...(this.udpPort ? { fastboot_port: String(this.udpPort) } : {}),
    };
  }

  /** A UDP port of this host for `{fastboot_port}` (QEMU's hostfwd). */
  private udpPort?: number;

  async attach(a: PowerAction): Promise<Attached> {
    await this.stop();
    for (const name of sweepLeftovers(os.tmpdir(), 'hil-tftp-'))
      this.ctx.log(`removed ${name}: the TFTP folder of a runner that was killed`);
    this.tftp = mkdtempSync(path.join(os.tmpdir(), `hil-tftp-${owner()}-`));
    this.udpPort = this.cfg.args.some((x) => x.includes('{fastboot_port}')) ? await freeUdpPort() : undefined;
    const vars = this.vars();
    const fill = (x: string) => x.replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m);
    const args = [...this.cfg.args.map(fill), '-S', '-monitor', 'stdio'];
    const guard = setpriv();
    const [cmd, argv] = guard
      ? [guard, ['--pdeathsig', 'KILL', '--', this.cfg.binary, ...args]]
      : [this.cfg.binary, args];
    a.write(`$ ${this.cfg.binary} ${args.join(' ')}\n`);
    const proc = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    proc.once('error', () => undefined);
    if (proc.pid) a.write(`[pid ${proc.pid}]\n`);
    proc.stderr!.on('data', (d: Buffer) => a.write(d.toString()));
    let said = ''; // QEMU's complaints, for the message when it ends at start
    proc.stderr!.on('data', (d: Buffer) => (said = (said + d.toString()).slice(-2000)));
    const secs = a.timeoutS;
    let seen = '';
    let named = false;
    let asked = false;
    const pty = await new Promise<string>((resolve, reject) => {
      // The action's time limit (the base's): QEMU's own words for it.
      const late = () =>
        reject(
          new LabError('power', `${this.cfg.binary} did not report its serial pty within ${secs} s (see power.log)`),
        );
      if (a.signal.aborted) late();
      a.signal.addEventListener('abort', late, { once: true });
      const timer = { done: () => a.signal.removeEventListener('abort', late) };
      proc.stdout!.on('data', (d: Buffer) => {
        a.write(d.toString());
        seen += d.toString();
        const m = named ? null : PTY_LINE.exec(seen);
        if (m) {
          named = true;
          // QEMU 7.2's pty backend reads input only once it has seen the other side open:
          // at start-up, or at its next once-a-second check. Found closed at start-up (a
          // console that takes 30 ms to open is too late), the board ignores every key for
          // up to a second, the countdown's among them. So the pty is opened here, before
          // QEMU looks, and held until the console has it (on()).
          try {
            this.holder = openSync(m[1], constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
          } catch {
            this.holder = -1; // the console's own open reports what is wrong
          }
        }
        // QEMU's monitor answers only from its main loop, which runs once every device is
        // made: a board file whose arguments QEMU refuses (a clashing id, a device it
        // lacks) ends QEMU before the answer, and is reported in QEMU's own words, not as
        // a console that is not there.
        if (named && !asked && /\(qemu\)/.test(seen)) {
          asked = true;
          proc.stdin!.write('info status\n');
        }
        if (asked && /VM status/.test(seen)) {
          timer.done();
          resolve(PTY_LINE.exec(seen)![1]!);
        }
      });
      void this.exited!.then(() => {
        timer.done();
        const last = (said.trim() || seen.trim()).split('\n').pop() ?? '';
        reject(
          new LabError(
            'power',
            `${this.cfg.binary} exited at start (exit ${proc.exitCode ?? proc.signalCode ?? '?'})${last ? `: ${last}` : ''} (see power.log; ${
              proc.exitCode === 127 || (/No such file or directory/.test(last) && !named)
                ? 'is qemu-system-arm installed? run scripts/setup'
                : 'check the [power] args of the board file'
            })`,
          ),
        );
      });
    }).catch(async (e) => {
      await this.stop();
      throw e;
    });
    if (this.cfg.pty_link) {
      this.link = fill(this.cfg.pty_link);
      rmSync(this.link, { force: true });
      symlinkSync(pty, this.link);
    }
    const provides = new Resources()
      .set(TFTP_ROOT, this.tftp)
      .set(FASTBOOT_UDP, this.udpPort ? { host: '127.0.0.1', port: this.udpPort } : undefined);
    return { consolePath: pty, provides, pids: proc.pid ? [proc.pid] : [] };
  }

  async on(): Promise<void> {
    if (!this.proc) throw new LabError('power', 'QEMU is not attached');
    this.release();
    this.proc.stdin!.write('cont\n');
    this.running = true;
  }

  /** QEMU's monitor resets the machine; the pty, and the console on it, stay. With a delay,
   * the machine is stopped that long first (the board off). */
  async cycle(delayS: number, a: PowerAction): Promise<void> {
    const proc = this.proc;
    if (!proc) throw new LabError('power', 'QEMU is not attached');
    if (delayS > 0) {
      proc.stdin!.write('stop\n');
      this.running = false;
      await sleep(delayS * 1000, undefined, { signal: a.signal });
      proc.stdin!.write('system_reset\ncont\n');
      this.running = true;
      return;
    }
    proc.stdin!.write('system_reset\n');
  }

  /** On while QEMU runs the machine; off before `cont` and once QEMU is ended. */
  async state(): Promise<'on' | 'off'> {
    const proc = this.proc;
    return proc && proc.exitCode === null && proc.signalCode === null && this.running ? 'on' : 'off';
  }

  /** Closes our hold on the pty (the console has its own descriptor by now). */
  private release(): void {
    if (this.holder !== undefined && this.holder >= 0) closeSync(this.holder);
    this.holder = undefined;
  }

  async off(): Promise<void> {
    await this.stop();
  }

  /** No QEMU was started (a build failed first): nothing to switch off. */
  idle(): boolean {
    return !this.proc && !this.tftp;
  }

  /** Ends QEMU and removes what it was given (its TFTP folder, the pty's link). */
  private async stop(): Promise<void> {
    this.release();
    this.running = false;
    const proc = this.proc;
    this.proc = null;
    if (proc) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const hard = setTimeout(() => proc.kill('SIGKILL'), 2000);
        await this.exited;
        clearTimeout(hard);
      }
    }
    if (this.link) rmSync(this.link, { force: true });
    if (this.tftp) rmSync(this.tftp, { recursive: true, force: true });
    this.link = this.tftp = undefined;
  }
}

export const qemuPower = defineSwitch({
  kind: 'qemu',
  summary: 'the virtual board: QEMU running U-Boot, its UART on a pty (binary, args, disk)',
  notes:
    "`args` may hold `{tftp_dir}` (QEMU's own TFTP server serves it), `{disk}` (the SD card image, made when " +
    'missing), `{fastboot_port}`, `{out_dir}`, `{board_dir}`, `{runner_dir}`; `pty_link`: a fixed path for ' +
    "ser2net's connector; a reset is QEMU's `system_reset`",
  settings,
  create: (s, ctx) => new QemuPower(s, ctx),
});
