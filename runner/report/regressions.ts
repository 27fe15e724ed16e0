// Regressions across nightly runs, per board, by KernelCI's rule: a regression is a case
// that passed on the previous run with the same board, case and configuration, and fails
// now. Lab errors are kept apart: they are neither a pass nor a failure of the hypervisor,
// so they are skipped when deciding, and listed on their own; so are runner bugs (verdict
// `internal`), listed apart again so a broken runner never looks like a flaky lab.
// The guest's metric lines become a trend per board: the median of each night.
import type { HistoryRecord } from '../model/history.js';
import type { Decidable } from '../model/history-index.js';

export type CaseStatus = 'new-failure' | 'still-failing' | 'fixed' | 'flaky' | 'passing' | 'lab-errors-only';

/** `R`: full records, or the store's summaries of them until the report shows them (hydrate). */
export interface CaseReport<R extends Decidable = HistoryRecord, G extends Decidable = R> {
  board: string;
  case: string;
  guest: string;
  config: string;
  status: CaseStatus;
  latest: G;
  /** For a failure: the last run that passed before it, and the first that failed after. */
  lastGood?: G;
  firstBad?: G;
  /** Status changes among the last `window` decided runs. */
  flips: number;
  /** The last `window` runs, oldest first (lab errors included, shown grey). */
  strip: R[];
  /** Earlier configurations of this case on this board that are no longer run. */
  configChanged?: string;
}

export interface BoardReport<R extends Decidable = HistoryRecord, G extends Decidable = R> {
  board: string;
  soc?: string;
  cases: CaseReport<R, G>[];
  /** Lab errors among the considered runs, newest first. */
  labErrors: R[];
  /** Runs the runner itself broke (verdict internal), newest first. */
  runnerBugs: R[];
  /** Median power-on-to-hand-off per night (run date), for the trend chart. */
  bootTrend: { day: string; median_s: number; runs: number }[];
  /** Each metric the guests printed: its median per night. */
  metricTrends: { name: string; points: { day: string; median: number; runs: number }[] }[];
  runs: number;
}

export interface RegressionOptions {
  board?: string;
  /** ISO date or time: runs before it are not considered. */
  since?: string;
  /** How many runs the strip shows and flakiness looks at. */
  window?: number;
  /** The records are in the order they started already (the history store's summaries). */
  inTimeOrder?: boolean;
}

const failed = (r: Decidable) => r.verdict === 'fail' || r.verdict === 'timeout';
/** A run that says something about the hypervisor: not a lab error, not a runner bug. */
export const isDecided = (r: Decidable) => r.verdict !== 'error' && r.verdict !== 'internal';

/** Status changes (pass <-> not pass) along decided runs. */
function flipsOf(decided: Decidable[]): number {
  let n = 0;
  for (let i = 1; i < decided.length; i++) if (failed(decided[i]) !== failed(decided[i - 1])) n++;
  return n;
}

/** Flaky: a blip, one run whose outcome differs from the runs on both sides of it (P F P,
 * F P F). A fix after a long failure (P..P F..F P) or a regression is not flaky. */
function hasBlip(decided: Decidable[]): boolean {
  for (let i = 1; i < decided.length - 1; i++) {
    const f = failed(decided[i]);
    if (f !== failed(decided[i - 1]) && f !== failed(decided[i + 1])) return true;
  }
  return false;
}

function classify<R extends Decidable>(series: R[], window: number): Omit<CaseReport<R>, 'board' | 'case' | 'guest' | 'config' | 'configChanged'> {
  const latest = series[series.length - 1];
  const strip = series.slice(-window);
  const decided = series.filter(isDecided);
  const recent = decided.slice(-window);
  const flips = flipsOf(recent);
  if (decided.length === 0) return { status: 'lab-errors-only', latest, flips, strip };
  const cur = decided[decided.length - 1];
  const prev = decided[decided.length - 2];
  if (hasBlip(recent)) return { status: 'flaky', latest, flips, strip };
  if (!failed(cur)) return { status: prev && failed(prev) ? 'fixed' : 'passing', latest, flips, strip };
  // The failing streak and what came before it.
  let i = decided.length - 1;
  while (i > 0 && failed(decided[i - 1])) i--;
  const firstBad = decided[i];
  const lastGood = i > 0 ? decided[i - 1] : undefined;
  return { status: prev && !failed(prev) ? 'new-failure' : 'still-failing', latest, lastGood, firstBad, flips, strip };
}

