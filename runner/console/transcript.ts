// The console transcript, written as it arrives so a crash, a timeout or Ctrl-C still
// leaves the whole log behind: console.log holds the raw bytes, console.timed.log each
// line with its time since power-on and the runner's own actions marked with "##".
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { longestSecret, maskBytes, redact } from '../config/env.js';
import path from 'node:path';

export class Transcript {
  private rawFd: number;
  private timedFd: number;
  private t0 = performance.now();
  private pending = '';
  /** The tail of the raw stream kept back while secrets are about (see raw()). */
  private held = '';
  readonly rawPath: string;
  readonly timedPath: string;

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.rawPath = path.join(dir, 'console.log');
    this.timedPath = path.join(dir, 'console.timed.log');
    this.rawFd = openSync(this.rawPath, 'w');
    this.timedFd = openSync(this.timedPath, 'w');
    this.note(`transcript started ${new Date().toISOString()}`);
  }

  /** Seconds since the transcript started (power-on, in a run). */
  elapsed(): number {
    return (performance.now() - this.t0) / 1000;
  }

  private stamp(): string {
    return `[${this.elapsed().toFixed(3).padStart(9)}] `;
  }

  raw(chunk: Buffer): void {
    if (this.rawFd < 0) return;
    // writeSync: the bytes reach the kernel before the next chunk is read, whatever happens
    // next. With secrets about (a password typed at a prompt is echoed), they are masked,
    // and the last few bytes wait for the next chunk: a secret split across two reads is
    // masked whole.
    const keep = longestSecret() - 1;
    if (keep < 0 && !this.held) return void writeSync(this.rawFd, chunk);
    const text = maskBytes(this.held + chunk.toString('latin1'));
    const cut = Math.max(0, text.length - Math.max(0, keep));
    writeSync(this.rawFd, Buffer.from(text.slice(0, cut), 'latin1'));
    this.held = text.slice(cut);
  }

  /** A console line: kept until flush(), so one read's lines cost one write. */
  line(text: string): void {
    this.pending += `${this.stamp()}${redact(text)}\n`;
  }

  /** Writes the lines of the read just handled (the console calls it after each read). */
  flush(): void {
    if (this.pending && this.timedFd >= 0) writeSync(this.timedFd, this.pending);
    this.pending = '';
  }

  /** The runner's own actions, so a reader sees what was typed and when. */
  note(text: string): void {
    this.line(`## ${text}`);
    this.flush();
  }

  close(): void {
    this.flush();
    if (this.held && this.rawFd >= 0) writeSync(this.rawFd, Buffer.from(maskBytes(this.held), 'latin1'));
    this.held = '';
    for (const fd of [this.rawFd, this.timedFd]) if (fd >= 0) closeSync(fd);
    this.rawFd = this.timedFd = -1;
  }
}
