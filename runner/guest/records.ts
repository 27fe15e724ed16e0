// What TGOSKits guests report besides their markers:
// - test records (test-suit/axvisor/README.md, common/guestlib): one JSON object between
//   the lines AXTEST_RESULT_BEGIN and AXTEST_RESULT_END, with `case_id`, `status`
//   (pass | fail | skip | error) and optional `message` and `details`. Each becomes a
//   sub-result of the case; a `fail` or `error` record fails the case.
// - performance lines their nightly turns into a dashboard (scripts/test/ci_perf_report.py):
//   `VCPU_PERF_RESULT blocks_per_second=... baseline=...`, `AXVISOR_IVC_BENCH_RESULT=PASS
//   cases=4 ... bytes=...`. Every numeric key=value field of a metric line is kept as a
//   number named `<TAG>.<key>`, per run, so the regression page can chart it per board.
// A line may carry a VM prefix ("[VM 1] "), as Axvisor's console multiplexer prints it.
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

/** The numeric fields of a metric line; `tag` names them. */
export function metricsOf(line: string, tag: string): Metric[] {
  const out: Metric[] = [];
  for (const m of line.matchAll(FIELD)) {
    const v = Number(m[2]);
    if (m[2] !== '' && Number.isFinite(v)) out.push({ name: `${tag}.${m[1]}`, value: v, line: line.trim() });
  }
  return out;
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
  }

  private line(raw: string, t: number): void {
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
    const tag = DEFAULT_METRIC.exec(text);
    if (tag) for (const m of metricsOf(text.slice(tag[1].length), tag[1])) this.sink.metric(m);
    for (const p of this.metrics) {
      if (!p.test(text)) continue;
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(p.source.replace(/^\(\?[a-z]+\)/, '').replace(/^\^/, ''))?.[0] ?? 'metric';
      for (const m of metricsOf(text, name)) this.sink.metric(m);
    }
  }

  private parse(body: string, t: number): void {
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(body);
    } catch (e) {
      const r: GuestRecord = { case_id: '(unreadable)', status: 'error', message: `the guest's test record is not JSON (${(e as Error).message}): ${body.slice(0, 200)}`, at_s: t };
      this.add(r);
      return;
    }
    const status = String(doc.status ?? '');
    const r: GuestRecord = {
      case_id: typeof doc.case_id === 'string' && doc.case_id ? doc.case_id : '(no case_id)',
      status: (STATUSES.has(status) ? status : 'error') as RecordStatus,
      message: typeof doc.message === 'string' ? doc.message : STATUSES.has(status) ? undefined : `unknown status ${JSON.stringify(doc.status)} (pass, fail, skip or error)`,
      details: doc.details,
      at_s: Math.round(t * 1000) / 1000,
    };
    this.add(r);
  }

  private add(r: GuestRecord): void {
    this.records.push(r);
    this.sink.record(r);
    if ((r.status === 'fail' || r.status === 'error') && !this.failure) {
      this.failure = new GuestFailure(`the guest's test ${r.case_id} reported ${r.status}${r.message ? `: ${r.message}` : ''}`);
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
  }
}
