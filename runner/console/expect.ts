// The expect engine: bytes in, lines out, patterns matched per line.
//
// Why line by line: console patterns in this ecosystem are line-anchored (`(?m)^guest test
// pass!\s*$`), and matching a whole history or a sliding byte window both rescans text and
// lets a prompt string inside command output (`crc32 ... ==> 1234` contains "=> ") match
// in the middle of a line. Each line is tested once, when it completes; the incomplete
// last line (a prompt has no newline) is tested only by consumers that ask for it.
//
// One consumer at a time takes the unconsumed lines (an expect(), the guest watch); when
// none is installed lines wait in a bounded backlog, so the next consumer still sees what
// arrived between two waits. Observers (the timed transcript) see every line.
//
// Memory is bounded whatever the console brings (a guest flooding it at full speed for an
// hour): the engine keeps a bounded number of lines AND of characters (the backlog, the
// lines an expect() hands back as `before`, the last lines for error reports), never the
// stream. The transcript on disk is the complete record.
import { StringDecoder } from 'node:string_decoder';

export interface Consumer {
  /** Called with each unconsumed complete line; return true when done (line consumed). */
  line(line: string): boolean;
  /**
   * Called first with all the complete lines one read brought: false means none of them
   * can matter to this consumer, and they are all taken without a call per line (a burst
   * of console output costs one pattern test, not one per line).
   */
  burst?(lines: readonly string[]): boolean;
  /** Called with the unconsumed part of the incomplete last line; true consumes it. */
  partial?(text: string): boolean;
}

// Terminal control sequences: colours (ArceOS and Axvisor log in colour), cursor queries
// (busybox's shell follows its prompt with ESC[6n). Patterns are written against what a
// person sees on a terminal, so these are removed before matching; console.log keeps them.
const ESCAPES = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])/g;
/** A sequence cut off at the end of what has arrived so far (ESC[6 of ESC[6n): the rest is
 * in the next read, and the line still being printed must not show its first half. */
const CUT_ESCAPE = /\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*)?$/;
export const stripEscapes = (s: string) =>
  s.indexOf('\x1b') >= 0 ? s.replace(ESCAPES, '').replace(CUT_ESCAPE, '') : s;
/** What a terminal would show of a line: the text after the last carriage return, no escapes. */
const screen = (s: string) => stripEscapes(s.indexOf('\r') >= 0 ? s.slice(s.lastIndexOf('\r') + 1) : s);

const MAX_LINE = 64 * 1024; // a line longer than this (binary noise) is cut into pieces
const MAX_BACKLOG = 20_000; // lines kept for the next consumer...
const MAX_BACKLOG_CHARS = 4 * 1024 * 1024; // ...and characters: the oldest go first
const RECENT = 200; // lines kept for error reports ("last lines printed")
const MAX_RECENT_LINE = 4096; // characters of one of them kept (a report quotes, it does not archive)
/** What expect() keeps of the lines before its match (a U-Boot command's output). */
export const MAX_BEFORE = 2000;
export const MAX_BEFORE_CHARS = 1024 * 1024;

/**
 * A copy of `s` that holds no reference to the read it was cut from. V8 keeps a slice as a
 * view of its parent string: one short line kept from a 64 KiB read would keep all of it.
 */
const own = (s: string): string => (s.length > 12 ? JSON.parse(JSON.stringify(s)) : s);

export class LineEngine {
  private decoder = new StringDecoder('utf8');
  private partialText = '';
  private partialConsumed = 0;
  private backlog: string[] = [];
  private backlogHead = 0;
  /** Characters in backlog[backlogHead..]. */
  private backlogChars = 0;
  private recentRing: string[] = new Array(RECENT);
  private recentCount = 0;
  private consumer: Consumer | null = null;
  private observers: ((line: string) => void)[] = [];
  /** Lines dropped from a full backlog (no consumer was reading). */
  dropped = 0;
  /** Total complete lines seen. */
  lineCount = 0;

