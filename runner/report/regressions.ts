// Regressions across nightly runs, per board, by KernelCI's rule: a regression is a case
// that passed on the previous run with the same board, case and configuration, and fails
// now. Lab errors are kept apart: they are neither a pass nor a failure of the hypervisor,
// so they are skipped when deciding, and listed on their own; so are runner bugs (verdict
// `internal`), listed apart again so a broken runner never looks like a flaky lab.
// The guest's metric lines become a trend per board: the median of each night.
import type { HistoryRecord } from '../model/history.js';
import type { History } from '../history/store.js';
import { boardFacts, caseSeries, type CaseSeries, type RunRow } from '../history/queries.js';

export type CaseStatus = 'new-failure' | 'still-failing' | 'fixed' | 'flaky' | 'passing' | 'lab-errors-only';

/** What deciding a case's status needs of one run, and what strips and lists show of it. */
export type Decidable = Pick<HistoryRecord, 'board' | 'case' | 'guest' | 'config' | 'started' | 'verdict' | 'reason' | 'phase' | 'boot_s'>;

/** `R`: the runs as the history's queries give them; `G`: the runs shown in full. */
export interface CaseReport<R extends Decidable = RunRow, G extends Decidable = R> {
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
  /** The last `window` decided runs (pass, fail, timeout), oldest first. */
  decided: R[];
  /** Earlier configurations of this case on this board that are no longer run. */
  configChanged?: string;
}

export interface BoardReport<R extends Decidable = RunRow, G extends Decidable = R> {
  board: string;
  soc?: string;
  cases: CaseReport<R, G>[];
  /** The newest lab errors among the considered runs, newest first, and how many in all. */
  labErrors: R[];
  labErrorCount: number;
  /** The newest runs the runner itself broke (verdict internal), newest first, and how many. */
  runnerBugs: R[];
  runnerBugCount: number;
  /** Median power-on-to-hand-off per night (run date), for the trend chart. */
  bootTrend: { day: string; median_s: number; runs: number }[];
  /** Each metric a case's guest printed: its median per night. */
  metricTrends: { case: string; name: string; points: { day: string; median: number; runs: number }[] }[];
  runs: number;
}

export interface RegressionOptions {
  boards?: string[];
  /** ISO date or time: runs before it are not considered. */
  since?: string;
  /** How many runs the strip shows and flakiness looks at. */
  window?: number;
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

/** A case's status from its series (KernelCI's rule), with where a failure began. */
export function classify(s: CaseSeries): CaseReport {
  const { strip, decided: recent } = s;
  const latest = strip[strip.length - 1];
  const base = { board: s.board, case: s.case, guest: latest.guest, config: s.config, latest, strip, decided: recent, configChanged: s.configChanged, flips: flipsOf(recent) };
  if (recent.length === 0) return { ...base, status: 'lab-errors-only' };
  const cur = recent[recent.length - 1];
  const prev = recent[recent.length - 2];
  if (hasBlip(recent)) return { ...base, status: 'flaky' };
  if (!failed(cur)) return { ...base, status: prev && failed(prev) ? 'fixed' : 'passing' };
  return { ...base, status: prev && !failed(prev) ? 'new-failure' : 'still-failing', lastGood: s.lastGood, firstBad: s.firstBad };
}

/** The regression report of the selection, per board, from the history's queries. */
export async function analyse(h: History, o: RegressionOptions = {}): Promise<BoardReport[]> {
  const window = o.window ?? 20;
  const [series, facts] = await Promise.all([caseSeries(h.db, { ...o, window }), boardFacts(h.db, o)]);
  return facts.map((f) => {
    const apart = (v: string) => f.apart.filter((r) => r.verdict === v);
    return {
      board: f.board,
      soc: f.soc,
      cases: series.filter((s) => s.board === f.board).map(classify),
      labErrors: apart('error'),
      labErrorCount: f.labErrors,
      runnerBugs: apart('internal'),
      runnerBugCount: f.runnerBugs,
      bootTrend: f.bootTrend,
      metricTrends: f.metricTrends,
      runs: f.runs,
    };
  });
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

/** A record's identity for a person: when, which build, which images. */
export function runLabel(r: HistoryRecord): string {
  const imgs = r.images.map((i) => `${i.role} ${i.sha256.slice(0, 12)}`).join(', ');
  return `${when(r)}${r.build ? ` build ${r.build}` : ''}${imgs ? ` (${imgs})` : ''}`;
}

/** The report with the runs it shows in full (each case's latest run, last good and first
 * bad: images, hypervisor, run folder) read from the history; the strips and the lists
 * apart need only what the queries gave. */
export async function hydrate(h: History, boards: BoardReport[]): Promise<BoardReport<RunRow, HistoryRecord>[]> {
  const ids = boards.flatMap((b) => b.cases.flatMap((c) => [c.latest.id, c.lastGood?.id, c.firstBad?.id])).filter((x): x is number => x !== undefined);
  const full = await h.full(ids);
  const opt = (r?: RunRow) => (r ? full.get(r.id) : undefined);
  return boards.map((b) => ({
    ...b,
    cases: b.cases.map((c) => ({ ...c, latest: full.get(c.latest.id)!, lastGood: opt(c.lastGood), firstBad: opt(c.firstBad) })),
  }));
}