/** Records grouped by a key, groups and records in their first-seen order. */
function groupBy<R>(records: R[], key: (r: R) => string): Map<string, R[]> {
  const groups = new Map<string, R[]>();
  for (const r of records) {
    const k = key(r);
    const list = groups.get(k);
    if (list) list.push(r);
    else groups.set(k, [r]);
  }
  return groups;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export function analyse<R extends Decidable>(records: R[], o: RegressionOptions = {}): BoardReport<R>[] {
  const window = o.window ?? 20;
  const considered = o.board || o.since ? records.filter((r) => (!o.board || r.board === o.board) && (!o.since || r.started >= o.since)) : [...records];
  // ISO timestamps sort as strings. The store's summaries come in time order (its index
  // keeps them so): sorting a year of records cost more than the rest of the analysis.
  if (!o.inTimeOrder) considered.sort((a, b) => (a.started < b.started ? -1 : a.started > b.started ? 1 : 0));
  const out: BoardReport<R>[] = [];
  for (const [board, runs] of [...groupBy(considered, (r) => r.board)].sort(([a], [b]) => a.localeCompare(b))) {
    const cases: CaseReport<R>[] = [];
    for (const [name, all] of groupBy(runs, (r) => r.case)) {
      // Only the configuration run last counts: a failure under a new configuration is
      // not a regression of the old one.
      const config = all[all.length - 1].config;
      const series = all.filter((r) => r.config === config);
      const older = all.find((r) => r.config !== config);
      cases.push({ board, case: name, guest: series[series.length - 1].guest, config, ...classify(series, window), configChanged: older ? series[0].started : undefined });
    }
    cases.sort((a, b) => a.case.localeCompare(b.case));
    const booted = runs.filter((r) => r.boot_s !== undefined && isDecided(r));
    const days = groupBy(booted, (r) => r.started.slice(0, 10));
    const seen = new Set<string>();
    for (const r of runs) if (r.metrics) for (const k in r.metrics) seen.add(k);
    const names = [...seen].sort();
    const metricTrends = names.map((name) => {
      const byDay = groupBy(
        runs.filter((r) => r.metrics?.[name] !== undefined),
        (r) => r.started.slice(0, 10),
      );
      return { name, points: [...byDay].map(([day, rs]) => ({ day, median: median(rs.map((r) => r.metrics![name])), runs: rs.length })) };
    });
    out.push({
      board,
      soc: runs.find((r) => r.soc)?.soc,
      cases,
      labErrors: runs.filter((r) => r.verdict === 'error').reverse(),
      runnerBugs: runs.filter((r) => r.verdict === 'internal').reverse(),
      bootTrend: [...days].map(([day, rs]) => ({ day, median_s: Math.round(median(rs.map((r) => r.boot_s!)) * 1000) / 1000, runs: rs.length })),
      metricTrends,
      runs: runs.length,
    });
  }
  return out;
}

export const STATUS_TITLES: Record<CaseStatus, string> = {
  'new-failure': 'New failures (passed last time, fail now)',
  'still-failing': 'Still failing',
  fixed: 'Fixed (failed last time, pass now)',
  flaky: 'Flaky (pass and fail alternate)',
  passing: 'Passing',
  'lab-errors-only': 'Only lab errors (no decided run)',
};

/** When a run started, to the minute, as people read it. */
export const when = (r: Pick<HistoryRecord, 'started'>) => r.started.slice(0, 16).replace('T', ' ');

/** A record's identity for a person: when, which images, which hypervisor. */
export function runLabel(r: HistoryRecord): string {
  const imgs = r.images.map((i) => `${i.role} ${i.sha256.slice(0, 12)}`).join(', ');
  return `${when(r)}${r.hypervisor ? ` hv ${r.hypervisor}` : ''}${imgs ? ` (${imgs})` : ''}`;
}

/** The report with the runs it shows in full (each case's latest run, last good and first
 * bad: images, hypervisor, run folder) read as full records by `record`; the strips and
 * the lists apart need only what the summaries hold. */
export function hydrate<R extends Decidable>(boards: BoardReport<R>[], record: (r: R) => HistoryRecord): BoardReport<R, HistoryRecord>[] {
  const opt = (r?: R) => (r ? record(r) : undefined);
  return boards.map((b) => ({
    ...b,
    cases: b.cases.map((c) => ({ ...c, latest: record(c.latest), lastGood: opt(c.lastGood), firstBad: opt(c.firstBad) })),
  }));
}
