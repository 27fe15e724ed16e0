// `hil matrix`: the boards x suites a nightly runs, as the JSON a GitHub Actions matrix takes
// (`strategy.matrix: ${{ fromJSON(...) }}`). One entry per board, with the suites that have
// a case for it: one job per board, so a board is never in two jobs of one night; the
// workflow's concurrency group per board keeps it out of other workflows' jobs too
// (.github/workflows/nightly.yml). A board whose suites have no case for it is left out,
// and said so on stderr; so is a board file that does not load, and a board that failed its
// health check (runner/lab/health.ts).
import { isLabBoard, listBoardNames, loadBoard, standInEnv } from '../drivers/board.js';
import { shownTime } from '../config/paths.js';
import { loadSuite, resolveSuite } from '../config/suite.js';
import { ConfigError, kindOf } from '../errors.js';
import { caseFitsBoard } from '../job/00-plan.js';
import { readHealth } from '../lab/health.js';

export interface MatrixEntry {
  board: string;
  /** Space-separated, for a shell loop in the job. */
  suites: string;
  /** Cases of those suites the board runs. */
  cases: number;
}

const list = (v: string | undefined) => (v ?? '').split(/[\s,]+/).filter(Boolean);

export async function boardMatrix(o: {
  boards?: string;
  suites?: string;
}): Promise<{ include: MatrixEntry[]; left: string[] }> {
  const suites = list(o.suites);
  if (!suites.length)
    throw new ConfigError('say which suites the nightly runs: --suites NAME[,NAME...] (hil suites lists them)');
  const boards = o.boards && o.boards !== 'all' ? list(o.boards) : listBoardNames();
  for (const s of suites) resolveSuite(s); // an unknown suite is an error, not an empty matrix
  const include: MatrixEntry[] = [];
  const left: string[] = [];
  for (const name of boards) {
    // The matrix is computed where the lab's secrets and devices are not.
    let env: NodeJS.ProcessEnv;
    let board: ReturnType<typeof loadBoard>;
    try {
      // A board file that does not read (a TOML error) is left out, named; the others run.
      ({ env } = standInEnv(name));
      board = loadBoard(name, { env });
    } catch (e) {
      if (kindOf(e) !== 'config') throw e;
      left.push(`${name}: the board file does not load: ${(e as Error).message}`);
      continue;
    }
    // Health kept here is read here; a board with a [lab_host] keeps its health there, where
    // this job (run where the lab's keys are not) does not reach: its own run's health gate
    // refuses it if it is bad.
    if (isLabBoard(board) && !board.lab_host) {
      const h = await readHealth(board.name);
      if (h?.state === 'bad') {
        left.push(
          `${name}: failed its health check at ${shownTime(h.at)} (${h.reason}); \`hil lab check --board ${name}\` puts it back`,
        );
        continue;
      }
    }
    const mine: string[] = [];
    let cases = 0;
    for (const s of suites) {
      const suite = loadSuite(resolveSuite(s), { env, defaults: board.caseDefaults });
      const fit = suite.cases.filter((c) => c.kind === 'spec' || caseFitsBoard(c, board)).length;
      if (fit) {
        mine.push(s);
        cases += fit;
      }
    }
    if (mine.length) include.push({ board: name, suites: mine.join(' '), cases });
    else left.push(`${name}: no case for it in ${suites.join(', ')}`);
  }
  if (!include.length) throw new ConfigError(`no board has a case in ${suites.join(', ')}: ${left.join('; ')}`);
  return { include, left };
}

export async function matrix(o: { boards?: string; suites?: string }): Promise<number> {
  const { include, left } = await boardMatrix(o);
  for (const l of left) process.stderr.write(`hil: left out of the matrix: ${l}\n`);
  process.stdout.write(`${JSON.stringify({ include })}\n`);
  return 0;
}
