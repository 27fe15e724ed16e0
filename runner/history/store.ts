// The history store: every case run a lab recorded, in a PostgreSQL database (schema.ts).
// Where it is: `--history`, else HIL_HISTORY, else reports/history/ in the lab. A
// `postgres://` address is a lab's server, shared by every runner host; anything else is a
// folder holding an embedded database (PGlite) for one machine.
//
// Recording a run into the embedded store costs a file, not a database: `hil run` writes
// the run's records into the store's incoming/ folder (written whole and fsynced, so a
// crash or a power loss leaves the run or nothing), and whoever opens the store next takes
// incoming runs into the database first, each file in one transaction, and removes the file
// only once the database's own files are synced. Starting PGlite costs about half a second:
// that stays off the run's path, and no report ever misses a run that finished. A server is
// written directly, in one transaction, when the verdict is out; when it cannot be reached
// the run stays in its folder (results.json) for `hil history add`.
import { createHash } from 'node:crypto';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  openSync,
  fsyncSync,
  closeSync,
} from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { makeDirs, reportsDir, shown } from '../config/paths.js';
import { redactDeep } from '../config/env.js';
import { allAttempts, readResults, type RunResult } from '../model/results.js';
import { checkRecord, recordOf, type HistoryRecord } from '../model/history.js';
import { splitMetricKey } from '../guest/records.js';
import { fsyncPath, isServerUrl, openEngine, shownUrl, type Sql } from './engine.js';
import { ensureSchema, RECENT, RECENT_APART, RUN_TUPLE, WRITE_LOCK } from './schema.js';

/** Where the history is: a server's address as given, a folder resolved. */
export function historyLocation(option?: string): string {
  // An empty value (a CI secret that is not set) is no value.
  const given = option || process.env.HIL_HISTORY || undefined;
  if (given && isServerUrl(given)) return given;
  const dir = path.resolve(given ?? path.join(reportsDir(), 'history'));
  if (existsSync(dir) && !statSync(dir).isDirectory())
    throw new ConfigError(
      `the history ${shown(dir)} is a file, and the history is a database folder now: give --history a ` +
        `folder${/\.jsonl?$/.test(dir) ? `, and bring this one in with \`hil history import ${shown(dir)}\`` : ''}`,
    );
  return dir;
}

export const shownLocation = (location: string) => (isServerUrl(location) ? shownUrl(location) : shown(location));

/**
 * Checks, before a board is touched, that a run can be recorded here: a server answers and
 * has (or takes) the schema; an embedded store's folder can be written.
 */
export async function checkWritable(location: string): Promise<void> {
  if (isServerUrl(location)) {
    const db = await openEngine(location);
    try {
      await ensureSchema(db);
    } finally {
      await db.close();
    }
    return;
  }
  try {
    makeDirs(incomingDir(location));
    accessSync(incomingDir(location), constants.W_OK);
  } catch (e) {
    throw new ConfigError(
      `cannot write the history ${shown(location)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (give --history a folder you can write, or --no-history)`,
    );
  }
}

const incomingDir = (dir: string) => path.join(dir, 'incoming');

/** Records of a finished run's folder (its results.json), checked. */
export function runRecords(runDir: string): { run: RunResult; records: HistoryRecord[]; bad: string[] } {
  const run = readResults(runDir);
  const records: HistoryRecord[] = [];
  const bad: string[] = [];
  for (const c of allAttempts(run)) {
    const r = checkRecord(redactDeep(recordOf(run, c, path.resolve(runDir))));
    if ('record' in r) records.push(r.record);
    else bad.push(`${c.name}: ${r.error}`);
  }
  return { run, records, bad };
}

/**
 * Records a finished run: into the embedded store's incoming folder (the next reader takes
 * it in), or into the server in one transaction. Returns how many case runs.
 */
export async function recordRunDir(
  location: string,
  runDir: string,
): Promise<{ added: number; queued: boolean; bad: string[] }> {
  const { records, bad } = runRecords(runDir);
  if (!records.length) return { added: 0, queued: false, bad };
  if (!isServerUrl(location)) {
    queueRecords(location, records);
    return { added: records.length, queued: true, bad };
  }
  const h = await History.open(location);
  try {
    return { added: await h.add(records), queued: false, bad };
  } finally {
    await h.close();
  }
}

/** Writes records as one file in the embedded store's incoming folder, whole and synced. */
export function queueRecords(dir: string, records: HistoryRecord[]): string {
  const inbox = incomingDir(dir);
  mkdirSync(inbox, { recursive: true });
  const body = JSON.stringify(records);
  const name = `${new Date().toISOString().replace(/[:.]/g, '')}-${process.pid}-${createHash('sha1').update(body).digest('hex').slice(0, 10)}.json`;
  const tmp = path.join(inbox, `.${name}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeFileSync(fd, body);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path.join(inbox, name));
  fsyncPath(inbox);
  return name;
}

