// U-Boot's storage commands for one block device and its FAT partition, through the U-Boot
// driver (never the serial port). Each answer is checked: U-Boot's FAT commands print a
// byte count, its block commands a block count and "OK"; anything else is a lab error that
// quotes U-Boot. File and folder names are quoted for U-Boot's shell (hushCommand()):
// blanks, `$` and quotes in them reach the FAT commands as they are.
import type { Board } from '../config/board.js';
import { LabError } from '../errors.js';
import { arg, hushCommand, type UBoot } from './driver.js';

export type StorageConfig = NonNullable<Board['storage']>;

export class UBootStorage {
  private prepared = false;
  private knownDirs = new Set<string>(['/']);

  constructor(
    private uboot: UBoot,
    readonly cfg: StorageConfig,
    private timeoutS: number,
  ) {}

  /** `virtio 0:1`: the FAT partition, as U-Boot's fat* commands want it. */
  get partition(): string {
    return `${this.cfg.interface} ${this.cfg.device}:${this.cfg.partition}`;
  }

  get device(): string {
    return `${this.cfg.interface} ${this.cfg.device}`;
  }

  private run(cmd: string, allowFail = false) {
    return this.uboot.run(cmd, { phase: 'deploy', timeoutS: this.timeoutS, allowFail });
  }

  /** Runs the board's prepare commands once (`virtio scan`, `mmc dev 1`, `usb start`). */
  async prepare(): Promise<void> {
    if (this.prepared) return;
    for (const cmd of this.cfg.prepare_cmds) await this.run(cmd);
    this.prepared = true;
  }

  /** Creates the folders above `file` that do not exist yet: U-Boot's fatwrite does not
   * ("/guest: doesn't exist (-2)"). */
  async makeFolders(file: string): Promise<void> {
    const parts = file.split('/').filter(Boolean).slice(0, -1);
    let dir = '';
    for (const p of parts) {
      dir += `/${p}`;
      if (this.knownDirs.has(dir)) continue;
      const ls = await this.run(hushCommand('fatls', this.partition, arg(dir)), true);
      if (ls.status !== 0) await this.run(hushCommand('fatmkdir', this.partition, arg(dir)));
      this.knownDirs.add(dir);
    }
  }

  async fatWrite(addr: string, file: string, size: number): Promise<void> {
    const res = await this.run(
      hushCommand('fatwrite', this.partition, addr, arg(file), `0x${size.toString(16)}`),
      true,
    );
    const n = res.output.map((l) => /(\d+) bytes written/.exec(l)).find(Boolean);
    if (res.status !== 0 || !n)
      throw new LabError('deploy', `fatwrite of ${file} to ${this.partition} failed: ${said(res.output)}`);
    if (Number(n[1]) !== size)
      throw new LabError('deploy', `fatwrite of ${file} wrote ${n[1]} bytes, the image has ${size}`);
  }

  /** Reads a file back; returns its size as U-Boot read it. */
  async fatLoad(addr: string, file: string): Promise<number> {
    const res = await this.run(hushCommand('fatload', this.partition, addr, arg(file)), true);
    const n = res.output.map((l) => /(\d+) bytes read/.exec(l)).find(Boolean);
    if (res.status !== 0 || !n)
      throw new LabError('deploy', `fatload of ${file} from ${this.partition} failed: ${said(res.output)}`);
    return Number(n[1]);
  }

  /** Writes or reads `count` blocks at block `first` of the whole device. */
  async blocks(op: 'write' | 'read', addr: string, first: number, count: number): Promise<void> {
    await this.run(`${this.cfg.interface} dev ${this.cfg.device}`);
    const res = await this.run(
      `${this.cfg.interface} ${op} ${addr} 0x${first.toString(16)} 0x${count.toString(16)}`,
      true,
    );
    const ok = res.output.some(
      (l) =>
        new RegExp(`(\\d+) blocks ${op === 'write' ? 'written' : 'read'}: OK`).test(l) &&
        Number(/(\d+) blocks/.exec(l)![1]) === count,
    );
    if (res.status !== 0 || !ok)
      throw new LabError(
        'deploy',
        `${this.device} ${op} of ${count} blocks at block ${first} failed: ${said(res.output)}`,
      );
  }
}

/** U-Boot's output lines for a message: the non-empty ones, trimmed, joined. */
export const said = (output: string[]) =>
  output
    .filter((l) => l.trim())
    .map((l) => l.trim())
    .join(' | ') || 'no output';
