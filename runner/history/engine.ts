// The history's two database engines behind one small interface: PostgreSQL itself (a lab's
// server, through `pg`) and PGlite (the same PostgreSQL built to WebAssembly, in-process, its
// data in a folder: the default, no server to run). Every query the runner makes is plain
// PostgreSQL with `$n` parameters and runs unchanged on both.
//
// PGlite is one process's database: two processes opening its folder at once would both
// write it. The folder is locked for as long as it is open (proper-lockfile: a lock folder
// whose mtime is kept fresh; a holder killed outright is taken over once its lock is stale),
// and a process that finds it locked waits its turn.
import { readdirSync, statSync, openSync, fsyncSync, closeSync } from 'node:fs';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { ConfigError, LabError } from '../errors.js';
import { shown } from '../config/paths.js';

export interface Sql {
  /** Rows of one statement; `params` are `$1..$n`. */
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Several statements with no parameters (the schema). */
  exec(text: string): Promise<void>;
  /** `fn` in one transaction: all of it or none. */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
  close(): Promise<void>;
  /** Where it is, as a person reads it (a server's password never shown). */
  readonly where: string;
  readonly engine: 'pglite' | 'postgres';
}

export const isServerUrl = (location: string) => /^postgres(ql)?:\/\//i.test(location);

/** A server address with its password masked, for messages. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the PostgreSQL server (its address does not parse)';
  }
}

/** How long a process waits for another that has the embedded history open. */
const LOCK_WAIT_MS = Number(process.env.HIL_HISTORY_LOCK_WAIT_MS ?? 120_000);
/** PostgreSQL's own default (128 MB) is most of PGlite's memory; a report's working set is a
 * few MB of index pages. */
const PGLITE_PARAMS = ['-c', 'shared_buffers=16MB', '-c', 'timezone=UTC'];

export async function openPglite(dir: string, o: { bulk?: boolean } = {}): Promise<Sql> {
  const lockfile = (await import('proper-lockfile')).default;
  const lockPath = path.join(dir, 'db.lock');
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(dir, {
      lockfilePath: lockPath,
      stale: 15_000,
      update: 5_000,
      retries: { retries: Math.ceil(LOCK_WAIT_MS / 200), minTimeout: 20, maxTimeout: 200, factor: 1.3 },
      realpath: false,
    });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOCKED')
      throw new LabError(
        'history',
        `the history ${shown(dir)} stayed open in another process for ${Math.round(LOCK_WAIT_MS / 1000)} s (its lock ${shown(lockPath)}): let that process finish, or if none runs, remove the lock`,
      );
    throw new ConfigError(
      `cannot lock the history ${shown(dir)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (give --history a folder you can write)`,
    );
  }
  const opened = Date.now();
  const dataDir = path.join(dir, 'pgdata');
  let db: import('@electric-sql/pglite').PGlite;
  try {
    // A report is done in well under a second: V8's optimising compiler, started in the
    // background on PostgreSQL's 9 MB of WebAssembly, would only compete with it for the
    // CPU and hold 50 MB of code (measured over a year's history: 1.2 s and 240 MB with
    // it, 0.9 s and 190 MB without). A long import is worth optimising for.
    if (!o.bulk) setFlagsFromString('--liftoff-only');
    const { PGlite } = await import('@electric-sql/pglite');
    db = new PGlite(dataDir, { startParams: [...PGlite.defaultStartParams, ...PGLITE_PARAMS] });
    await db.waitReady;
  } catch (e) {
    await release();
    throw new ConfigError(
      `the history database ${shown(dataDir)} cannot be opened (${(e as Error).message}): if it is damaged, move it away and import an export (hil history import)`,
    );
  }
  // Whether anything was written: a session that only read has nothing to make durable.
  let wrote = false;
  const wrap = (q: Pick<typeof db, 'query' | 'exec'>): Omit<Sql, 'transaction' | 'close'> => ({
    where: shown(dir),
    engine: 'pglite',
    query: async <T>(text: string, params?: unknown[]) => (await q.query<T>(text, params)).rows,
    exec: async (text: string) => {
      await q.exec(text);
    },
  });
  const sql: Sql = {
    ...wrap(db),
    transaction: (fn) => {
      wrote = true;
      return db.transaction((tx) =>
        fn({ ...wrap(tx), transaction: () => Promise.reject(new Error('nested transaction')), close: async () => {} }),
      );
    },
    close: async () => {
      try {
        await db.close();
        // PGlite runs PostgreSQL with fsync off (its file system layer has none): what it
        // wrote is made durable here, before anyone counts on it (the runs it took from
        // the incoming folder are removed only after this).
        if (wrote) syncChangedFiles(dataDir, opened);
      } finally {
        await release();
      }
    },
  };
  return sql;
}

/** fsync every file under `dir` modified since `since` (ms), and the folders holding them. */
function syncChangedFiles(dir: string, since: number): void {
  const walk = (d: string): boolean => {
    let changed = false;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) changed = walk(p) || changed;
      else if (e.isFile() && statSync(p).mtimeMs >= since - 2000) {
        fsyncPath(p);
        changed = true;
      }
    }
    if (changed) fsyncPath(d);
    return changed;
  };
  walk(dir);
}

export function fsyncPath(p: string): void {
  const fd = openSync(p, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export async function openServer(url: string): Promise<Sql> {
  const pg = (await import('pg')).default;
  const where = shownUrl(url);
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: Number(process.env.HIL_HISTORY_CONNECT_MS ?? 10_000),
  });
  // A server that goes away mid-query is an error of that query, never an unhandled event.
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query("set timezone = 'UTC'");
  } catch (e) {
    await client.end().catch(() => {});
    throw new LabError('history', `the history server ${where} cannot be reached: ${(e as Error).message}`);
  }
  const query = async <T>(text: string, params?: unknown[]) => {
    try {
      return (await client.query(text, params)).rows as T[];
    } catch (e) {
      throw serverError(e, where);
    }
  };
  const base = {
    where,
    engine: 'postgres' as const,
    query,
    exec: async (text: string) => {
      await query(text);
    },
  };
  let inTx = false;
  return {
    ...base,
    transaction: async (fn) => {
      if (inTx) throw new Error('nested transaction');
      inTx = true;
      try {
        await query('begin');
        try {
          const r = await fn({
            ...base,
            transaction: () => Promise.reject(new Error('nested transaction')),
            close: async () => {},
          });
          await query('commit');
          return r;
        } catch (e) {
          await client.query('rollback').catch(() => {});
          throw e;
        }
      } finally {
        inTx = false;
      }
    },
    close: async () => {
      await client.end().catch(() => {});
    },
  };
}

/** A lost connection is the lab's trouble (exit 2), told as such; an SQL error stays one. */
function serverError(e: unknown, where: string): Error {
  const err = e as Error & { code?: string };
  if (
    !err.code ||
    /^(ECONN|EPIPE|ETIMEDOUT|57P0)/.test(err.code) ||
    /Connection terminated|not queryable/i.test(err.message)
  )
    return new LabError('history', `the history server ${where} went away: ${err.message}`);
  return err;
}

export const openEngine = (location: string, o: { bulk?: boolean } = {}): Promise<Sql> =>
  isServerUrl(location) ? openServer(location) : openPglite(location, o);