export type Warn = (message: string) => void;

const chunk = <T>(xs: T[], n: number): T[][] =>
  Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, (i + 1) * n));
const isoOf = (v: unknown) => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());

/** An open history: adding runs, and the queries the reports and the gate ask. */
export class History {
  private taken: string[] = [];

  private constructor(
    readonly db: Sql,
    readonly location: string,
  ) {}

  get engine() {
    return this.db.engine;
  }

  /** Opens the store (creating it where there is none) and takes in queued runs. */
  static async open(location: string, o: { warn?: Warn; create?: boolean; bulk?: boolean } = {}): Promise<History> {
    if (!isServerUrl(location)) {
      const queued =
        existsSync(incomingDir(location)) && readdirSync(incomingDir(location)).some((f) => f.endsWith('.json'));
      if (!existsSync(path.join(location, 'pgdata')) && !queued && o.create === false)
        throw new ConfigError(
          `there is no history in ${shown(location)}: record runs into it first (hil run, hil history add RUN_DIR, or hil history import FILE)`,
        );
      try {
        makeDirs(location);
      } catch (e) {
        throw new ConfigError(
          `cannot make the history folder ${shown(location)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        );
      }
    }
    const db = await openEngine(location, { bulk: o.bulk });
    const h = new History(db, location);
    try {
      await ensureSchema(db);
      if (!isServerUrl(location)) await h.takeIncoming(o.warn ?? (() => {}));
    } catch (e) {
      await db.close().catch(() => {});
      throw e;
    }
    return h;
  }

  /** Ingests the incoming folder, oldest first, all in one transaction. */
  private async takeIncoming(warn: Warn): Promise<void> {
    const inbox = incomingDir(this.location);
    if (!existsSync(inbox)) return;
    const files = readdirSync(inbox)
      .filter((f) => f.endsWith('.json') && !f.startsWith('.'))
      .sort();
    if (!files.length) return;
    const records: HistoryRecord[] = [];
    for (const f of files) {
      const file = path.join(inbox, f);
      try {
        const list = JSON.parse(readFileSync(file, 'utf8'));
        if (!Array.isArray(list)) throw new Error('not a list of records');
        for (const raw of list) {
          const r = checkRecord(raw);
          if ('record' in r) records.push(r.record);
          else warn(`${shown(file)}: a record skipped: ${r.error}`);
        }
        this.taken.push(file);
      } catch (e) {
        // Never lost, never in the way: set aside under a name no reader takes.
        renameSync(file, `${file}.bad`);
        warn(`${shown(file)} is not a queued run (${(e as Error).message}): set aside as ${shown(`${file}.bad`)}`);
      }
    }
    await this.add(records);
  }

  /**
   * Adds records in one transaction; a case run stored already (the same run, case and
   * attempt: a run added twice, merged histories) counts once. Returns how many were new.
   */
  async add(records: HistoryRecord[]): Promise<number> {
    if (!records.length) return 0;
    return this.db.transaction(async (tx) => {
      await tx.query('select pg_advisory_xact_lock($1)', [WRITE_LOCK]);
      let added = 0;
      const touched: Touched = { configs: new Set(), days: new Set(), metricDays: new Set(), boards: new Map() };
      for (const part of chunk(records, 2000)) added += await insertRecords(tx, part, touched);
      await refreshDerived(tx, touched);
      return added;
    });
  }

  /** Every record, in the order the runs started (export). */
  async *records(batch = 5000): AsyncGenerator<HistoryRecord> {
    let after = -1;
    for (;;) {
      const rows = await this.db.query<{ id: number; detail: HistoryRecord }>(
        'select id, detail from case_runs where id > $1 order by id limit $2',
        [after, batch],
      );
      for (const r of rows) yield r.detail;
      if (rows.length < batch) return;
      after = rows[rows.length - 1].id;
    }
  }

  /** Fresh planner statistics, after a large import. */
  async analyze(): Promise<void> {
    await this.db.exec('analyze');
  }

  async count(): Promise<number> {
    return (await this.db.query<{ n: number }>('select count(*)::int as n from case_runs'))[0].n;
  }

  /** Full records by id, for the runs a report shows in full. */
  async full(ids: number[]): Promise<Map<number, HistoryRecord>> {
    const out = new Map<number, HistoryRecord>();
    for (const part of chunk([...new Set(ids)], 5000)) {
      const rows = await this.db.query<{ id: number; detail: HistoryRecord }>(
        'select id, detail from case_runs where id = any($1::int[])',
        [part],
      );
      for (const r of rows) out.set(r.id, r.detail);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.db.close();
    // Queued runs are in the database and its files are synced: their files can go.
    for (const f of this.taken) rmSync(f, { force: true });
    this.taken = [];
  }
}

interface Touched {
  configs: Set<string>;
  days: Set<string>;
  metricDays: Set<string>;
  boards: Map<string, string | undefined>;
}

const SEP = '\u0000';

async function insertRecords(tx: Sql, records: HistoryRecord[], touched: Touched): Promise<number> {
  // Builds and runs first (each once), then the case runs; what is stored already is kept.
  const builds = new Map<string, string>();
  const runs = new Map<string, HistoryRecord>();
  for (const r of records) {
    if (r.build && (!builds.has(r.build) || r.started < builds.get(r.build)!)) builds.set(r.build, r.started);
    const first = runs.get(r.run_id);
    if (!first || r.started < first.started) runs.set(r.run_id, r);
  }
  if (builds.size)
    await tx.query(
      'insert into builds (build, first_seen) select * from unnest($1::text[], $2::timestamptz[]) on conflict (build) do update set first_seen = least(builds.first_seen, excluded.first_seen)',
      [[...builds.keys()], [...builds.values()]],
    );
  const rs = [...runs.values()];
  await tx.query(
    `insert into runs (run_id, board, soc, suite, started, build)
     select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[]) on conflict (run_id) do nothing`,
    [
      rs.map((r) => r.run_id),
      rs.map((r) => r.board),
      rs.map((r) => r.soc ?? null),
      rs.map((r) => r.suite),
      rs.map((r) => r.started),
      rs.map((r) => r.build ?? null),
    ],
  );
  const inserted = await tx.query<{ id: number; run_id: string; case_name: string; attempt: number }>(
    `insert into case_runs (run_id, board, case_name, attempt, guest, config, started, verdict, reason, phase, boot_s, build, detail)
     select * from unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::timestamptz[], $8::text[], $9::text[], $10::text[],
                          $11::float8[], $12::text[], $13::jsonb[])
     on conflict (run_id, case_name, attempt) do nothing
     returning id, run_id, case_name, attempt`,
    [
      records.map((r) => r.run_id),
      records.map((r) => r.board),
      records.map((r) => r.case),
      records.map((r) => r.attempt ?? 1),
      records.map((r) => r.guest),
      records.map((r) => r.config),
      records.map((r) => r.started),
      records.map((r) => r.verdict),
      records.map((r) => r.reason),
      records.map((r) => r.phase ?? null),
      records.map((r) => r.boot_s ?? null),
      records.map((r) => r.build ?? null),
      records.map((r) => JSON.stringify(r)),
    ],
  );
  if (!inserted.length) return 0;
  const byKey = new Map(records.map((r) => [[r.run_id, r.case, r.attempt ?? 1].join(SEP), r]));
  const sub: [number, string, string, string][] = [];
  const metrics: [number, string, number, string | null][] = [];
  for (const row of inserted) {
    const r = byKey.get([row.run_id, row.case_name, row.attempt].join(SEP))!;
    const day = r.started.slice(0, 10);
    touched.configs.add([r.board, r.case, r.config].join(SEP));
    if (r.soc || !touched.boards.has(r.board)) touched.boards.set(r.board, r.soc ?? touched.boards.get(r.board));
    touched.days.add([r.board, day].join(SEP));
    for (const v of r.vms ?? []) sub.push([row.id, 'vm', `${v.id} ${v.name}`, v.verdict]);
    for (const g of r.records ?? []) sub.push([row.id, 'record', g.case_id, g.status]);
    for (const [key, value] of Object.entries(r.metrics ?? {})) {
      // A record names a metric with its unit (`TAG.key [B/s]`): the unit has its own column.
      const { name, unit } = splitMetricKey(key);
      metrics.push([row.id, name, value, unit ?? null]);
      touched.metricDays.add([r.board, r.case, day].join(SEP));
    }
  }
  if (sub.length)
    await tx.query(
      'insert into sub_results (case_run, kind, name, verdict) select * from unnest($1::int[], $2::text[], $3::text[], $4::text[])',
      [sub.map((s) => s[0]), sub.map((s) => s[1]), sub.map((s) => s[2]), sub.map((s) => s[3])],
    );
  if (metrics.length)
    await tx.query(
      'insert into metrics (case_run, name, value, unit) select * from unnest($1::int[], $2::text[], $3::float8[], $4::text[])',
      [metrics.map((m) => m[0]), metrics.map((m) => m[1]), metrics.map((m) => m[2]), metrics.map((m) => m[3])],
    );
  return inserted.length;
}

const columns = (keys: Set<string>, n: number) => {
  const cols: string[][] = Array.from({ length: n }, () => []);
  for (const k of keys) for (const [i, v] of k.split(SEP).entries()) cols[i].push(v);
  return cols;
};

/** Recomputes the derived rows of what a write touched, from the base rows. */
async function refreshDerived(tx: Sql, t: Touched): Promise<void> {
  if (t.configs.size) {
    await tx.query(
      `insert into case_configs (board, case_name, config, first_started, last_started, runs)
       select c.board, c.case_name, c.config, min(c.started), max(c.started), count(*)::int
       from unnest($1::text[], $2::text[], $3::text[]) as k(board, case_name, config)
       join case_runs c on c.board = k.board and c.case_name = k.case_name and c.config = k.config
       group by 1, 2, 3
       on conflict (board, case_name, config) do update
         set first_started = excluded.first_started, last_started = excluded.last_started, runs = excluded.runs`,
      columns(t.configs, 3),
    );
    const same = 'r.board = k.board and r.case_name = k.case_name and r.config = k.config';
    await tx.query(
      `update case_configs k set
         recent = (select jsonb_agg(o order by st)::text from
           (select r.started as st, ${RUN_TUPLE} as o from case_runs r where ${same} order by r.started desc limit ${RECENT}) x),
         last_good = (select ${RUN_TUPLE}::text from case_runs r where ${same} and r.verdict = 'pass' order by r.started desc limit 1)
       from unnest($1::text[], $2::text[], $3::text[]) as t(board, case_name, config)
       where k.board = t.board and k.case_name = t.case_name and k.config = t.config`,
      columns(t.configs, 3),
    );
    await tx.query(
      `update case_configs k set
         first_bad = (select ${RUN_TUPLE}::text from case_runs r where ${same} and r.verdict in ('fail', 'timeout')
                        and r.started > coalesce((k.last_good::jsonb->>3)::timestamptz, '-infinity') order by r.started limit 1)
       from unnest($1::text[], $2::text[], $3::text[]) as t(board, case_name, config)
       where k.board = t.board and k.case_name = t.case_name and k.config = t.config`,
      columns(t.configs, 3),
    );
  }
  if (t.boards.size) {
    const names = [...t.boards.keys()];
    await tx.query(
      `insert into boards (board, soc) select * from unnest($1::text[], $2::text[])
       on conflict (board) do update set soc = coalesce(excluded.soc, boards.soc)`,
      [names, names.map((b) => t.boards.get(b) ?? null)],
    );
    await tx.query(
      `update boards b set apart = (select jsonb_agg(o order by st desc)::text from (
         (select r.started as st, ${RUN_TUPLE} as o from case_runs r where r.board = b.board and r.verdict = 'error' order by r.started desc limit ${RECENT_APART})
         union all
         (select r.started as st, ${RUN_TUPLE} as o from case_runs r where r.board = b.board and r.verdict = 'internal' order by r.started desc limit ${RECENT_APART})) x)
       where b.board = any($1::text[])`,
      [names],
    );
  }
  if (t.days.size)
    await tx.query(
      `insert into board_days (board, day, runs, lab_errors, runner_bugs, boot_median, boot_runs)
       select k.board, k.day, count(*)::int,
         (count(*) filter (where c.verdict = 'error'))::int, (count(*) filter (where c.verdict = 'internal'))::int,
         percentile_cont(0.5) within group (order by c.boot_s) filter (where c.boot_s is not null and c.verdict not in ('error', 'internal')),
         (count(c.boot_s) filter (where c.verdict not in ('error', 'internal')))::int
       from unnest($1::text[], $2::date[]) as k(board, day)
       join case_runs c on c.board = k.board and c.started >= k.day::timestamptz and c.started < (k.day + 1)::timestamptz
       group by 1, 2
       on conflict (board, day) do update set runs = excluded.runs, lab_errors = excluded.lab_errors, runner_bugs = excluded.runner_bugs,
         boot_median = excluded.boot_median, boot_runs = excluded.boot_runs`,
      columns(t.days, 2),
    );
  if (t.metricDays.size)
    await tx.query(
      `insert into metric_days (board, case_name, name, day, median, runs, unit)
       select k.board, k.case_name, m.name, k.day, percentile_cont(0.5) within group (order by m.value), count(*)::int,
         (array_agg(m.unit order by c.started desc) filter (where m.unit is not null))[1]
       from unnest($1::text[], $2::text[], $3::date[]) as k(board, case_name, day)
       join case_runs c on c.board = k.board and c.case_name = k.case_name and c.started >= k.day::timestamptz and c.started < (k.day + 1)::timestamptz
       join metrics m on m.case_run = c.id
       group by 1, 2, 3, 4
       on conflict (board, case_name, name, day) do update set median = excluded.median, runs = excluded.runs, unit = excluded.unit`,
      columns(t.metricDays, 3),
    );
}

export { isoOf };
