// What the release gate, compare and bisect ask of the history about one build of the
// hypervisor: its runs per board and case, the build a board ran before it, and the last
// build on which a case passed. Each question is one indexed query (case_runs_build:
// build, board, case_name; case_runs_board_time: board, started), so a year of runs costs
// what one build's runs cost.
import type { Verdict } from '../errors.js';
import type { Sql } from './engine.js';

/** A case run of one build, as the gate and compare show it. */
export interface BuildRun {
  id: number;
  board: string;
  case: string;
  suite: string;
  started: string;
  verdict: Verdict;
  reason: string;
  phase?: string;
  build: string;
  /** The run's folder, when it was recorded from one. */
  run_dir?: string;
  /** The case's folder inside the run folder (its console.log). */
  transcript?: string;
}

const COLUMNS = `id, board, case_name, detail->>'suite' as suite, started, verdict, reason, phase, build,
  detail->>'run_dir' as run_dir, detail->>'transcript' as transcript`;

type Obj = Record<string, unknown>;
function buildRun(r: Obj): BuildRun {
  return {
    id: Number(r.id),
    board: String(r.board),
    case: String(r.case_name),
    suite: String(r.suite ?? ''),
    started: new Date(r.started as string).toISOString(),
    verdict: r.verdict as Verdict,
    reason: String(r.reason ?? ''),
    phase: (r.phase as string | null) ?? undefined,
    build: String(r.build),
    run_dir: (r.run_dir as string | null) ?? undefined,
    transcript: (r.transcript as string | null) ?? undefined,
  };
}

/** Every case run of `build` (on these boards, if given), oldest first. */
export async function runsOfBuild(db: Sql, build: string, boards?: string[]): Promise<BuildRun[]> {
  const rows = await db.query<Obj>(
    `select ${COLUMNS} from case_runs where build = $1 and ($2::text[] is null or board = any($2::text[])) order by started, id`,
    [build, boards?.length ? boards : null],
  );
  return rows.map(buildRun);
}

/** The newest build recorded on any of these boards (all boards when none given). */
export async function newestBuild(db: Sql, boards?: string[]): Promise<string | undefined> {
  const rows = boards?.length
    ? await db.query<{ build: string; started: string }>(
        `select b.build, b.started from unnest($1::text[]) as k(board),
           lateral (select build, started from case_runs where board = k.board and build is not null order by started desc limit 1) b
         order by b.started desc limit 1`,
        [boards],
      )
    : await db.query<{ build: string }>('select build from builds order by first_seen desc limit 1');
  return rows[0]?.build;
}

/** Whether the history knows this build at all. */
export async function buildKnown(db: Sql, build: string): Promise<boolean> {
  return (await db.query('select 1 from builds where build = $1', [build])).length > 0;
}

/** The build a board ran last before `before` (other than `build`), if any. */
export async function buildBefore(db: Sql, board: string, build: string, before: string): Promise<string | undefined> {
  const rows = await db.query<{ build: string }>(
    `select build from case_runs where board = $1 and build is not null and build <> $2 and started < $3 order by started desc limit 1`,
    [board, build, before],
  );
  return rows[0]?.build;
}

/** The cases a board ran since `since` (the case_configs rows every write keeps). */
export async function casesSince(db: Sql, boards: string[], since: string): Promise<Map<string, string[]>> {
  const rows = await db.query<{ board: string; case_name: string }>(
    'select distinct board, case_name from case_configs where board = any($1::text[]) and last_started >= $2 order by board, case_name',
    [boards, since],
  );
  const out = new Map<string, string[]>(boards.map((b) => [b, []]));
  for (const r of rows) out.get(r.board)!.push(r.case_name);
  return out;
}

/** The last run before `before`, of another build, on which this case passed on this board. */
export async function lastPassBefore(
  db: Sql,
  board: string,
  name: string,
  build: string,
  before: string,
): Promise<BuildRun | undefined> {
  const rows = await db.query<Obj>(
    `select ${COLUMNS} from case_runs where board = $1 and case_name = $2 and verdict = 'pass' and build is distinct from $3 and started < $4
     order by started desc limit 1`,
    [board, name, build, before],
  );
  return rows[0] ? buildRun(rows[0]) : undefined;
}
