// Patterns as the ecosystem's files mean them: Rust `regex` syntax and semantics. They are
// not translated to JavaScript: they are compiled by Rust's own `regex` crate, built to
// WebAssembly from Debian's packaged source (regex-engine/, scripts/build-regex). So
// Unicode `\w \d \s \b`, case folding (`(?i)` matches "ſ" for "s"), `.` not matching only
// "\n", every construct Rust rejects, and linear-time matching (no pattern can stall a
// run) are Rust's by construction. Why not RE2 (npm `re2`)? Its `\w`, `\d` and `\b` are
// ASCII-only and its syntax differs: a faithful engine is the crate itself.
//
// Console lines are matched one at a time, each as its own haystack: `^` and `$` are the
// line's start and end, with or without `(?m)` (ostool matches a 2048-byte window of the
// stream, where a `^` without `(?m)` means the window's start: an accident, not a meaning).
//
// Speed: a case's patterns are also compiled joined into one alternation, which answers
// "does any of them match this line?" in one pass (the crate's RegexSet is much slower
// here); and a `(?m)` form of that alternation answers it for a whole burst of lines
// joined by "\n" in one call. Only on a hit are the patterns tried one by one, in order.
import { existsSync, readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { projectRoot } from './paths.js';

export const ENGINE_FILE = path.join(projectRoot, 'dist', 'hil_regex.wasm');

interface Exports {
  memory: WebAssembly.Memory;
  input(len: number): number;
  output_ptr(): number;
  output_len(): number;
  compile(len: number): number;
  is_match(id: number, len: number): number;
  find(id: number, len: number): number;
  replace_all(id: number, textLen: number, repLen: number): number;
  free_regex(id: number): void;
}

let engine: Exports | undefined;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function load(): Exports {
  if (engine) return engine;
  if (!existsSync(ENGINE_FILE)) {
    throw new ConfigError(
      `the pattern engine ${ENGINE_FILE} is missing: run scripts/setup (it builds Rust's regex crate to WebAssembly), or npm run build`,
    );
  }
  // V8's baseline compiler only: its optimising compiler would recompile the 1.2 MB engine
  // on another thread, which a 2-core lab host takes from QEMU, and which every process
  // then waits for at exit (80 ms measured). Matching is 5 % slower (160 MB/s, not 165).
  setFlagsFromString('--liftoff-only');
  const instance = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(ENGINE_FILE)), {});
  engine = instance.exports as unknown as Exports;
  return engine;
}

/** Writes `text` into the engine's input buffer at `offset`; returns its UTF-8 length. */
function put(e: Exports, text: string, offset = 0): number {
  const max = text.length * 3;
  const ptr = e.input(offset + max);
  return encoder.encodeInto(text, new Uint8Array(e.memory.buffer, ptr + offset, max)).written!;
}

function output(e: Exports): string {
  return decoder.decode(new Uint8Array(e.memory.buffer, e.output_ptr(), e.output_len()));
}

/** Rust's parse error, on one line: "look-around ... is not supported (at "(?<=")". */
function oneLine(message: string): string {
  const lines = message.split('\n');
  const err = lines.find((l) => l.startsWith('error: '))?.slice(7);
  if (!err) return message.replace(/\s+/g, ' ').trim();
  const caret = lines.findIndex((l) => /^\s*\^+\s*$/.test(l));
  if (caret > 0) {
    const src = lines[caret - 1];
    const start = lines[caret].indexOf('^');
    const span = src.slice(start, lines[caret].lastIndexOf('^') + 1);
    if (span.trim()) return `${err} (at ${JSON.stringify(span)})`;
  }
  return err;
}

/**
 * ostool builds with regex 1.12; Debian 12 packages regex 1.7, which this engine is. Their
 * syntax differs in two places a case might use: 1.9 added named groups written
 * `(?<name>...)`, the same as `(?P<name>...)`, so they are rewritten to that; 1.10 added
 * the word-boundary assertions `\b{start}`, `\b{end}`, `\<`, `\>`, which 1.7 cannot say,
 * so a pattern with them is refused with that reason (see docs/tgoskits-and-ostool.md, "Patterns").
 */
function for17(source: string, where: string): string {
  let out = '';
  let inClass = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      const next = source[i + 1] ?? '';
      if (!inClass && (next === '<' || next === '>' || (next === 'b' && source[i + 2] === '{'))) {
        throw new ConfigError(
          `${where}: pattern ${JSON.stringify(source)} uses a word-boundary assertion of regex 1.10 (\\b{start}, \\b{end}, \\<, \\>), which the runner's engine (Debian's regex 1.7) lacks: write \\b`,
        );
      }
      out += c + next;
      i++;
    } else if (c === '[') {
      inClass++;
      out += c;
    } else if (c === ']' && inClass) {
      inClass--;
      out += c;
    } else if (!inClass && source.startsWith('(?<', i) && /[A-Za-z_]/.test(source[i + 3] ?? '')) {
      out += '(?P<';
      i += 2;
    } else out += c;
  }
  return out;
}

