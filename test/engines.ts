// The history's two engines for the tests: PGlite in a temporary folder, and a real
// PostgreSQL server from Debian's packages (fixtures/postgres.ts), one per test process,
// each test file with a database of its own.
import { History } from '../runner/history/store.js';
import { startPostgres, type Postgres } from '../fixtures/postgres.js';
import { tmpDir } from './helpers.js';

let server: Promise<Postgres> | undefined;
/** The test process's PostgreSQL server, started on first use and stopped when it exits. */
export const sharedPostgres = () => (server ??= startPostgres());

export type Engine = 'pglite' | 'postgres';
export const ENGINES: Engine[] = ['pglite', 'postgres'];

/** A new, empty history of that engine: a folder, or a database's address. */
export async function newLocation(engine: Engine): Promise<string> {
  return engine === 'pglite' ? tmpDir('hil-history-') : (await sharedPostgres()).newDatabase();
}

const TABLES = 'case_runs, runs, builds, sub_results, metrics, case_configs, boards, board_days, metric_days, bisects';

/** Per engine: a history opened in this process for the whole block, emptied before each test. */
export function eachEngine(body: (engine: Engine, history: () => History) => void): void {
  for (const engine of ENGINES) {
    describe(`on ${engine}`, function () {
      let h: History;
      before(async () => {
        h = await History.open(await newLocation(engine));
      });
      beforeEach(async () => {
        await h.db.exec(`truncate ${TABLES} restart identity cascade`);
      });
      after(async () => {
        await h?.close();
      });
      body(engine, () => h);
    });
  }
}
