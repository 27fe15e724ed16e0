// The console transcript, written as it arrives so a crash, a timeout or Ctrl-C still
// leaves the whole log behind: console.log holds the raw bytes, console.timed.log each
// line with its time since power-on and the runner's own actions marked with "##".
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';

export class Transcript {
  private rawFd: number;
  private timedFd: number;
  private t0 = performance.now();
  private pending = '';
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
    // writeSync: the bytes reach the kernel before the next chunk is read, whatever happens next.
    if (this.rawFd >= 0) writeSync(this.rawFd, chunk);
  }

  /** A console line: kept until flush(), so one read's lines cost one write. */
  line(text: string): void {
    this.pending += `${this.stamp()}${text}\n`;
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
    for (const fd of [this.rawFd, this.timedFd]) if (fd >= 0) closeSync(fd);
    this.rawFd = this.timedFd = -1;
  }
}