/** One compiled Rust pattern. */
export class RustRegex {
  private constructor(
    readonly source: string,
    private id: number,
  ) {}

  /** Compiles `source`; a pattern Rust rejects is a ConfigError naming `where`. */
  static compile(source: string, where: string): RustRegex {
    const e = load();
    const id = e.compile(put(e, for17(source, where)));
    if (id < 0)
      throw new ConfigError(
        `${where}: pattern ${JSON.stringify(source)} is not a valid Rust regex: ${oneLine(output(e))}`,
      );
    return new RustRegex(source, id);
  }

  test(text: string): boolean {
    const e = load();
    return e.is_match(this.id, put(e, text)) === 1;
  }

  /** The first match: where it starts (in the string's UTF-16 units) and its text. */
  find(text: string): { index: number; text: string } | null {
    const e = load();
    const bytes = encoder.encode(text);
    new Uint8Array(e.memory.buffer, e.input(bytes.length), bytes.length).set(bytes);
    if (e.find(this.id, bytes.length) !== 1) return null;
    const o = new DataView(e.memory.buffer, e.output_ptr(), 8);
    const [a, b] = [o.getUint32(0, true), o.getUint32(4, true)];
    const before = decoder.decode(bytes.subarray(0, a));
    return { index: before.length, text: decoder.decode(bytes.subarray(a, b)) };
  }

  /** Every match replaced by `replacement` (`$1`, `${name}` as the crate has them). */
  replaceAll(text: string, replacement: string): string {
    const e = load();
    const n = put(e, text);
    const r = put(e, replacement, n);
    if (e.replace_all(this.id, n, r) < 0) return text;
    return output(e);
  }
}

export type Pattern = RustRegex;

/** Compiles a list of patterns from the key `where` of a file. */
export function compileAll(sources: string[], where: string): RustRegex[] {
  return sources.map((s, i) => RustRegex.compile(s, `${where}[${i}]`));
}

/** A pattern that names start or end of the whole haystack (`\A`, `\z`) or turns (?m)
 * off cannot be asked over lines joined together: they would mean the burst's ends. */
const HAYSTACK_BOUND = /\\[Az]|\(\?[a-zA-Z]*-[a-zA-Z]*m/;

/** Patterns tested together on console lines; the first in list order decides. */
export class PatternSet {
  private any?: RustRegex;
  private anyInBurst?: RustRegex;

  constructor(readonly patterns: readonly RustRegex[]) {
    if (patterns.length < 2) return;
    // Each pattern in a group of its own keeps its inline flags to itself. Group names
    // would clash between patterns: in the union, named groups are plain groups. A union
    // that still does not compile (it is only a short cut) is done without.
    const union = patterns
      .map((p) => `(?:${p.source.replace(/(^|[^\\])\(\?P?<[A-Za-z_][A-Za-z0-9_]*>/g, '$1(')})`)
      .join('|');
    try {
      this.any = RustRegex.compile(union, 'pattern set');
      if (!patterns.some((p) => HAYSTACK_BOUND.test(p.source)))
        this.anyInBurst = RustRegex.compile(`(?m)${union}`, 'pattern set');
    } catch {
      this.any = this.anyInBurst = undefined;
    }
  }

  get size(): number {
    return this.patterns.length;
  }

  /** The index of the first pattern, in list order, that matches `line`; -1 if none. */
  firstMatch(line: string): number {
    if (this.patterns.length === 0) return -1;
    if (this.any && !this.any.test(line)) return -1;
    for (let i = 0; i < this.patterns.length; i++) if (this.patterns[i].test(line)) return i;
    return -1;
  }

  /**
   * Whether any line of `lines[from..]` may match: false means none does (so a burst of
   * console output is cleared in one call); true means test them one by one.
   */
  mayMatchAny(lines: readonly string[], from = 0): boolean {
    if (this.patterns.length === 0) return false;
    if (!this.anyInBurst || lines.length - from < 2) return true;
    return this.anyInBurst.test(from === 0 ? lines.join('\n') : lines.slice(from).join('\n'));
  }
}

/** A JavaScript pattern for a literal text (prompts, markers: the runner's own). */
export function literal(text: string, anchored: 'whole' | 'none' = 'none'): RegExp {
  const esc = text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return new RegExp(anchored === 'whole' ? `^${esc}$` : esc);
}
