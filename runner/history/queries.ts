// What the reports and the release gate ask of the history, as SQL that runs the same on
// PGlite and on a server. Each question is answered from indexes and the derived tables
// (schema.ts), never by reading every run: per case, its current configuration's last runs
// and the bounds of its failing streak; per board, its nights.
import type { Verdict } from '../errors.js';
import type { Sql } from './engine.js';
import { RECENT, RUN_TUPLE } from './schema.js';

/** One case run as the reports decide with it and show it in strips and lists. */
export interface RunRow {
  id: number;
  board: string;
  case: string;
  guest: string;
  config: string;
  started: string;
  verdict: Verdict;
  reason: string;
  phase?: string;
  boot_s?: number;
  build?: string;
  /** The run's folder, where it was written, and the case's folder in it (its console.log). */
  run_dir?: string;
  transcript?: string;
}

/** A case on a board: its current configuration's runs as a report needs them. */
export interface CaseSeries {
  board: string;
  case: string;
  config: string;
  /** The last `window` runs, oldest first (lab errors and runner bugs included), whatever
   * their configuration: each run's `config` says where the case file changed. */
  strip: RunRow[];
  /** The last `window` decided runs (pass, fail, timeout) of the current configuration,
   * oldest first: what the case's status is decided from. */
  decided: RunRow[];
  /** The current configuration's last pass, and the first failure after it. */
  lastGood?: RunRow;
  firstBad?: RunRow;
  /** When the current configuration never passed: the case's last pass on this board under
   * an earlier configuration (a case that passed for weeks, then had its file changed and
   * fails, did pass: just not as it is now). */
  passedBefore?: RunRow;
  /** When the current configuration's first run was, if the case ran under another. */
  configChanged?: string;
}

export interface Selection {
  /** Only these boards (all when empty or undefined). */
  boards?: string[];
  /** ISO time: runs before it are not considered. */
  since?: string;
}

const NEVER = '-infinity';
type Obj = Record<string, unknown>;
type Tuple = [
  number,
  string,
  string,
  string,
  Verdict,
  string,
  string | null,
  number | null,
  string,
  string | null,
  string | null,
  string | null,
];

/** A run from its JSON array (RUN_TUPLE; kept before the run's folder was in it: without). */
function row(t: Tuple | null | undefined, board: string): RunRow | undefined {
  if (!t) return undefined;
  const [id, name, config, started, verdict, reason, phase, boot, guest, build, runDir, transcript] = t;
  return {
    id,
    board,
    case: name,
    config,
    guest,
    started: new Date(started).toISOString(),
    verdict,
    reason: reason ?? '',
    phase: phase ?? undefined,
    boot_s: boot ?? undefined,
    build: build ?? undefined,
    run_dir: runDir ?? undefined,
    transcript: transcript ?? undefined,
  };
}
const decides = (r: RunRow) => r.verdict === 'pass' || r.verdict === 'fail' || r.verdict === 'timeout';

const boardFilter = (s: Selection) => (s.boards?.length ? s.boards : null);
/** Runs kept as JSON text (schema.ts), or read as JSON. */
const parsed = <T>(v: unknown): T | null => (typeof v === 'string' ? JSON.parse(v) : ((v as T | null) ?? null));
const rows = (list: unknown, board: string) => (parsed<Tuple[]>(list) ?? []).map((t) => row(t, board)!);

/**
 * The last `window` runs since `since` out of a kept list of the series' last runs, when the
 * list holds them all: it does when it is not full (it is the whole series) or it reaches
 * back past `since` or holds `window` runs since then. Undefined: ask the runs themselves.
 */
function lastOf(
  kept: RunRow[],
  since: string | undefined,
  window: number,
  which: (r: RunRow) => boolean = () => true,
): RunRow[] | undefined {
  const after = kept.filter((r) => (!since || r.started >= since) && which(r));
  if (after.length >= window || kept.length < RECENT || (since && kept.length && kept[0].started < since))
    return after.slice(-window);
  return undefined;
}

