// The virtual lab board's power: "on" is a QEMU process running Debian's U-Boot, "off" is
// ending it. QEMU is started paused (-S) so its pty exists and our console is attached
// before the first instruction runs: no banner byte and no autoboot countdown is missed,
// which is the race real boards give us and the virtual one need not.
import { appendFileSync, createWriteStream } from 'node:fs';
import { execa, type ResultPromise } from 'execa';
import { LabError } from '../errors.js';
import type { Power } from './power.js';

export interface QemuPowerConfig {
  binary: string;
  args: string[];
}

const PTY_LINE = /char device redirected to (\/dev\/pts\/\d+)/;

export class QemuPower implements Power {
  private proc: ResultPromise | null = null;
  private exited: Promise<unknown> | null = null;

  constructor(private cfg: QemuPowerConfig, private vars: Record<string, string>, private logFile: string) {}

  async attach(): Promise<{ consolePath?: string }> {
    await this.off();
    const args = [...this.cfg.args.map((a) => a.replace(/\{(\w+)\}/g, (m, k: string) => this.vars[k] ?? m)), '-S', '-monitor', 'stdio'];
    appendFileSync(this.logFile, `$ ${this.cfg.binary} ${args.join(' ')}\n`);
    let proc: ResultPromise;
    try {
      proc = execa(this.cfg.binary, args, { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', reject: false, buffer: false, cleanup: true, forceKillAfterDelay: 2000 });
    } catch (e) {
      throw new LabError('power', `cannot start ${this.cfg.binary}: ${(e as Error).message}`);
    }
    this.proc = proc;
    this.exited = proc.then(() => undefined, () => undefined);
    const log = createWriteStream(this.logFile, { flags: 'a' });
    proc.stderr!.pipe(log);
    let seen = '';
    const ptyPath = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new LabError('power', `${this.cfg.binary} did not report its serial pty within 10 s (see power.log)`)), 10_000);
      proc.stdout!.on('data', (d: Buffer) => {
        appendFileSync(this.logFile, d);
        seen += d.toString();
        const m = PTY_LINE.exec(seen);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      void this.exited!.then(() => {
        clearTimeout(timer);
        reject(new LabError('power', `${this.cfg.binary} exited at start (exit ${proc.exitCode ?? '?'}): ${seen.trim().split('\n').pop() ?? ''} (see power.log; is qemu-system-arm installed?)`));
      });
    }).catch(async (e) => {
      await this.off();
      throw e;
    });
    return { consolePath: ptyPath };
  }

  async on(): Promise<void> {
    if (!this.proc) throw new LabError('power', 'QEMU is not attached');
    this.proc.stdin!.write('cont\n');
  }

  async off(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    await this.exited;
  }
}
