// The history store: one JSON record per case run, one line each, in a single file
// (reports/history.jsonl by default, `--history FILE` or HIL_HISTORY elsewhere). A nightly
// job caches or commits that one file between runs. Why a JSON-lines file and not SQLite:
// appending a night is appending lines (no lock, no native module: node:sqlite needs Node
// 22, better-sqlite3 a compiler), two CI branches' histories merge by concatenation (records
// carry their run id, so duplicates are dropped on read), a person can grep it, and 10,000
// runs parse in well under a second (npm run bench).
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Verdict } from '../errors.js';
import { ConfigError } from '../errors.js';
import { reportsDir, shown } from '../config/paths.js';
import { redactDeep } from '../config/env.js';
import { allAttempts, BOOT_PHASES, readResults, type CaseResult, type RunResult } from './results.js';

export interface HistoryRecord {
  /** `<board>/<suite>/<started>`: a run records each case once. */
  run_id: string;
  started: string;
  board: string;
  soc?: string;
  suite: string;
  case: string;
  guest: string;
  /** Digest of the case's configuration (case file, build config, VM configs): a
   * regression is only a regression against the same configuration. */
  config: string;
  /** The images the run used, by role, with their SHA-256. */
  images: { role: string; file: string; sha256: string }[];
  /** The hypervisor's commit or version, when known. */
  hypervisor?: string;
  verdict: Verdict;
  reason: string;
  phase?: string;
  phases: Record<string, number>;
  /** Power-on to the hand-off to the guest, seconds. */
  boot_s?: number;
  transfers: { role: string; method: string; bytes: number; seconds: number; bytes_per_s: number }[];
  vms?: { id: number; name: string; verdict: Verdict }[];
  /** The guest's own test records: case_id and status. */
  records?: { case_id: string; status: string }[];
  /** The guest's metric lines, as name -> number (the last value when printed twice). */
  metrics?: Record<string, number>;
  /** The run's folder, when it still exists where it was written. */
  run_dir?: string;
  /** The n-th run of the case in this run, when lab errors made it run again. */
  attempt?: number;
  /** On the last run of a case: how many earlier runs ended as lab errors. */
  retried?: number;
}

export const defaultHistoryFile = () => process.env.HIL_HISTORY ?? path.join(reportsDir(), 'history.jsonl');

export function recordOf(run: RunResult, c: CaseResult, runDir?: string): HistoryRecord {
  const booted = c.phases.boot !== undefined;
  return {
    run_id: `${run.board}/${run.suite}/${run.started}`,
    started: c.started,
    board: run.board,
    soc: run.soc,
    suite: run.suite,
    case: c.name,
    guest: c.guest ?? c.name,
    config: c.config ?? '',
    images: c.images ?? [],
    hypervisor: run.hypervisor,
    verdict: c.verdict,
    reason: c.reason,
    phase: c.phase,
    phases: c.phases as Record<string, number>,
    boot_s: booted ? Math.round(BOOT_PHASES.reduce((s, p) => s + (c.phases[p] ?? 0), 0) * 1000) / 1000 : undefined,
    transfers: c.transfers.map((t) => ({ role: t.role, method: t.method, bytes: t.bytes, seconds: t.seconds, bytes_per_s: t.bytes_per_s })),
    vms: c.vms?.map((v) => ({ id: v.id, name: v.name, verdict: v.verdict })),
    records: c.records?.map((r) => ({ case_id: r.case_id, status: r.status })),
    metrics: c.metrics?.length ? Object.fromEntries(c.metrics.map((m) => [m.name, m.value])) : undefined,
    run_dir: runDir,
    attempt: c.attempt && c.attempt > 1 ? c.attempt : undefined,
    retried: c.attempts?.length || undefined,
  };
}

/** The digest of a configuration made of these files (missing files count as empty). */
export function configDigest(files: string[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(existsSync(f) ? readFileSync(f) : '').update('\0');
  return h.digest('hex').slice(0, 12);
}

const key = (r: Pick<HistoryRecord, 'run_id' | 'case' | 'attempt'>) => `${r.run_id}\0${r.case}\0${r.attempt ?? 1}`;

export interface HistoryRead {
  records: HistoryRecord[];
  /** Lines that are not records (cut short by a crash, edited by hand): skipped, reported. */
  bad: number[];
}

/** Reads the store; records seen twice (merged histories) count once; a broken line is
 * skipped and reported, never fatal (the runs around it are still worth reading). */
export function readHistoryFile(file: string): HistoryRead {
  if (!existsSync(file))
    throw new ConfigError(`history ${shown(file)} does not exist: record runs into it first (hil run --history FILE, or hil history add RUN_DIR --history FILE)`);
  const seen = new Set<string>();
  const records: HistoryRecord[] = [];
  const bad: number[] = [];
  const text = readFileSync(file, 'utf8');
  let lineNo = 0;
  for (const line of text.split('\n')) {
    lineNo++;
    if (!line.trim()) continue;
    let r: HistoryRecord;
    try {
      r = JSON.parse(line);
      if (!r || typeof r !== 'object' || typeof r.run_id !== 'string' || typeof r.case !== 'string') throw new Error('not a record');
    } catch {
      bad.push(lineNo);
      continue;
    }
    const k = key(r);
    if (seen.has(k)) continue;
    seen.add(k);
    records.push(r);
  }
  return { records, bad };
}

/** Tells on stderr of the lines of the store that are not records. */
function warnBad(file: string, bad: number[]): void {
  if (bad.length)
    process.stderr.write(
      `hil: warning: ${shown(file)}: ${bad.length} line(s) are not records and were skipped (line ${bad.slice(0, 5).join(', ')}${bad.length > 5 ? ', ...' : ''})\n`,
    );
}

/** The records of the store (see readHistoryFile); broken lines are told on stderr. */
export function readHistory(file: string): HistoryRecord[] {
  const { records, bad } = readHistoryFile(file);
  warnBad(file, bad);
  return records;
}

/** Appends the run's cases that the store does not have yet; returns how many. */
export function appendHistory(file: string, records: HistoryRecord[]): number {
  mkdirSync(path.dirname(file), { recursive: true });
  const read = existsSync(file) ? readHistoryFile(file) : { records: [], bad: [] };
  warnBad(file, read.bad);
  const have = new Set(read.records.map(key));
  const fresh = records.filter((r) => !have.has(key(r)));
  // One write per run: a crash leaves whole lines (a cut one is skipped when read). A file
  // whose last line was cut gets a newline first, so the new records start lines of their own.
  const cut = existsSync(file) && !/(^|\n)$/.test(readFileSync(file, 'utf8').slice(-1));
  if (fresh.length) appendFileSync(file, `${(cut ? '\n' : '') + fresh.map((r) => JSON.stringify(redactDeep(r))).join('\n')}\n`);
  return fresh.length;
}

/** Records a finished run's folder (its results.json) into the store. */
export function recordRun(file: string, runDir: string): { added: number; run: RunResult } {
  const run = readResults(runDir);
  return {
    added: appendHistory(
      file,
      allAttempts(run).map((c) => recordOf(run, c, path.resolve(runDir))),
    ),
    run,
  };
}