/** Every case of the selection with its current configuration's series. */
export async function caseSeries(db: Sql, s: Selection & { window: number }): Promise<CaseSeries[]> {
  const found = await db.query<Obj>(
    `with cur as (
       select distinct on (board, case_name) *
       from case_configs
       where ($1::text[] is null or board = any($1::text[])) and last_started >= $2
       order by board, case_name, last_started desc
     )
     select cur.board, cur.case_name, cur.config, cur.first_started, cur.recent, cur.last_good, cur.first_bad,
       exists (select 1 from case_configs o where o.board = cur.board and o.case_name = cur.case_name and o.config <> cur.config and o.last_started >= $2) as changed,
       case when cur.last_good is null then
         (select o.last_good from case_configs o where o.board = cur.board and o.case_name = cur.case_name and o.config <> cur.config and o.last_good is not null
          order by (o.last_good::jsonb->>3)::timestamptz desc limit 1) end as passed_before
     from cur order by cur.board, cur.case_name`,
    [boardFilter(s), s.since ?? NEVER],
  );
  const out: CaseSeries[] = [];
  const live: number[] = [];
  const changed: number[] = [];
  for (const r of found) {
    const board = String(r.board);
    const recent = rows(r.recent, board);
    const strip = lastOf(recent, s.since, s.window);
    const decided = lastOf(recent, s.since, s.window, decides);
    const first = new Date(String(r.first_started)).toISOString();
    // A strip across configurations longer than the kept lists: from the runs.
    if (!strip || !decided || (r.changed && ((s.since && s.since > first) || s.window > RECENT))) live.push(out.length);
    else if (r.changed) changed.push(out.length);
    out.push({
      board,
      case: String(r.case_name),
      config: String(r.config),
      strip: strip ?? [],
      decided: decided ?? [],
      // Whatever the selection's start: a failure that began before --since began there.
      lastGood: row(parsed<Tuple>(r.last_good), board),
      firstBad: row(parsed<Tuple>(r.first_bad), board),
      passedBefore: row(parsed<Tuple>(r.passed_before), board),
      configChanged: r.changed ? first : undefined,
    });
  }
  if (changed.length)
    await earlierConfigs(
      db,
      changed.map((i) => out[i]),
      s,
    );
  if (live.length)
    await fromRuns(
      db,
      live.map((i) => out[i]),
      s,
    );
  return out;
}

/**
 * The strips of cases whose file changed: the other configurations' kept runs merged in.
 * Each kept list holds its configuration's last RECENT runs, so it holds every run of it
 * among the case's last `window` (at most RECENT: a longer window reads the runs).
 */
async function earlierConfigs(db: Sql, series: CaseSeries[], s: Selection & { window: number }): Promise<void> {
  const found = await db.query<Obj>(
    `select k.i, o.recent from unnest($1::text[], $2::text[], $3::text[]) with ordinality as k(board, case_name, config, i)
     cross join lateral (select recent from case_configs o where o.board = k.board and o.case_name = k.case_name and o.config <> k.config and o.last_started >= $4
                         order by o.last_started desc limit $5) o`,
    [series.map((c) => c.board), series.map((c) => c.case), series.map((c) => c.config), s.since ?? NEVER, s.window],
  );
  const more = new Map<number, RunRow[]>();
  for (const r of found) {
    const i = Number(r.i) - 1;
    more.set(i, [
      ...(more.get(i) ?? []),
      ...rows(r.recent, series[i].board).filter((x) => !s.since || x.started >= s.since),
    ]);
  }
  for (const [i, runs] of more) {
    const c = series[i];
    c.strip = [...runs, ...c.strip]
      .sort((a, b) => (a.started < b.started ? -1 : a.started > b.started ? 1 : a.id - b.id))
      .slice(-s.window);
  }
}

/** The series the kept lists cannot answer (a window over 30, a --since deep in a long
 * series), read from the runs themselves. */
async function fromRuns(db: Sql, series: CaseSeries[], s: Selection & { window: number }): Promise<void> {
  // A case whose file changed has a strip across its configurations: its runs in the order
  // they started (each case's few hundred a year); any other reads its configuration's last
  // runs straight off the index.
  const across = series.filter((c) => c.configChanged !== undefined);
  const within = series.filter((c) => c.configChanged === undefined);
  if (within.length) await runsOf(db, within, s, false);
  if (across.length) await runsOf(db, across, s, true);
}

async function runsOf(
  db: Sql,
  series: CaseSeries[],
  s: Selection & { window: number },
  across: boolean,
): Promise<void> {
  const same = 'r.board = k.board and r.case_name = k.case_name and r.config = k.config and r.started >= $4';
  const any = 'r.board = k.board and r.case_name = k.case_name and r.started >= $4';
  const strip = across
    ? `(select jsonb_agg(${RUN_TUPLE} order by r.started, r.id) from case_runs r
          where r.id in (select r.id from case_runs r where ${any} order by r.started desc, r.id desc limit $5))`
    : `(select jsonb_agg(o order by st) from (select r.started as st, ${RUN_TUPLE} as o from case_runs r where ${same} order by r.started desc limit $5) x)`;
  const found = await db.query<Obj>(
    `select k.i,
       (select min(r.started) from case_runs r where ${same}) as first_started,
       ${strip} as strip,
       (select jsonb_agg(o order by st) from (select r.started as st, ${RUN_TUPLE} as o from case_runs r
          where ${same} and r.verdict in ('pass', 'fail', 'timeout') order by r.started desc limit $5) x) as decided
     from unnest($1::text[], $2::text[], $3::text[]) with ordinality as k(board, case_name, config, i)`,
    [series.map((c) => c.board), series.map((c) => c.case), series.map((c) => c.config), s.since ?? NEVER, s.window],
  );
  for (const r of found) {
    const c = series[Number(r.i) - 1];
    c.strip = rows(r.strip, c.board);
    c.decided = rows(r.decided, c.board);
    if (c.configChanged) c.configChanged = new Date(String(r.first_started)).toISOString();
  }
}

