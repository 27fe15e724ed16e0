// The console protocol the U-Boot driver and the guest watch talk to (labgrid's
// ConsoleProtocol): write, type, expect. It never knows which kind of port is below.
// A port lost for good (it went away and did not come back in time) is an event: every
// expect ends with it at once, and `lostSignal` carries it to whatever else waits (the
// board session aborts the running phase with it).
import { literal } from '../config/regex.js';
import { expect, LineEngine, type Consumer, type ExpectMatch, type ExpectOptions, type LineMatcher } from './expect.js';
import type { ConsolePort } from './port.js';
import { LabError } from '../errors.js';
import type { Transcript } from './transcript.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The console went away for good: a lab error, named by the port. */
export class ConsoleLost extends LabError {
  override name = 'ConsoleLost';
  constructor(
    readonly port: string,
    message: string,
  ) {
    super('console', message);
  }
}

/** What the board printed last, and how long ago, for a timeout's reason. */
export function lastOutput(con: Console): string {
  const line = con.lines
    .recent(5)
    .map((l) => l.trim())
    .filter(Boolean)
    .pop();
  if (!line) return 'nothing printed yet';
  const ago = (performance.now() - con.lastRx) / 1000;
  const shown = line.length > 200 ? `${line.slice(0, 200)}...` : line;
  return `last output ${ago.toFixed(1)} s ago: ${JSON.stringify(shown)}`;
}

export class Console {
  readonly lines = new LineEngine();
  private lost: Error | null = null;
  private lostListeners = new Set<(err: Error) => void>();
  private lostAc = new AbortController();
  /** Aborted, with the ConsoleLost error, when the port is lost for good. */
  readonly lostSignal = this.lostAc.signal;
  /** When the last byte arrived (for waiting until the line is quiet). */
  lastRx = 0;
  /** Since when the port is away and being waited for (performance.now() ms); null: here. */
  awaySince: number | null = null;
  /** When the port last came back from being away (0: never went). */
  backAt = 0;
  /** Bytes read from the port, every one of them in console.log. */
  bytesRead = 0;
  private diverted: ((chunk: Buffer) => void) | null = null;

  constructor(
    private port: ConsolePort,
    readonly transcript: Transcript,
  ) {
    port.onData((chunk) => {
      this.lastRx = performance.now();
      this.bytesRead += chunk.length;
      if (this.diverted) {
        // A binary protocol (YMODEM) answers from inside its handler: the next block leaves
        // before console.log's write (tens of microseconds, on the turnaround of every block).
        try {
          this.diverted(chunk);
        } finally {
          transcript.raw(chunk);
        }
      } else {
        transcript.raw(chunk);
        this.lines.feed(chunk);
      }
      transcript.flush();
    });
    this.lines.observe((line) => transcript.line(line));
    port.onNote?.((text) => transcript.note(text));
    port.onAway?.((away) => {
      if (away) this.awaySince = performance.now();
      else {
        this.awaySince = null;
        this.backAt = performance.now();
      }
    });
    port.onLost((e) => {
      // Whatever the driver says, a port that went away is the lab's trouble.
      const err = e instanceof ConsoleLost ? e : new ConsoleLost(port.name, e.message);
      this.lost = err;
      transcript.note(err.message);
      for (const fn of this.lostListeners) fn(err);
      this.lostAc.abort(err);
    });
  }

  /** The error the port was lost with, if it was. */
  get lostWith(): Error | null {
    return this.lost;
  }

  /**
   * When the console last showed the board alive: its last byte, or the moment the port
   * came back from being away (what the board said meanwhile is unknown); now, while the
   * port is away. A silence is counted from here.
   */
  quietSince(): number {
    return this.awaySince !== null ? performance.now() : Math.max(this.lastRx, this.backAt);
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
    try {
      const m = await this.typeExpecting(text, delayMs, [echo], {
        timeoutMs: echoTimeoutMs + text.length * delayMs,
        partial: true,
        onTimeout: () => new Error('echo'),
        signal,
      });
      return m.partial;
    } catch (e) {
      if ((e as Error).message === 'echo') return false;
      throw e;
    }
  }

  /**
   * Types `text` with an expect already listening (the answer may begin before the typing
   * ends). Whatever ends the wait while the keys go out (Ctrl-C, a timeout) is kept for the
   * caller, never left an unhandled rejection that ends the process; a failed write ends
   * the wait at once.
   */
  async typeExpecting(
    text: string,
    delayMs: number,
    patterns: readonly LineMatcher[],
    opts: ExpectOptions,
  ): Promise<ExpectMatch> {
    const typing = new AbortController();
    const pending = this.expect(patterns, {
      ...opts,
      signal: opts.signal ? AbortSignal.any([opts.signal, typing.signal]) : typing.signal,
    });
    pending.catch(() => undefined);
    try {
      await this.type(text, delayMs);
    } catch (e) {
      typing.abort(e);
      throw e;
    }
    return pending;
  }

  expect(patterns: readonly LineMatcher[], opts: ExpectOptions): Promise<ExpectMatch> {
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

  /** Closes the port; the line the board was printing when it ended (a prompt, a line cut
   * off) joins the timed transcript, as console.log has it. */
  async close(): Promise<void> {
    await this.port.close();
    const rest = this.lines.unfinished;
    if (rest.trim()) this.transcript.line(rest);
    this.transcript.flush();
  }
}
