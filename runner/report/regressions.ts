// Regressions across nightly runs, per board, by KernelCI's rule: a regression is a case
// that passed on the previous run with the same board, case and configuration, and fails
// now. Lab errors are kept apart: they are neither a pass nor a failure of the hypervisor,
// so they are skipped when deciding, and listed on their own, one row per cause (the same
// phase and reason once numbers, times and paths are set aside); so are runner bugs
// (verdict `internal`), listed apart again so a broken runner never looks like a flaky lab.
// The guest's metric lines become a trend per board: the median of each night.
//
// A night is a UTC day (the day of a run's start in UTC): a board's nights are the days it
// ran anything; a night the board ran and a case did not is a gap in that case's strip.
// Days the board ran nothing at all (the lab idle, a weekend) are no gap.
import type { HistoryRecord } from '../model/history.js';
import type { History } from '../history/store.js';
import { boardFacts, caseSeries, type CaseSeries, type RunRow } from '../history/queries.js';

export type CaseStatus = 'new-failure' | 'still-failing' | 'fixed' | 'flaky' | 'passing' | 'lab-errors-only';

/** What deciding a case's status needs of one run, and what strips and lists show of it. */
export type Decidable = Pick<
  HistoryRecord,
  | 'board'
  | 'case'
  | 'guest'
  | 'config'
  | 'started'
  | 'verdict'
  | 'reason'
  | 'phase'
  | 'boot_s'
  | 'build'
  | 'run_dir'
  | 'transcript'
>;

/** `R`: the runs as the history's queries give them; `G`: the runs shown in full. */
export interface CaseReport<R extends Decidable = RunRow, G extends Decidable = R> {
  board: string;
  case: string;
  guest: string;
  config: string;
  status: CaseStatus;
  /** The newest run (a lab error, a runner bug or decided). */
  latest: G;
  /** The newest decided run: what a failure is shown by (a lab error after it says nothing
   * about the hypervisor). */
  now?: G;
  /** For a failure: the last run that passed before it, and the first that failed after
   * (the same configuration's, whatever --since). */
  lastGood?: G;
  firstBad?: G;
  /** For a failure of a configuration that never passed: the last pass under an earlier one. */
  passedBefore?: G;
  /** Status changes among the last `window` decided runs. */
  flips: number;
  /** The last `window` runs, oldest first (lab errors included, shown grey), of every
   * configuration (a run's `config` tells where the case file changed). */
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
  /** The same, one per cause, most frequent first. */
  labCauses: Cause<R>[];
  /** The newest runs the runner itself broke (verdict internal), newest first, and how many. */
  runnerBugs: R[];
  runnerBugCount: number;
  bugCauses: Cause<R>[];
  /** Median power-on-to-hand-off per night (run date), for the trend chart. */
  bootTrend: { day: string; median_s: number; runs: number }[];
  /** Each metric a case's guest printed: its median per night, and its unit. */
  metricTrends: {
    case: string;
    name: string;
    unit?: string;
    points: { day: string; median: number; runs: number }[];
  }[];
  /** The nights (UTC days) the board ran anything, oldest first. */
  nights: string[];
  runs: number;
}

/** Lab errors (or runner bugs) of one cause: the same phase, and the same reason once the
 * numbers, times, addresses and paths in it are set aside. */
export interface Cause<R extends Decidable = Decidable> {
  verdict: string;
  phase?: string;
  /** The reason with what varies replaced: `{path}`, `{time}`, `{hex}`, `N`. */
  cause: string;
  count: number;
  /** The oldest and the newest of them (the newest's reason is shown as it was). */
  first: R;
  last: R;
  boards: string[];
  cases: string[];
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
  const base = {
    board: s.board,
    case: s.case,
    guest: latest.guest,
    config: s.config,
    latest,
    strip,
    decided: recent,
    configChanged: s.configChanged,
    flips: flipsOf(recent),
  };
  if (recent.length === 0) return { ...base, status: 'lab-errors-only' };
  const cur = recent[recent.length - 1];
  const prev = recent[recent.length - 2];
  const now = { ...base, now: cur };
  if (hasBlip(recent)) return { ...now, status: 'flaky' };
  if (!failed(cur)) return { ...now, status: prev && failed(prev) ? 'fixed' : 'passing' };
  // The run before it may be before --since: the kept first failure says whether this is it.
  const isNew = prev ? !failed(prev) : s.lastGood !== undefined && s.firstBad?.id === cur.id;
  return {
    ...now,
    status: isNew ? 'new-failure' : 'still-failing',
    lastGood: s.lastGood,
    firstBad: s.firstBad,
    passedBefore: s.lastGood ? undefined : s.passedBefore,
  };
}

