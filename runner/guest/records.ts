// What TGOSKits guests report besides their markers:
// - test records (test-suit/axvisor/README.md, common/guestlib): one JSON object between
//   the lines AXTEST_RESULT_BEGIN and AXTEST_RESULT_END, with `case_id`, `status`
//   (pass | fail | skip | error) and optional `message` and `details`. Each becomes a
//   sub-result of the case; a `fail` or `error` record fails the case.
// - performance lines their nightly turns into a dashboard (scripts/test/ci_perf_report.py):
//   `VCPU_PERF_RESULT blocks_per_second=... baseline=...`, `AXVISOR_IVC_BENCH_RESULT=PASS
//   cases=4 ... bytes=...`. Every numeric key=value field of a metric line is kept as a
//   number named `<TAG>.<key>`, per run, so the regression page can chart it per board; a
//   unit written after the number (`bytes_per_s=410000B/s`, `latency=12us`, `time=3.2ms`)
//   is kept with it.
// A line may carry a VM prefix ("[VM 1] "), as Axvisor's console multiplexer prints it.
// Only what the guest prints counts: the echo of a command the runner typed at the guest's
// shell (shell_init_cmd, typed by guest/watch.ts; a spec's commands, guest/shell.ts) is no
// record and no metric, even when the command line holds a metric line's words (a `printf`
// of one, an argument `bytes_per_s=1000`). Every such command goes out through the
// console's type(): the watch sees what is typed there and skips the lines that echo it,
// whole or in the pieces a shell's line editor wraps a long command into.
import type { Console } from '../console/console.js';
import type { LineMatcher } from '../console/expect.js';
import type { Pattern } from '../config/regex.js';
import { GuestFailure } from '../errors.js';
import { afterHandoff } from './handoff.js';

export type RecordStatus = 'pass' | 'fail' | 'skip' | 'error';

export interface GuestRecord {
  case_id: string;
  status: RecordStatus;
  message?: string;
  details?: unknown;
  /** Seconds from the hand-off to the record's end marker. */
  at_s: number;
}

export interface Metric {
  name: string;
  value: number;
  /** The unit written after the number (`B/s` of `410000B/s`), when there was one. */
  unit?: string;
  /** The line it came from. */
  line: string;
}

const VM_PREFIX = /^\s*(?:\[VM \d+\]\s*)?/;
const BEGIN = /^AXTEST_RESULT_BEGIN\s*$/;
const END = /^AXTEST_RESULT_END\s*$/;
const STATUSES = new Set(['pass', 'fail', 'skip', 'error']);
/** A metric line's tag: `VCPU_PERF_RESULT ...`, `AXVISOR_IVC_BENCH_RESULT=...`. */
export const DEFAULT_METRIC = /^([A-Z][A-Z0-9_]*_RESULT)(?:=|\s)/;
/** ci_perf_report.py's FIELD_PATTERN. */
const FIELD = /([A-Za-z_][A-Za-z0-9_]*)=(\[[^\]]*\]|\S+)/g;

/** A number followed by a unit: `410000B/s`, `12us`, `3.2ms`, `-4.5e3Hz`, `99.5%`. */
const WITH_UNIT =
  /^([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)([A-Za-z%\u00b5\u03bc][A-Za-z0-9%\u00b5\u03bc/_^*-]{0,15})$/;

/** A field's value as a number, with its unit when one is written after it. */
export function fieldValue(raw: string): { value: number; unit?: string } | undefined {
  const plain = Number(raw);
  if (raw !== '' && Number.isFinite(plain)) return { value: plain };
  const m = WITH_UNIT.exec(raw);
  if (!m) return undefined;
  const value = Number(m[1]);
  return Number.isFinite(value) ? { value, unit: m[2] } : undefined;
}

/** The numeric fields of a metric line; `tag` names them. */
export function metricsOf(line: string, tag: string): Metric[] {
  const out: Metric[] = [];
  for (const m of line.matchAll(FIELD)) {
    const v = fieldValue(m[2]);
    if (v) out.push({ name: `${tag}.${m[1]}`, value: v.value, ...(v.unit ? { unit: v.unit } : {}), line: line.trim() });
  }
  return out;
}

/**
 * A metric's name as the history record keeps it (a record's metrics are name -> number):
 * `<name> [<unit>]` when it has a unit. Names are words joined by dots (`TAG.key`), so the
 * bracket is never part of one; splitMetricKey takes it apart again.
 */
export const metricKey = (name: string, unit?: string) => (unit ? `${name} [${unit}]` : name);
export function splitMetricKey(key: string): { name: string; unit?: string } {
  const m = /^(.*) \[([^\]]+)\]$/.exec(key);
  return m ? { name: m[1], unit: m[2] } : { name: key };
}

