// The history store: one JSON record per case run, one line each, in a single file
// (reports/history.jsonl by default, `--history FILE` or HIL_HISTORY elsewhere). A nightly
// job caches or commits that one file between runs. Why a JSON-lines file and not SQLite:
// appending a night is appending lines (no lock, no native module: node:sqlite needs Node
// 22, better-sqlite3 a compiler or a binary from GitHub), two CI jobs' histories merge by
// concatenation (records carry their run id, so duplicates count once), and a person can
// grep it. Appending reads nothing; the reports read an index kept beside the file
// (history-index.ts), so a year of records (365,000) reports in under a second.
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Verdict } from '../errors.js';
import { ConfigError } from '../errors.js';
import { reportsDir, shown } from '../config/paths.js';
import { redactDeep } from '../config/env.js';
import { HistoryStore } from './history-index.js';
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

export interface HistoryRead {
  records: HistoryRecord[];
  /** Lines that are not records (cut short by a crash, edited by hand): skipped, reported. */
  bad: number[];
}

/** The store opened for reading (its summaries, full records on demand), closed once
 * `read` returns. Records seen twice (merged histories, a run added twice) count once; a
 * broken line is skipped, never fatal (the runs around it are still worth reading), and
 * with `warn` told on stderr. */
export function withHistory<T>(file: string, read: (store: HistoryStore) => T, warn = true): T {
  if (!existsSync(file))
    throw new ConfigError(`history ${shown(file)} does not exist: record runs into it first (hil run --history FILE, or hil history add RUN_DIR --history FILE)`);
  const store = HistoryStore.open(file);
  try {
    if (warn && store.bad.length)
      process.stderr.write(
        `hil: warning: ${shown(file)}: ${store.bad.length} line(s) are not records and were skipped (line ${store.bad.slice(0, 5).join(', ')}${store.bad.length > 5 ? ', ...' : ''})\n`,
      );
    return read(store);
  } finally {
    store.close();
  }
}

/** Every record of the store, in full, and its broken lines: for small stores and tests
 * (the reports read summaries). */
export function readHistoryFile(file: string): HistoryRead {
  return withHistory(file, (store) => ({ records: store.summaries.map((s) => store.record(s)), bad: store.bad }), false);
}

/** Appends the run's cases to the store; returns how many. It reads nothing of the store
 * (its last byte aside), so it costs the same at a year of records as at ten: a run
 * recorded twice is stored twice and counted once by every reader. One write per run,
 * opened for append: a crash leaves whole lines (a cut one is skipped when read), and two
 * runs appending at once do not interleave their lines. */
export function appendHistory(file: string, records: HistoryRecord[]): number {
  if (!records.length) return 0;
  mkdirSync(path.dirname(file), { recursive: true });
  const fd = openSync(file, 'a+');
  try {
    // A store whose last line was cut gets a newline first, so ours start lines of their own.
    const size = fstatSync(fd).size;
    const last = Buffer.alloc(1);
    const cut = size > 0 && readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 10;
    writeSync(fd, `${(cut ? '\n' : '') + records.map((r) => JSON.stringify(redactDeep(r))).join('\n')}\n`);
  } finally {
    closeSync(fd);
  }
  return records.length;
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
