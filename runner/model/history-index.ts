// The history store's index: what the reports need to decide, for every recorded case run,
// without reading the records themselves. A year of a 20-board, 50-case lab is 365,000
// records and 234 MB of JSON lines; parsing all of it took 5 s and 730 MB for a report
// that shows a few thousand of them. The index holds one row per record (board, case,
// configuration, start, verdict, boot time, metrics, and where the record's line is), in
// columns: 365,000 rows load in a fraction of a second, and the report reads in full only
// the records it shows (positioned reads of their lines).
//
// The index is a cache beside the store (`history.jsonl.index`), never the truth: the
// JSON-lines file stays the one thing a lab keeps, caches between CI runs and merges by
// concatenation. A run appends to the store without reading anything (O(1) at any size);
// the next reader indexes the lines added since (a night's worth), and rebuilds the whole
// index only when the store was replaced rather than appended to (a merge, an edit), which
// it detects from the bytes the index covers. A store in a folder the reader cannot write
// is still read, through an index kept in memory.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { writeWhole } from '../config/paths.js';
import type { Verdict } from '../errors.js';
import type { HistoryRecord } from './history.js';

/** What deciding a case's status needs of one record (runner/report/regressions.ts), and
 * what the report's strips and lists show of it. */
export type Decidable = Pick<HistoryRecord, 'board' | 'soc' | 'case' | 'guest' | 'config' | 'started' | 'verdict' | 'reason' | 'phase' | 'boot_s' | 'metrics'>;

/** One indexed record: what deciding needs, and where its line is in the store. */
export interface RunSummary extends Decidable {
  at: number;
  len: number;
}

const VERDICTS: Verdict[] = ['pass', 'fail', 'timeout', 'error', 'internal'];
const MAGIC = 'HILHIX03';
/** How much of the store's start, and of the bytes before the covered end, the index
 * fingerprints to tell an append (index the tail) from a replacement (rebuild). */
const HEAD = 64 * 1024;
const EDGE = 4096;
/** Lines added since the saved index that make a reader save it anew (about six nights of a
 * 20-board, 50-case lab; fewer are read again by each reader, in tens of milliseconds). */
const SAVE_AFTER = 4 * 1024 * 1024;

/** Per-record columns, strings as indexes into `strings` (-1: none). */
const INT_COLUMNS = ['run', 'case', 'attempt', 'board', 'soc', 'guest', 'config', 'verdict', 'reason', 'phase', 'len', 'startedEnd'] as const;
/** `at`: the line's byte offset; `boot`: boot_s, NaN for none. */
const FLOAT_COLUMNS = ['at', 'boot'] as const;
const COLUMNS = [...INT_COLUMNS, ...FLOAT_COLUMNS];
type Column = (typeof COLUMNS)[number];
type Columns = Record<Column, Int32Array | Float64Array>;
const isInt = (c: Column) => (INT_COLUMNS as readonly string[]).includes(c);

interface Meta {
  /** Bytes of the store indexed, and its lines (to number the bad ones). */
  covered: number;
  lines: number;
  head: string;
  edge: string;
  strings: string[];
  /** Line numbers that are not records (cut short by a crash, edited by hand). */
  bad: number[];
  /** Metrics of the records that have any, by entry. */
  metrics: Record<string, Record<string, number>>;
  /** The last line indexed had no newline (yet). */
  unterminated: boolean;
  /** Every record's `started`, joined; `startedEnd` says where each ends. */
  started: string;
  count: number;
}

interface Index extends Meta {
  cols: Columns;
}

function emptyIndex(): Index {
  const cols = Object.fromEntries(COLUMNS.map((c) => [c, isInt(c) ? new Int32Array(0) : new Float64Array(0)])) as Columns;
  return { covered: 0, lines: 0, head: '', edge: '', strings: [], bad: [], metrics: {}, unterminated: false, started: '', count: 0, cols };
}