/** A command line the runner typed, waiting for its echo. */
interface Typed {
  text: string;
  /** Lines taken as pieces of its echo so far, and lines that were not. */
  pieces: number;
  misses: number;
}
/** Lines of other output after which a command's echo is no longer looked for (the guest
 * does not echo, or printed it before anything we could see). */
const ECHO_MISSES = 20;

/**
 * What a console line is to a command line the runner typed: its echo whole (the prompt and
 * the command, or the command alone), the last piece of an echo a line editor wrapped (a
 * long command comes back in screen-wide pieces, and a terminal shows only the last of
 * those a carriage return wraps), an earlier piece, or not its echo at all.
 */
export function echoOf(line: string, cmd: string): 'whole' | 'end' | 'piece' | 'none' {
  const t = line.trimEnd();
  if (!t.trim()) return 'piece';
  if (t.includes(cmd)) return 'whole';
  if (cmd.endsWith(t)) return 'end';
  if (cmd.includes(t)) return 'piece';
  // The first piece: the prompt, then the command's beginning.
  const head = cmd.slice(0, Math.min(cmd.length, 8));
  for (let i = t.indexOf(head); i >= 0; i = t.indexOf(head, i + 1)) if (cmd.startsWith(t.slice(i))) return 'piece';
  return 'none';
}

export interface RecordSink {
  record(r: GuestRecord): void;
  metric(m: Metric): void;
  /** A record that could not be read. */
  warn(text: string): void;
}

/** Watches the console after the hand-off for records and metric lines. */
export class RecordWatch {
  private release: () => void;
  private untype: () => void;
  /** Set on the first line after the hand-off: what is typed from then on is the guest's shell's. */
  private live = false;
  private typed: Typed[] = [];
  private collecting: string[] | null = null;
  private failure?: GuestFailure;
  private onFail?: (e: GuestFailure) => void;
  readonly records: GuestRecord[] = [];

  /** `metrics`: the case's own metric patterns (a matching line's numeric fields are kept,
   * named by the pattern's first word), besides the default `*_RESULT` lines. */
  constructor(
    con: Console,
    handoff: LineMatcher,
    private sink: RecordSink,
    private metrics: Pattern[] = [],
  ) {
    this.release = afterHandoff(con, handoff, (text, t) => this.line(text, t));
    this.untype = watchTyping(con, (text) => {
      if (!this.live) return;
      for (const l of text.split(/\r\n|\r|\n/)) if (l.trim()) this.typed.push({ text: l.trim(), pieces: 0, misses: 0 });
    });
  }

  /** True when the line is (a piece of) the echo of a command the runner typed. */
  private echo(raw: string): boolean {
    while (this.typed.length) {
      const c = this.typed[0];
      const part = echoOf(raw, c.text);
      if (part === 'whole' || part === 'end') {
        this.typed.shift();
        return true;
      }
      // A wrapped echo has a piece per screen line (of 20 columns at least).
      if (part === 'piece' && c.pieces <= c.text.length / 20 + 1) {
        c.pieces++;
        return true;
      }
      if (part === 'none' && ++c.misses <= ECHO_MISSES) return false;
      this.typed.shift();
    }
    return false;
  }

