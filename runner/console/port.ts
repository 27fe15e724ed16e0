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
  close(): Promise<void>;
  /** Changes the line speed (U-Boot's `loady ADDR BAUD` switches for the transfer). */
  setBaud?(baud: number): Promise<void>;
}