  feed(chunk: Buffer | string): void {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const wholes: string[] = [];
    const rests: string[] = [];
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      let line = this.partialText.length ? this.partialText + text.slice(start, nl) : text.slice(start, nl);
      const skip = this.partialConsumed;
      this.partialText = '';
      this.partialConsumed = 0;
      if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
      // The consumer does not see again what it already took of this line (a prompt).
      const rest = skip > 0 ? screen(line.slice(Math.min(skip, line.length))) : null;
      line = screen(line);
      wholes.push(line);
      rests.push(rest ?? line);
      start = nl + 1;
    }
    if (start < text.length) {
      this.partialText += text.slice(start);
      if (this.partialText.length > MAX_LINE) {
        const whole = this.partialText;
        const skip = this.partialConsumed;
        this.partialText = '';
        this.partialConsumed = 0;
        wholes.push(stripEscapes(whole));
        rests.push(stripEscapes(whole.slice(skip)));
      }
    }
    if (wholes.length) this.complete(wholes, rests);
    this.offerPartial();
  }

  /** `wholes` go to observers; `rests` (without an already consumed prompt) to the consumer. */
  private complete(wholes: string[], rests: string[]): void {
    for (const whole of wholes) {
      this.lineCount++;
      this.recentRing[this.recentCount++ % RECENT] =
        whole.length > MAX_RECENT_LINE ? own(whole.slice(0, MAX_RECENT_LINE)) : whole;
      for (let i = 0; i < this.observers.length; i++) this.observers[i](whole);
    }
    let i = 0;
    const c = this.consumer;
    if (c) {
      if (c.burst && !c.burst(rests)) return;
      for (; i < rests.length && this.consumer === c; i++) {
        if (c.line(rests[i]) && this.consumer === c) {
          this.consumer = null;
          i++;
          break;
        }
      }
    }
    for (; i < rests.length; i++) this.toBacklog(rests[i]);
  }

  private toBacklog(rest: string): void {
    this.backlog.push(rest);
    this.backlogChars += rest.length;
    while (
      this.backlog.length - this.backlogHead > MAX_BACKLOG ||
      (this.backlogChars > MAX_BACKLOG_CHARS && this.backlog.length - this.backlogHead > 1)
    ) {
      this.backlogChars -= this.backlog[this.backlogHead].length;
      this.backlog[this.backlogHead++] = '';
      this.dropped++;
    }
    if (this.backlogHead > 4096 && this.backlogHead * 2 > this.backlog.length) {
      this.backlog = this.backlog.slice(this.backlogHead);
      this.backlogHead = 0;
    }
  }

  private offerPartial(): void {
    const c = this.consumer;
    if (!c?.partial || this.partialText.length <= this.partialConsumed) return;
    if (c.partial(stripEscapes(this.partialText.slice(this.partialConsumed)))) {
      this.partialConsumed = this.partialText.length;
      if (this.consumer === c) this.consumer = null;
    }
  }

  /** Installs the consumer: it first gets the backlog, then live lines, until done. */
  consume(c: Consumer): void {
    if (this.consumer) throw new Error('console: two consumers at once (an expect is already waiting)');
    if (c.burst && this.backlogHead < this.backlog.length && !c.burst(this.backlog.slice(this.backlogHead)))
      this.backlogHead = this.backlog.length;
    while (this.backlogHead < this.backlog.length) {
      const line = this.backlog[this.backlogHead++];
      this.backlogChars -= line.length;
      if (c.line(line)) return;
    }
    this.backlog = [];
    this.backlogHead = 0;
    this.backlogChars = 0;
    this.consumer = c;
    this.offerPartial();
  }

  /** Removes a consumer that gave up (timeout, abort). */
  release(c: Consumer): void {
    if (this.consumer === c) this.consumer = null;
  }

  /** Forgets everything not yet consumed (after interrupting U-Boot, to resynchronise). */
  discard(): void {
    this.backlog = [];
    this.backlogHead = 0;
    this.backlogChars = 0;
    this.partialConsumed = this.partialText.length;
  }

  /** Takes the unconsumed part of the incomplete line as it arrived (escapes included),
   * for a binary protocol that starts right after a text line (loady's first 'C'). */
  takePartial(): string {
    const raw = this.partialText.slice(this.partialConsumed);
    this.partialConsumed = this.partialText.length;
    return raw;
  }

  observe(fn: (line: string) => void): () => void {
    this.observers.push(fn);
    return () => {
      this.observers = this.observers.filter((o) => o !== fn);
    };
  }

  /** Complete lines no consumer has taken yet (they wait for the next one). */
  pending(): string[] {
    return this.backlog.slice(this.backlogHead);
  }

  /** The whole incomplete last line, as a terminal shows it (consumed or not). */
  get unfinished(): string {
    return screen(this.partialText);
  }

  /** The unconsumed part of the incomplete last line. */
  get partial(): string {
    return stripEscapes(this.partialText.slice(this.partialConsumed));
  }

  /** The last n lines seen (for "the guest's last words" in timeout reasons). */
  recent(n = 20): string[] {
    const count = Math.min(n, this.recentCount, RECENT);
    const out: string[] = [];
    for (let i = this.recentCount - count; i < this.recentCount; i++) out.push(this.recentRing[i % RECENT]);
    if (this.partial.trim()) out.push(this.partial);
    return out;
  }
}

