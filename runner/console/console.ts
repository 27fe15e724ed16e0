// The console protocol the U-Boot driver and the guest watch talk to (labgrid's
// ConsoleProtocol): write, type, expect. It never knows which kind of port is below.
import { literal } from '../config/regex.js';
import { expect, LineEngine, type Consumer, type ExpectMatch, type ExpectOptions } from './expect.js';
import type { ConsolePort } from './port.js';
import type { Transcript } from './transcript.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Console {
  readonly lines = new LineEngine();
  private lost: Error | null = null;
  private lostListeners = new Set<(err: Error) => void>();
  /** When the last byte arrived (for waiting until the line is quiet). */
  lastRx = 0;
  private diverted: ((chunk: Buffer) => void) | null = null;

  constructor(private port: ConsolePort, readonly transcript: Transcript) {
    port.onData((chunk) => {
      this.lastRx = performance.now();
      transcript.raw(chunk);
      if (this.diverted) this.diverted(chunk);
      else this.lines.feed(chunk);
    });
    this.lines.observe((line) => transcript.line(line));
    port.onLost((err) => {
      this.lost = err;
      transcript.note(err.message);
      for (const fn of this.lostListeners) fn(err);
    });
  }

  get name(): string {
    return this.port.name;
  }

  async write(data: string | Buffer): Promise<void> {
    if (this.lost) throw this.lost;
    await this.port.write(data);
  }

  /**
   * Hands the incoming bytes to a binary protocol (YMODEM) instead of the line engine,
   * until the returned function is called. The raw transcript still records them.
   */
  divert(fn: (chunk: Buffer) => void): () => void {
    this.diverted = fn;
    // What already arrived after the last complete line is the protocol's first bytes.
    const early = this.lines.takePartial();
    if (early) fn(Buffer.from(early, 'latin1'));
    return () => {
      this.diverted = null;
    };
  }

  async setBaud(baud: number): Promise<void> {
    if (!this.port.setBaud) throw new Error(`the console ${this.port.name} cannot change its speed`);
    this.transcript.note(`console speed ${baud} baud`);
    await this.port.setBaud(baud);
  }

  /** Types text, pacing characters by `delayMs` (0: all at once). */
  async type(text: string, delayMs: number): Promise<void> {
    if (delayMs <= 0) return this.write(text);
    for (const ch of text) {
      await this.write(ch);
      await sleep(delayMs);
    }
  }

  /**
   * Types `text` (no Enter) and checks that it comes back as the echo on the current
   * line: a dropped or mangled character shows here, before the command runs.
   */
  async typeChecked(text: string, delayMs: number, echoTimeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const echo = new RegExp(`${literal(text).source}$`);
    const pending = this.expect([echo], { timeoutMs: echoTimeoutMs + text.length * delayMs, partial: true, onTimeout: () => new Error('echo'), signal });
    await this.type(text, delayMs);
    try {
      const m = await pending;
      return m.partial;
    } catch (e) {
      if ((e as Error).message === 'echo') return false;
      throw e;
    }
  }

  expect(patterns: RegExp[], opts: ExpectOptions): Promise<ExpectMatch> {
    if (this.lost) return Promise.reject(this.lost);
    // A port that vanishes while we wait ends the wait with a lab error at once.
    const ac = new AbortController();
    const onLost = (err: Error) => ac.abort(err);
    this.lostListeners.add(onLost);
    const signal = opts.signal ? AbortSignal.any([opts.signal, ac.signal]) : ac.signal;
    return expect(this.lines, patterns, { ...opts, signal }).finally(() => this.lostListeners.delete(onLost));
  }

  /** Installs a long-lived consumer (the guest watch); returns its remover. */
  consume(c: Consumer): () => void {
    this.lines.consume(c);
    return () => this.lines.release(c);
  }

  /** Waits until nothing has arrived for `quietMs` (or `maxMs` passed). */
  async settle(quietMs: number, maxMs: number): Promise<void> {
    const end = performance.now() + maxMs;
    while (performance.now() < end && performance.now() - this.lastRx < quietMs) await sleep(5);
  }

  async close(): Promise<void> {
    await this.port.close();
  }
}

