// The console protocol's lowest layer: "bytes in, bytes out, close". A USB-UART, the
// virtual board's pty, a ser2net socket or an SSH tunnel all fit behind it.
export interface ConsolePort {
  readonly name: string;
  write(data: string | Buffer): Promise<void>;
  onData(fn: (chunk: Buffer) => void): void;
  /** Called once when the port goes away without close() (adapter unplugged) for good. */
  onLost(fn: (err: Error) => void): void;
  /** What the port did on its own that a reader of the transcript should know (it went
   * away and came back). */
  onNote?(fn: (text: string) => void): void;
  /** Called with true when the port went away and is being waited for (runner/console/
   * reattach.ts), and with false when it is back: a silence meanwhile is the lab's, not the
   * board's. */
  onAway?(fn: (away: boolean) => void): void;
  close(): Promise<void>;
  /** Changes the line speed (U-Boot's `loady ADDR BAUD` switches for the transfer). */
  setBaud?(baud: number): Promise<void>;
}

/**
 * What every port does with its reader and its loss, in one place: bytes that arrive before
 * the console listens are kept for it (a server's greeting, the first banner bytes); the
 * loss is told once, and not at all once close() began (then it is expected).
 */
export class PortEvents {
  private handler: ((chunk: Buffer) => void) | null = null;
  private early: Buffer[] = [];
  private lostFns: ((e: Error) => void)[] = [];
  private lostWith: Error | null = null;
  closing = false;

  deliver(chunk: Buffer): void {
    if (this.handler) this.handler(chunk);
    else this.early.push(chunk);
  }

  readonly onData = (fn: (chunk: Buffer) => void): void => {
    this.handler = fn;
    for (const d of this.early.splice(0)) fn(d);
  };

  /** A listener that comes after the loss (the port went while the console was being made)
   * hears of it at once. */
  readonly onLost = (fn: (e: Error) => void): void => {
    this.lostFns.push(fn);
    if (this.lostWith) fn(this.lostWith);
  };

  /** Tells the listeners the port is lost, unless it was closing; whether it told them. */
  lose(e: Error): boolean {
    if (this.closing) return false;
    this.closing = true;
    this.lostWith = e;
    for (const fn of this.lostFns) fn(e);
    return true;
  }
}