/** What an expect waits for: the runner's own RegExp, or a case's Rust pattern. */
export type LineMatcher = RegExp | { readonly source: string; test(text: string): boolean };

export interface ExpectMatch {
  /** Which pattern matched (its index in the list). */
  index: number;
  /** The RegExp's match (groups), for the runner's own patterns; null for Rust patterns. */
  match: RegExpExecArray | null;
  line: string;
  /** Whether it matched on the incomplete last line (a prompt). */
  partial: boolean;
  /** Lines consumed before the matching one: the last MAX_BEFORE of them, and no more
   * than MAX_BEFORE_CHARS characters (the oldest go first). */
  before: string[];
}

export interface ExpectOptions {
  timeoutMs: number;
  /** Also test the incomplete last line: true for every pattern, or the patterns that may
   * match there (a prompt, a countdown). Others wait for the line to complete: a line that
   * arrives in two reads must not match on its first half. */
  partial?: boolean | readonly LineMatcher[];
  /** The error to throw on timeout. */
  onTimeout: () => Error;
  signal?: AbortSignal;
}

/** Waits until one of `patterns` matches a line; consumes through that line. */
export function expect(
  engine: LineEngine,
  patterns: readonly LineMatcher[],
  opts: ExpectOptions,
): Promise<ExpectMatch> {
  return new Promise((resolve, reject) => {
    // The lines before the match: kept[head..], bounded in lines and characters.
    let kept: string[] = [];
    let head = 0;
    let keptChars = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: Error | null, m?: ExpectMatch) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      engine.release(consumer);
      if (err) reject(err);
      else resolve(m!);
    };
    const partialOk = (re: LineMatcher) =>
      opts.partial === true || (Array.isArray(opts.partial) && opts.partial.includes(re));
    const test = (line: string, partial: boolean): boolean => {
      for (let i = 0; i < patterns.length; i++) {
        if (partial && !partialOk(patterns[i])) continue;
        const p = patterns[i];
        let match: RegExpExecArray | null = null;
        if (p instanceof RegExp) {
          if (!(match = p.exec(line))) continue;
        } else if (!p.test(line)) continue;
        finish(null, { index: i, match, line, partial, before: head ? kept.slice(head) : kept });
        return true;
      }
      return false;
    };
    const consumer: Consumer = {
      line: (line) => {
        if (test(line, false)) return true;
        kept.push(line);
        keptChars += line.length;
        while (kept.length - head > MAX_BEFORE || (keptChars > MAX_BEFORE_CHARS && kept.length - head > 1)) {
          keptChars -= kept[head].length;
          kept[head++] = '';
        }
        if (head > 4096 && head * 2 > kept.length) {
          kept = kept.slice(head);
          head = 0;
        }
        return false;
      },
      partial: opts.partial ? (text) => test(text, true) : undefined,
    };
    const onAbort = () =>
      finish(opts.signal!.reason instanceof Error ? opts.signal!.reason : new Error(String(opts.signal!.reason)));
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    timer = setTimeout(() => finish(opts.onTimeout()), opts.timeoutMs);
    engine.consume(consumer);
  });
}