/**
 * A reason with what varies between two occurrences of one cause set aside: times, paths,
 * addresses, digests and numbers (`/dev/ttyUSB0 ... within 5 s` and `/dev/ttyUSB1 ...
 * within 7 s` are one cause).
 */
export function causeOf(reason: string): string {
  return reason
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?/g, '{time}')
    .replace(/\b\d{1,2}:\d{2}:\d{2}(?:\.\d+)?\b/g, '{time}')
    .replace(/[a-z][a-z0-9+.-]*:\/\/[^\s"',;)]+/gi, '{url}')
    .replace(/(?<![\w}])(?:~|\.{1,2})?(?:\/[^\s/"',;:)]+)+\/?/g, '{path}')
    .replace(/\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b/g, '{address}')
    .replace(/\b0x[0-9a-f]+\b/gi, '{hex}')
    .replace(/\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,}\b/gi, '{hex}')
    .replace(/[-+]?\d+(?:\.\d+)?/g, 'N');
}

/** Runs that decided nothing, one entry per cause, the most frequent first. */
export function causes<R extends Decidable>(rows: R[]): Cause<R>[] {
  const by = new Map<string, Cause<R>>();
  for (const r of rows) {
    const cause = causeOf(r.reason);
    const key = [r.verdict, r.phase ?? '', cause].join('\u0000');
    const c = by.get(key);
    if (!c) {
      by.set(key, {
        verdict: r.verdict,
        phase: r.phase,
        cause,
        count: 1,
        first: r,
        last: r,
        boards: [r.board],
        cases: [r.case],
      });
      continue;
    }
    c.count++;
    if (r.started < c.first.started) c.first = r;
    if (r.started > c.last.started) c.last = r;
    if (!c.boards.includes(r.board)) c.boards.push(r.board);
    if (!c.cases.includes(r.case)) c.cases.push(r.case);
  }
  const out = [...by.values()];
  for (const c of out) {
    c.boards.sort();
    c.cases.sort();
  }
  return out.sort((a, b) => b.count - a.count || (a.last.started < b.last.started ? 1 : -1));
}

/** A cell of a case's strip: a run (and whether the case file changed since the run before
 * it), or nights the board ran without this case. */
export type StripCell<R extends Decidable> = { run: R; configFrom?: string } | { gap: string[] };

/** The day, in UTC, a run started: its night. */
export const nightOf = (r: Pick<Decidable, 'started'>) => r.started.slice(0, 10);

/**
 * A case's strip as shown: its runs, oldest first, with the board's nights between and after
 * them on which the case did not run (consecutive ones together); where the configuration
 * differs from the run before, the case file changed.
 */
export function stripCells<R extends Decidable>(strip: R[], nights: string[]): StripCell<R>[] {
  if (!strip.length) return [];
  const out: StripCell<R>[] = [];
  const byNight = new Map<string, R[]>();
  for (const r of strip) byNight.set(nightOf(r), [...(byNight.get(nightOf(r)) ?? []), r]);
  const first = nightOf(strip[0]);
  const days = [...new Set([...nights.filter((d) => d >= first), ...byNight.keys()])].sort();
  let prev: R | undefined;
  for (const d of days) {
    const runs = byNight.get(d);
    if (!runs) {
      const last = out[out.length - 1];
      if (last && 'gap' in last) last.gap.push(d);
      else out.push({ gap: [d] });
      continue;
    }
    for (const r of runs) {
      out.push(prev && prev.config !== r.config ? { run: r, configFrom: prev.config } : { run: r });
      prev = r;
    }
  }
  return out;
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
      labCauses: causes(apart('error')),
      runnerBugs: apart('internal'),
      runnerBugCount: f.runnerBugs,
      bugCauses: causes(apart('internal')),
      bootTrend: f.bootTrend,
      metricTrends: f.metricTrends,
      nights: f.nights,
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

/** The report with the runs it shows in full (each case's latest and latest decided run,
 * last good and first bad: images, build, run folder) read from the history; the strips and
 * the lists apart need only what the queries gave. */
export async function hydrate(h: History, boards: BoardReport[]): Promise<BoardReport<RunRow, HistoryRecord>[]> {
  const ids = boards
    .flatMap((b) =>
      b.cases.flatMap((c) => [c.latest.id, c.now?.id, c.lastGood?.id, c.firstBad?.id, c.passedBefore?.id]),
    )
    .filter((x): x is number => x !== undefined);
  const full = await h.full(ids);
  const opt = (r?: RunRow) => (r ? full.get(r.id) : undefined);
  return boards.map((b) => ({
    ...b,
    cases: b.cases.map((c) => ({
      ...c,
      latest: full.get(c.latest.id)!,
      now: opt(c.now),
      lastGood: opt(c.lastGood),
      firstBad: opt(c.firstBad),
      passedBefore: opt(c.passedBefore),
    })),
  }));
}
