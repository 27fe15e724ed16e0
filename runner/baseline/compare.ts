// Comparing a board run's guest output with its QEMU baseline. Linear in the number of
// lines: lines are compared as multisets (what is missing, what is new, counted), marker
// lines (the case's success patterns, or its own) by order and by time since the boot, and
// new lines that look like trouble are called out. A side-by-side diff is written for
// people, from an alignment that is given up past a bound rather than allowed to go
// quadratic.
import { diffArrays } from 'diff';
import type { Pattern } from '../config/regex.js';
import type { Normalizer } from './normalize.js';

export interface TimedLine {
  /** Seconds since the boot: QEMU start for the baseline, the hand-off on the board. */
  t: number;
  text: string;
}

export interface MarkerTiming {
  marker: string;
  baseline_s: number;
  board_s: number;
}

export interface Comparison {
  /** "same": every marker there, in order, in time, and no new trouble; else "differs". */
  status: 'same' | 'differs';
  missing_markers: string[];
  /** New lines on the board that look like errors or warnings. */
  new_trouble: string[];
  /** Marker lines in another order than in the baseline (as the board printed them). */
  order_changed: string[];
  /** Markers that came more than `slowFactor` times later than in the baseline. */
  slow_markers: MarkerTiming[];
  markers: MarkerTiming[];
  /** Other lines in the baseline but not on the board, and the reverse (normalised). */
  missing: string[];
  new: string[];
  counts: { baseline: number; board: number; missing: number; new: number };
}

const TROUBLE =
  /(?:\b(?:error|err|fail(?:ed|ure)?|fatal|panic(?:ked)?|oops|bug|warn(?:ing)?|abort(?:ed)?|exception|timed? ?out)\b|\bcall trace\b)/i;
const LIST_MAX = 200;

function counted(lines: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of lines) m.set(l, (m.get(l) ?? 0) + 1);
  return m;
}

/** Lines of `a` not matched by a line of `b`, counting duplicates, in `a`'s order. */
function minus(a: string[], bCounts: Map<string, number>): string[] {
  const left = new Map(bCounts);
  const out: string[] = [];
  for (const l of a) {
    const n = left.get(l) ?? 0;
    if (n > 0) left.set(l, n - 1);
    else out.push(l);
  }
  return out;
}

export interface CompareOptions {
  markers: Pattern[];
  normalize: Normalizer;
  /** A marker this many times later than in the baseline is flagged (and at least 1 s later). */
  slowFactor?: number;
}

function prepare(lines: TimedLine[], norm: Normalizer): { text: string[]; timed: TimedLine[] } {
  const timed: TimedLine[] = [];
  for (const l of lines) {
    const n = norm(l.text);
    if (n !== null) timed.push({ t: l.t, text: n });
  }
  return { text: timed.map((l) => l.text), timed };
}

function firstMarkers(raw: TimedLine[], markers: Pattern[]): Map<string, { t: number; i: number }> {
  const found = new Map<string, { t: number; i: number }>();
  raw.forEach((l, i) => {
    for (const m of markers) if (!found.has(m.source) && m.test(l.text)) found.set(m.source, { t: l.t, i });
  });
  return found;
}

export function compareRuns(baseline: TimedLine[], board: TimedLine[], opts: CompareOptions): Comparison {
  const slow = opts.slowFactor ?? 3;
  const a = prepare(baseline, opts.normalize);
  const b = prepare(board, opts.normalize);
  const missing = minus(a.text, counted(b.text));
  const fresh = minus(b.text, counted(a.text));

  const mA = firstMarkers(baseline, opts.markers);
  const mB = firstMarkers(board, opts.markers);
  const missing_markers = [...mA.keys()].filter((k) => !mB.has(k));
  const common = [...mA.keys()].filter((k) => mB.has(k));
  const byBaseline = [...common].sort((x, y) => mA.get(x)!.i - mA.get(y)!.i);
  const byBoard = [...common].sort((x, y) => mB.get(x)!.i - mB.get(y)!.i);
  const order_changed = byBoard.filter((k, i) => k !== byBaseline[i]);
  const markers = byBaseline.map((k) => ({ marker: k, baseline_s: round(mA.get(k)!.t), board_s: round(mB.get(k)!.t) }));
  const slow_markers = markers.filter((m) => m.board_s > m.baseline_s * slow && m.board_s - m.baseline_s >= 1);
  const new_trouble = fresh.filter((l) => TROUBLE.test(l));
  const status =
    missing_markers.length || new_trouble.length || order_changed.length || slow_markers.length ? 'differs' : 'same';
  return {
    status,
    missing_markers,
    new_trouble,
    order_changed,
    slow_markers,
    markers,
    missing: missing.slice(0, LIST_MAX),
    new: fresh.slice(0, LIST_MAX),
    counts: { baseline: a.text.length, board: b.text.length, missing: missing.length, new: fresh.length },
  };
}

const round = (n: number) => Math.round(n * 1000) / 1000;

/**
 * A side-by-side diff of the normalised lines for people to read. The alignment stops past
 * `maxEdits` differences (it would grow quadratically); then the listing of missing and
 * new lines stands in for it.
 */
export function sideBySide(
  baseline: TimedLine[],
  board: TimedLine[],
  c: Comparison,
  norm: Normalizer,
  width = 70,
  maxEdits = 2000,
): string {
  const a = prepare(baseline, norm).text;
  const b = prepare(board, norm).text;
  const cut = (s: string) => (s.length > width ? `${s.slice(0, width - 1)}…` : s.padEnd(width));
  const out = [
    `# baseline comparison: ${c.status}`,
    `# ${c.counts.baseline} baseline lines, ${c.counts.board} board lines (normalised); ${c.counts.missing} missing, ${c.counts.new} new`,
    ...c.missing_markers.map((m) => `# MISSING MARKER ${m}`),
    ...c.new_trouble.map((l) => `# NEW TROUBLE ${l}`),
    ...c.order_changed.map((m) => `# ORDER CHANGED ${m}`),
    ...c.slow_markers.map((m) => `# SLOW ${m.marker}: ${m.board_s} s on the board, ${m.baseline_s} s in QEMU`),
    ...c.markers.map((m) => `# marker ${m.marker}: QEMU ${m.baseline_s} s, board ${m.board_s} s`),
    `${'QEMU baseline'.padEnd(width)}   board`,
  ];
  const parts = diffArrays(a, b, { maxEditLength: maxEdits });
  if (!parts) {
    out.push('(too many differences to align; missing then new lines follow)');
    for (const l of c.missing) out.push(`${cut(l)} <`);
    for (const l of c.new) out.push(`${''.padEnd(width)} > ${l}`);
    return `${out.join('\n')}\n`;
  }
  for (const p of parts) {
    for (const l of p.value) {
      if (p.added) out.push(`${''.padEnd(width)} > ${l}`);
      else if (p.removed) out.push(`${cut(l)} <`);
      else out.push(`${cut(l)}   ${l}`);
    }
  }
  return `${out.join('\n')}\n`;
}