/** Rows read from the store's new lines, before they join the index. */
interface Fresh {
  cols: Record<Column, number[]>;
  started: string[];
  metrics: (Record<string, number> | undefined)[];
}

const noFresh = (): Fresh => ({ cols: Object.fromEntries(COLUMNS.map((c) => [c, []])) as unknown as Fresh['cols'], started: [], metrics: [] });

function readRange(fd: number, at: number, len: number): Buffer {
  const buf = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const n = readSync(fd, buf, got, len - got, at + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

const digest = (b: Buffer) => createHash('sha1').update(b).digest('hex');
const fingerprint = (fd: number, covered: number) => ({
  head: digest(readRange(fd, 0, Math.min(HEAD, covered))),
  edge: digest(readRange(fd, Math.max(0, covered - EDGE), Math.min(EDGE, covered))),
});

function parses(buf: Buffer): boolean {
  try {
    JSON.parse(buf.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

/** Adds the records in the store's bytes from `ix.covered` to `size` to the index. A
 * record already indexed (the same run, case and attempt: merged histories, a run added
 * twice) counts once. What it costs grows with the new lines, not with the index: a night
 * joins a year's index without the year being unpacked. */
function indexTail(fd: number, ix: Index, size: number): Fresh {
  const known = ix.strings.length;
  const ids = new Map(ix.strings.map((str, i) => [str, i]));
  const id = (str: string | undefined) => {
    if (str === undefined) return -1;
    let i = ids.get(str);
    if (i === undefined) {
      i = ix.strings.push(str) - 1;
      ids.set(str, i);
    }
    return i;
  };
  // Which (case, attempt) an indexed run has: looked up only for a run id the index knows
  // already (a run added twice, a merge), by one pass over the run column.
  const indexed = new Map<number, Set<string>>();
  const indexedOf = (run: number) => {
    let set = indexed.get(run);
    if (!set) {
      set = new Set();
      const { run: runs, case: cases, attempt } = ix.cols;
      for (let i = 0; i < ix.count; i++) if (runs[i] === run) set.add(`${cases[i]} ${attempt[i]}`);
      indexed.set(run, set);
    }
    return set;
  };
  const fresh = noFresh();
  const seen = new Set<string>();
  // A last line indexed without its newline (see below) gets it from the next append: that
  // newline ends the line already counted.
  let ending = ix.unterminated;
  const line = (buf: Buffer, at: number) => {
    if (ending) {
      ending = false;
      if (!buf.length) return;
    }
    ix.lines++;
    const text = buf.toString('utf8');
    if (!text.trim()) return;
    let r: HistoryRecord;
    try {
      r = JSON.parse(text);
      if (!r || typeof r !== 'object' || typeof r.run_id !== 'string' || typeof r.case !== 'string' || typeof r.started !== 'string') throw new Error('not a record');
    } catch {
      ix.bad.push(ix.lines);
      return;
    }
    const run = id(r.run_id);
    const c = id(r.case);
    const attempt = r.attempt ?? 1;
    const key = `${c} ${attempt}`;
    if (seen.has(`${run} ${key}`) || (run < known && indexedOf(run).has(key))) return;
    seen.add(`${run} ${key}`);
    const row: Record<Column, number> = {
      run,
      case: c,
      attempt,
      board: id(String(r.board)),
      soc: id(r.soc),
      guest: id(r.guest ?? r.case),
      config: id(r.config ?? ''),
      verdict: Math.max(0, VERDICTS.indexOf(r.verdict)),
      reason: id(r.reason ?? ''),
      phase: id(r.phase),
      len: buf.length,
      startedEnd: 0, // set when the rows are put in order
      at,
      boot: r.boot_s ?? Number.NaN,
    };
    for (const col of COLUMNS) fresh.cols[col].push(row[col]);
    fresh.started.push(r.started);
    fresh.metrics.push(r.metrics && Object.keys(r.metrics).length ? r.metrics : undefined);
  };
  const CHUNK = 4 * 1024 * 1024;
  let pos = ix.covered;
  let carry = Buffer.alloc(0);
  while (pos < size) {
    const chunk = readRange(fd, pos, Math.min(CHUNK, size - pos));
    if (!chunk.length) break;
    const buf = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    const start = pos - carry.length;
    let from = 0;
    for (let nl = buf.indexOf(10, from); nl !== -1; nl = buf.indexOf(10, from)) {
      line(buf.subarray(from, nl), start + from);
      from = nl + 1;
    }
    carry = Buffer.from(buf.subarray(from));
    pos += chunk.length;
  }
  // A last line without its newline: a whole record (a file written by hand) is indexed; a
  // part of one (being written, or cut by a crash) is left for the next reader, which sees
  // it whole, or followed by the next run's lines and so reported as not a record.
  ix.unterminated = carry.length > 0 && parses(carry);
  if (ix.unterminated) line(carry, pos - carry.length);
  ix.covered = pos - (ix.unterminated ? 0 : carry.length);
  return fresh;
}

/** Where the fresh rows go among the indexed ones, which are in time order: the indexed
 * rows before `keep` stay where they are; `order` lists the rows from `keep` on (indexed
 * ones by their index, fresh ones as count + their index among the fresh). */
function timeOrder(seg: Segment, fresh: Fresh): { keep: number; order: number[]; startedOf: (row: number) => string } {
  const n0 = seg.count;
  const k = fresh.started.length;
  const startedOf = (row: number) => (row < n0 ? seg.startedOf(row) : fresh.started[row - n0]);
  const sorted = Array.from({ length: k }, (_, j) => n0 + j);
  sorted.sort((a, b) => {
    const x = startedOf(a);
    const y = startedOf(b);
    return x < y ? -1 : x > y ? 1 : a - b;
  });
  // The first indexed row that started after the earliest fresh one.
  let lo = 0;
  let hi = k ? n0 : 0;
  const earliest = k ? startedOf(sorted[0]) : '';
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (seg.startedOf(mid) <= earliest) lo = mid + 1;
    else hi = mid;
  }
  const keep = k ? lo : n0;
  const order: number[] = [];
  let i = keep;
  for (const j of sorted) {
    while (i < n0 && seg.startedOf(i) <= startedOf(j)) order.push(i++);
    order.push(j);
  }
  while (i < n0) order.push(i++);
  return { keep, order, startedOf };
}

/** Adds the fresh rows to the index in the order the runs started (the order the analysis
 * reads them: a report sorts nothing). The indexed rows are in order already; the fresh
 * ones are sorted and merged in, moving only the indexed rows that started after the
 * earliest fresh one (a night from several boards arrives a little out of order). */
function mergeInTimeOrder(ix: Index, fresh: Fresh): void {
  const n0 = ix.count;
  const k = fresh.started.length;
  if (!k) return;
  const ends = ix.cols.startedEnd;
  const { keep, order, startedOf } = timeOrder(indexSegment(ix), fresh);
  const total = n0 + k;
  const cols = {} as Columns;
  for (const c of COLUMNS) {
    const old = ix.cols[c];
    const out = isInt(c) ? new Int32Array(total) : new Float64Array(total);
    out.set(old.subarray(0, keep));
    const add = fresh.cols[c];
    order.forEach((row, t) => {
      out[keep + t] = row < n0 ? old[row] : add[row - n0];
    });
    cols[c] = out;
  }
  const tail = order.map(startedOf);
  let end = keep ? ends[keep - 1] : 0;
  tail.forEach((st, t) => {
    end += st.length;
    cols.startedEnd[keep + t] = end;
  });
  ix.started = ix.started.slice(0, keep ? ends[keep - 1] : 0) + tail.join('');
  const metrics: Index['metrics'] = {};
  for (const [row, m] of Object.entries(ix.metrics)) if (Number(row) < keep) metrics[row] = m;
  order.forEach((row, t) => {
    const m = row < n0 ? ix.metrics[row] : fresh.metrics[row - n0];
    if (m) metrics[keep + t] = m;
  });
  ix.metrics = metrics;
  ix.cols = cols;
  ix.count = total;
}

/** Rows the summaries read: the saved index's, or the fresh ones read since. */
interface Segment {
  cols: Record<Column, ArrayLike<number>>;
  strings: string[];
  count: number;
  startedOf(i: number): string;
  metricsOf(i: number): Record<string, number> | undefined;
}

function indexSegment(ix: Index): Segment {
  const ends = ix.cols.startedEnd;
  return {
    cols: ix.cols,
    strings: ix.strings,
    count: ix.count,
    startedOf: (i) => ix.started.slice(i ? ends[i - 1] : 0, ends[i]),
    metricsOf: (i) => ix.metrics[i],
  };
}

function freshSegment(ix: Index, fresh: Fresh): Segment {
  return { cols: fresh.cols, strings: ix.strings, count: fresh.started.length, startedOf: (i) => fresh.started[i], metricsOf: (i) => fresh.metrics[i] };
}

/** One record's summary, read from the index's columns when asked: 365,000 rows as plain
 * objects of a dozen fields kept the garbage collector busy for half the report. */
class Row implements RunSummary {
  constructor(
    private seg: Segment,
    private i: number,
  ) {}
  private str(c: Column): string | undefined {
    const k = this.seg.cols[c][this.i];
    return k < 0 ? undefined : this.seg.strings[k];
  }
  get board() {
    return this.str('board')!;
  }
  get soc() {
    return this.str('soc');
  }
  get case() {
    return this.str('case')!;
  }
  get guest() {
    return this.str('guest')!;
  }
  get config() {
    return this.str('config')!;
  }
  get reason() {
    return this.str('reason')!;
  }
  get phase() {
    return this.str('phase');
  }
  get started() {
    return this.seg.startedOf(this.i);
  }
  get verdict() {
    return VERDICTS[this.seg.cols.verdict[this.i]];
  }
  get boot_s() {
    const b = this.seg.cols.boot[this.i];
    return Number.isNaN(b) ? undefined : b;
  }
  get metrics() {
    return this.seg.metricsOf(this.i);
  }
  get at() {
    return this.seg.cols.at[this.i];
  }
  get len() {
    return this.seg.cols.len[this.i];
  }
}

/** The history store as the reports read it: every record's summary, and its full record
 * on demand. */
export class HistoryStore {
  /** In the order the runs started; a run recorded twice appears once. */
  readonly summaries: RunSummary[];
  readonly bad: number[];
  private fd: number;

  /** `fresh`: rows read since the saved index and not merged into it; their summaries are
   * put in time order among the index's without copying its columns. */
  private constructor(fd: number, ix: Index, fresh: Fresh) {
    this.fd = fd;
    this.bad = ix.bad;
    const saved = indexSegment(ix);
    const added = freshSegment(ix, fresh);
    const { keep, order } = timeOrder(saved, fresh);
    this.summaries = new Array(ix.count + added.count);
    for (let i = 0; i < keep; i++) this.summaries[i] = new Row(saved, i);
    order.forEach((row, t) => {
      this.summaries[keep + t] = row < ix.count ? new Row(saved, row) : new Row(added, row - ix.count);
    });
  }

  /** Opens the store at `file` (which must exist), bringing its index up to date. */
  static open(file: string): HistoryStore {
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      const indexFile = `${file}.index`;
      let ix = loadIndex(indexFile);
      if (ix && (ix.covered > size || fingerprintDiffers(fd, ix))) ix = undefined;
      const stale = !ix || ix.covered < size;
      ix ??= emptyIndex();
      let fresh = noFresh();
      if (stale) {
        const before = ix.covered;
        fresh = indexTail(fd, ix, size);
        // Rewriting a year's index costs more than reading a few nights of lines again, so
        // a small tail is kept in memory only, and read again by the next reader too.
        if (ix.covered !== before && (before === 0 || ix.covered - before >= SAVE_AFTER)) {
          mergeInTimeOrder(ix, fresh);
          fresh = noFresh();
          Object.assign(ix, fingerprint(fd, ix.covered));
          saveIndex(indexFile, ix);
        }
      }
      return new HistoryStore(fd, ix, fresh);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** The full record a summary stands for. */
  record(s: RunSummary): HistoryRecord {
    return JSON.parse(readRange(this.fd, s.at, s.len).toString('utf8'));
  }

  close(): void {
    closeSync(this.fd);
  }
}

function fingerprintDiffers(fd: number, ix: Index): boolean {
  const now = fingerprint(fd, ix.covered);
  return now.head !== ix.head || now.edge !== ix.edge;
}

// The index file: MAGIC, the length of the metadata JSON (u32 LE), the metadata JSON, the
// length of the joined start times (u32 LE) and their UTF-8, padding to 8 bytes, then the
// columns whole: Int32 columns, then Float64 ones. Typed arrays over the file's bytes load
// 365,000 records in milliseconds, where a JSON array of the same took most of a second.
function loadIndex(file: string): Index | undefined {
  if (!existsSync(file)) return undefined;
  try {
    let buf = readFileSync(file);
    // Typed arrays need their element size's alignment within the buffer.
    if (buf.byteOffset % 8) buf = Buffer.from(buf);
    if (buf.toString('latin1', 0, 8) !== MAGIC) return undefined;
    let at = 8;
    const section = () => {
      const len = buf.readUInt32LE(at);
      at += 4 + len;
      return buf.toString('utf8', at - len, at);
    };
    const meta = JSON.parse(section()) as Omit<Meta, 'started'>;
    const started = section();
    at = Math.ceil(at / 8) * 8;
    const cols = {} as Columns;
    for (const c of INT_COLUMNS) {
      cols[c] = new Int32Array(buf.buffer, buf.byteOffset + at, meta.count);
      at += 4 * meta.count;
    }
    at = Math.ceil(at / 8) * 8;
    for (const c of FLOAT_COLUMNS) {
      cols[c] = new Float64Array(buf.buffer, buf.byteOffset + at, meta.count);
      at += 8 * meta.count;
    }
    if (at !== buf.length) return undefined;
    return { ...meta, started, cols };
  } catch {
    return undefined; // a cache cut short or of another version: rebuilt
  }
}

/** Writes the index whole under a temporary name and renames it: readers see the old
 * index or the new one, never half of one. A folder we cannot write keeps no index. */
function saveIndex(file: string, ix: Index): void {
  const { cols, started, ...meta } = ix;
  const json = Buffer.from(JSON.stringify(meta));
  const times = Buffer.from(started);
  const head = 8 + 4 + json.length + 4 + times.length;
  const intAt = Math.ceil(head / 8) * 8;
  const floatAt = Math.ceil((intAt + 4 * ix.count * INT_COLUMNS.length) / 8) * 8;
  const buf = Buffer.alloc(floatAt + 8 * ix.count * FLOAT_COLUMNS.length);
  buf.write(MAGIC, 0, 'latin1');
  buf.writeUInt32LE(json.length, 8);
  json.copy(buf, 12);
  buf.writeUInt32LE(times.length, 12 + json.length);
  times.copy(buf, 16 + json.length);
  INT_COLUMNS.forEach((c, k) => {
    new Int32Array(buf.buffer, buf.byteOffset + intAt + 4 * ix.count * k, ix.count).set(cols[c]);
  });
  FLOAT_COLUMNS.forEach((c, k) => {
    new Float64Array(buf.buffer, buf.byteOffset + floatAt + 8 * ix.count * k, ix.count).set(cols[c]);
  });
  try {
    writeWhole(file, buf);
  } catch {
    // a folder we cannot write: the index stays in memory
  }
}