  private line(raw: string, t: number): void {
    this.live = true;
    if (this.echo(raw)) return;
    const text = raw.replace(VM_PREFIX, '');
    if (this.collecting) {
      if (END.test(text)) {
        const body = this.collecting.join('\n');
        this.collecting = null;
        this.parse(body, t);
      } else if (BEGIN.test(text)) {
        this.sink.warn(`a test record began before the previous one ended: ${this.collecting.join(' ').slice(0, 120)}`);
        this.collecting = [];
      } else if (this.collecting.length < 10_000) {
        this.collecting.push(text);
      }
      return;
    }
    if (BEGIN.test(text)) {
      this.collecting = [];
      return;
    }
    // A line that the default and a case's pattern both read (`VCPU_PERF_RESULT` as a
    // case's pattern) gives each metric once.
    const seen = new Set<string>();
    const tell = (m: Metric) => {
      if (seen.has(m.name)) return;
      seen.add(m.name);
      this.sink.metric(m);
    };
    const tag = DEFAULT_METRIC.exec(text);
    if (tag) for (const m of metricsOf(text.slice(tag[1].length), tag[1])) tell(m);
    for (const p of this.metrics) {
      if (!p.test(text)) continue;
      const name =
        /^[A-Za-z_][A-Za-z0-9_]*/.exec(p.source.replace(/^\(\?[a-z]+\)/, '').replace(/^\^/, ''))?.[0] ?? 'metric';
      for (const m of metricsOf(text, name)) tell(m);
    }
  }

  private parse(body: string, t: number): void {
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(body);
    } catch (e) {
      const r: GuestRecord = {
        case_id: '(unreadable)',
        status: 'error',
        message: `the guest's test record is not JSON (${(e as Error).message}): ${body.slice(0, 200)}`,
        at_s: t,
      };
      this.add(r);
      return;
    }
    const status = String(doc.status ?? '');
    const r: GuestRecord = {
      case_id: typeof doc.case_id === 'string' && doc.case_id ? doc.case_id : '(no case_id)',
      status: (STATUSES.has(status) ? status : 'error') as RecordStatus,
      message:
        typeof doc.message === 'string'
          ? doc.message
          : STATUSES.has(status)
            ? undefined
            : `unknown status ${JSON.stringify(doc.status)} (pass, fail, skip or error)`,
      details: doc.details,
      at_s: Math.round(t * 1000) / 1000,
    };
    this.add(r);
  }

  private add(r: GuestRecord): void {
    this.records.push(r);
    this.sink.record(r);
    if ((r.status === 'fail' || r.status === 'error') && !this.failure) {
      this.failure = new GuestFailure(
        `the guest's test ${r.case_id} reported ${r.status}${r.message ? `: ${r.message}` : ''}`,
      );
      this.onFail?.(this.failure);
    }
  }

  /** Called once, on the first failing record. */
  onFailure(fn: (e: GuestFailure) => void): void {
    this.onFail = fn;
    if (this.failure) fn(this.failure);
  }

  stop(): void {
    this.release();
    this.untype();
  }
}

/**
 * Calls `fn` with whatever is typed at the console (its type(): the one way the runner types
 * to a board: shell_init_cmd, a spec's commands, U-Boot's), until the returned function is
 * called. Wraps that one console object's method; the console itself is unchanged.
 */
function watchTyping(con: Console, fn: (text: string) => void): () => void {
  const own = Object.hasOwn(con, 'type') ? con.type : undefined;
  const inner = con.type;
  const wrapped: Console['type'] = (text, delayMs) => {
    fn(text);
    return inner.call(con, text, delayMs);
  };
  con.type = wrapped;
  return () => {
    if (con.type !== wrapped) return;
    if (own) con.type = own;
    else delete (con as Partial<Pick<Console, 'type'>>).type;
  };
}