export interface BoardFacts {
  board: string;
  soc?: string;
  runs: number;
  labErrors: number;
  runnerBugs: number;
  bootTrend: { day: string; median_s: number; runs: number }[];
  /** Per case and metric name: its median per night, and its unit (the newest given). */
  metricTrends: {
    case: string;
    name: string;
    unit?: string;
    points: { day: string; median: number; runs: number }[];
  }[];
  /** The newest lab errors and runner bugs (at most 100 of each), newest first. */
  apart: RunRow[];
  /** The nights (UTC days) the board ran anything, oldest first. */
  nights: string[];
}

/** Per board: counts, nights, and the newest runs that decided nothing. */
export async function boardFacts(db: Sql, s: Selection): Promise<BoardFacts[]> {
  const since = s.since ?? NEVER;
  const counts = await db.query<{ board: string; runs: number; lab_errors: number; runner_bugs: number }>(
    `select board, sum(runs)::int as runs, sum(lab_errors)::int as lab_errors, sum(runner_bugs)::int as runner_bugs
     from board_days where ($1::text[] is null or board = any($1::text[])) and day >= ($2::timestamptz at time zone 'UTC')::date
     group by board order by board`,
    [boardFilter(s), since],
  );
  const boards = counts.map((c) => c.board);
  if (!boards.length) return [];
  // A --since inside a day: the runs of that day before it are not counted.
  const partial =
    s.since && !s.since.endsWith('T00:00:00.000Z')
      ? await db.query<{ board: string; runs: number; lab_errors: number; runner_bugs: number }>(
          `select board, count(*)::int as runs, (count(*) filter (where verdict = 'error'))::int as lab_errors,
             (count(*) filter (where verdict = 'internal'))::int as runner_bugs
           from case_runs where board = any($1::text[]) and started >= date_trunc('day', $2::timestamptz) and started < $2
           group by board`,
          [boards, since],
        )
      : [];
  const kept = await db.query<{ board: string; soc: string | null; apart: string | null }>(
    'select board, soc, apart from boards where board = any($1::text[])',
    [boards],
  );
  const days = await db.query<{ board: string; day: string; boot_median: number | null; boot_runs: number }>(
    `select board, day::text as day, boot_median, boot_runs from board_days
     where board = any($1::text[]) and day >= ($2::timestamptz at time zone 'UTC')::date and runs > 0 order by board, day`,
    [boards, since],
  );
  const metrics = await db.query<{
    board: string;
    case_name: string;
    name: string;
    day: string;
    median: number;
    runs: number;
    unit: string | null;
  }>(
    `select board, case_name, name, day::text as day, median, runs, unit from metric_days
     where board = any($1::text[]) and day >= ($2::timestamptz at time zone 'UTC')::date order by board, case_name, name, day`,
    [boards, since],
  );
  return counts.map((c) => {
    const cut = partial.find((p) => p.board === c.board);
    const trends = new Map<string, BoardFacts['metricTrends'][number]>();
    for (const m of metrics.filter((x) => x.board === c.board)) {
      const key = `${m.case_name}\u0000${m.name}`;
      if (!trends.has(key)) trends.set(key, { case: m.case_name, name: m.name, points: [] });
      const t = trends.get(key)!;
      t.points.push({ day: m.day, median: m.median, runs: m.runs });
      if (m.unit) t.unit = m.unit;
    }
    const nights = days.filter((d) => d.board === c.board);
    return {
      board: c.board,
      soc: kept.find((x) => x.board === c.board)?.soc ?? undefined,
      runs: c.runs - (cut?.runs ?? 0),
      labErrors: c.lab_errors - (cut?.lab_errors ?? 0),
      runnerBugs: c.runner_bugs - (cut?.runner_bugs ?? 0),
      bootTrend: nights
        .filter((d) => d.boot_runs > 0 && d.boot_median !== null)
        .map((d) => ({ day: d.day, median_s: Math.round(d.boot_median! * 1000) / 1000, runs: d.boot_runs })),
      nights: nights.map((d) => d.day),
      metricTrends: [...trends.values()],
      apart: rows(kept.find((x) => x.board === c.board)?.apart, c.board).filter(
        (r) => !s.since || r.started >= s.since,
      ),
    };
  });
}
