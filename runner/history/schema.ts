// The history's schema, the same on PGlite and on a PostgreSQL server. The tables a run
// writes are the truth (runs, case_runs, sub_results, metrics, builds); three more are
// kept by every write, in the same transaction, from those rows, so a report over a year
// reads a few thousand small rows instead of every run (365,000 runs' rows are spread
// over 100,000 pages; a case's last runs alone are on 20 different pages):
//   case_configs  each configuration a case ran under on a board: first and last run, its
//                 last 30 runs, its last pass and the first failure after it
//   boards        per board: its SoC, its newest 100 lab errors and runner bugs
// The kept runs are JSON as text, uncompressed: a report reads them whole, and turning
// PostgreSQL's jsonb back into text cost more than the rest of the report's queries.
//   board_days    per board and night: runs, lab errors, runner bugs, median boot time
//   metric_days   per board, case, metric and night: the median value, and its unit
// A write recomputes those rows for the keys it touched from the base rows, under one
// advisory lock that every writer takes, so two hosts recording at once never lose a count.
import type { Sql } from './engine.js';

/** 2: bisects; 3: metric units per night, run folders in the kept runs. Every statement of DDL is idempotent, so an older store is brought up to
 * date by running it again (new tables and columns go at its end, `if not exists`). */
export const SCHEMA_VERSION = 3;
/** The advisory lock every write transaction takes (an arbitrary 64-bit key: "hilh"). */
export const WRITE_LOCK = 0x68696c68;

/** How many of a case's last runs, and of a board's last lab errors, the derived rows keep
 * (a report's strip shows 20; a longer --window reads the runs themselves). */
export const RECENT = 30;
export const RECENT_APART = 100;
/** A case run as the derived rows keep it: an array, not an object (a year's report reads
 * 30,000 of them, and their keys were most of the bytes). runner/history/queries.ts reads it.
 * The run's folder and the case's folder in it (its console.log) come last: a report links
 * each run it shows to them. Rows kept before they were added have none, until the next
 * write of their case refreshes them. */
export const RUN_TUPLE = `jsonb_build_array(r.id, r.case_name, r.config, r.started, r.verdict, r.reason, r.phase, r.boot_s, r.guest, r.build, r.detail->>'run_dir', r.detail->>'transcript')`;

const DDL = `
create table if not exists hil_meta (key text primary key, value text not null);
create table if not exists builds (
  build text primary key,
  first_seen timestamptz not null
);
create table if not exists runs (
  run_id text primary key,
  board text not null,
  soc text,
  suite text not null,
  started timestamptz not null,
  build text references builds (build),
  recorded_at timestamptz not null default now()
);
create table if not exists case_runs (
  id serial primary key,
  run_id text not null references runs (run_id),
  board text not null,
  case_name text not null,
  attempt int not null,
  guest text not null,
  config text not null,
  started timestamptz not null,
  verdict text not null check (verdict in ('pass', 'fail', 'error', 'timeout', 'internal')),
  reason text not null,
  phase text,
  boot_s double precision,
  build text,
  detail jsonb not null,
  unique (run_id, case_name, attempt)
);
create index if not exists case_runs_series on case_runs (board, case_name, config, started);
create index if not exists case_runs_board_time on case_runs (board, started);
create index if not exists case_runs_build on case_runs (build, board, case_name);
create index if not exists case_runs_lab on case_runs (board, started) where verdict in ('error', 'internal');
create table if not exists sub_results (
  case_run int not null references case_runs (id) on delete cascade,
  kind text not null check (kind in ('vm', 'record')),
  name text not null,
  verdict text not null
);
create index if not exists sub_results_case on sub_results (case_run);
create table if not exists metrics (
  case_run int not null references case_runs (id) on delete cascade,
  name text not null,
  value double precision not null,
  unit text
);
create index if not exists metrics_case on metrics (case_run);
create table if not exists case_configs (
  board text not null,
  case_name text not null,
  config text not null,
  first_started timestamptz not null,
  last_started timestamptz not null,
  runs int not null,
  recent text,
  last_good text,
  first_bad text,
  primary key (board, case_name, config)
);
alter table case_configs alter column recent set storage external;
create table if not exists boards (
  board text primary key,
  soc text,
  apart text
);
create table if not exists board_days (
  board text not null,
  day date not null,
  runs int not null,
  lab_errors int not null,
  runner_bugs int not null,
  boot_median double precision,
  boot_runs int not null,
  primary key (board, day)
);
create table if not exists metric_days (
  board text not null,
  case_name text not null,
  name text not null,
  day date not null,
  median double precision not null,
  runs int not null,
  primary key (board, case_name, name, day)
);
create table if not exists bisects (
  id serial primary key,
  board text not null,
  case_name text not null,
  good text not null,
  bad text not null,
  first_bad text,
  last_good text,
  started timestamptz not null,
  finished timestamptz not null,
  outcome text not null,
  detail jsonb not null
);
alter table metric_days add column if not exists unit text;
`;

/** Creates the schema where there is none, and refuses one this runner does not know. */
export async function ensureSchema(db: Sql): Promise<void> {
  const have = await db.query<{ t: string | null }>("select to_regclass('hil_meta')::text as t");
  if (have[0]?.t) {
    const v = await db.query<{ value: string }>("select value from hil_meta where key = 'schema_version'");
    const version = Number(v[0]?.value);
    if (version === SCHEMA_VERSION) return;
    if (version > SCHEMA_VERSION)
      throw new Error(
        `the history ${db.where} has schema version ${version}, newer than this runner's (${SCHEMA_VERSION}): update the runner`,
      );
  }
  // Two hosts creating the schema at once would race in PostgreSQL's catalog: one at a time.
  await db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [WRITE_LOCK]);
    await tx.exec(DDL);
    await tx.query(
      "insert into hil_meta (key, value) values ('schema_version', $1) on conflict (key) do update set value = excluded.value",
      [String(SCHEMA_VERSION)],
    );
  });
}
