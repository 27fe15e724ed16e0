// 1. Prepare: everything about the run that can be wrong is found before the board is
//    touched. The build under test is named, the history answers, the output folder is
//    claimed, the lab's own settings (the lease folder, the lab host's key) are checked, and
//    preflight's errors stop the run here with results.json saying why (exit 3).
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { buildOf, type BuildInfo } from '../build/identity.js';
import { makeDirs, reportsDir, shown } from '../config/paths.js';
import { ConfigError, EXIT, kindOf } from '../errors.js';
import type { JobPlan } from '../job/00-plan.js';
import { newRun, settle, writeResults } from '../model/results.js';
import { neverRan } from './ends.js';

/** Now, as a file-name-safe stamp (2026-11-22T00-42-22) for output folders. */
const stamp = () => new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);

/** The build under test: --build (or --hypervisor, its old name), HIL_BUILD, or the git
 * commit of the workspace the cases build in; else settle() names it from the images. */
export function buildFor(given: string | undefined, p: JobPlan): BuildInfo | undefined {
  const workspaces = p.plans.map((c) => c.build?.cwd ?? c.axvisor?.workspace).filter((w): w is string => Boolean(w));
  try {
    return buildOf(given, [...new Set(workspaces)]);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
}

/** The run's folder: --out, or a fresh one under reports/ (never one another run has). */
export function outputFolder(out: string | undefined, p: { board: { name: string }; suite: { name: string } }): string {
  let dir = out ? path.resolve(out) : reportsDir();
  try {
    if (out) {
      dir = path.resolve(out);
      makeDirs(dir);
    } else {
      // The folder is claimed by creating it: two runs started in the same second (two CI
      // jobs on one lab host) each get their own, never one between them.
      const base = path.join(
        reportsDir(),
        `${stamp()}-${p.board.name}-${p.suite.name}`.replace(/[^A-Za-z0-9._-]+/g, '_'),
      );
      makeDirs(path.dirname(base));
      for (let n = 1; ; n++) {
        dir = n === 1 ? base : `${base}-${n}`;
        try {
          mkdirSync(dir);
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        }
      }
    }
    if (!statSync(dir).isDirectory())
      throw new ConfigError(
        `--out ${shown(dir)} is a file, not a folder: give --out a folder (made if missing), or remove that file`,
      );
    accessSync(dir, constants.W_OK);
  } catch (e) {
    if (kindOf(e) === 'config') throw e;
    throw new ConfigError(
      `cannot write the output folder ${shown(dir)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (give --out a folder you can write)`,
    );
  }
  if (existsSync(path.join(dir, 'results.json')))
    throw new ConfigError(
      `${shown(dir)} already holds a run's results: give --out a new folder (nothing was overwritten)`,
    );
  return dir;
}

/** Where the run is recorded, checked before the board is touched: a server that does not
 * answer, or a folder that cannot be written, is told now, not after the run. */
async function historyOf(history: string | false | undefined): Promise<string | undefined> {
  if (history === false) return undefined;
  const { historyLocation, checkWritable } = await import('../history/store.js');
  const location = historyLocation(history);
  await checkWritable(location);
  return location;
}

/** What can be known wrong with the board's lab host before it is reached (no key to
 * offer, a key its passphrase does not open, no known_hosts). */
async function labHostProblem(p: JobPlan): Promise<string | undefined> {
  if (!p.board.lab_host) return undefined;
  try {
    await (await import('../remote/lab-host.js')).checkLabHost(p.board.lab_host);
  } catch (e) {
    if (kindOf(e) !== 'config') throw e;
    return (e as Error).message;
  }
  return undefined;
}

/** What is wrong with the lease folder of a board that takes its lease here (a file, not
 * a folder), found before the board is touched. */
async function leaseFolderProblem(p: JobPlan): Promise<string | undefined> {
  const { isLabBoard } = await import('../drivers/board.js');
  if (!isLabBoard(p.board) || p.board.lab_host) return undefined;
  const { checkLeaseDir, leaseDir } = await import('../lab/lease.js');
  try {
    checkLeaseDir(leaseDir());
  } catch (e) {
    if (kindOf(e) !== 'config') throw e;
    return (e as Error).message;
  }
  return undefined;
}

export interface Prepared {
  outDir: string;
  build?: BuildInfo;
  history?: string;
}

/** The run prepared, or the exit status of one that stops here (results.json written). */
export async function prepare(
  p: JobPlan,
  o: { out?: string; build?: string; history?: string | false; rerun: string },
): Promise<Prepared | number> {
  const build = buildFor(o.build, p);
  const history = await historyOf(o.history);
  const outDir = outputFolder(o.out, p);
  // The setting's own errors (a lease folder that is a file, an SSH key its passphrase
  // does not open): exit 3, and results.json says which.
  const setup = (await leaseFolderProblem(p)) ?? (await labHostProblem(p));
  if (setup) return neverRan(p, outDir, `${setup}; the board was not powered`, EXIT.config);
  if (p.errors.length) {
    const reason = `preflight found ${p.errors.length} error(s); the board was not powered: fix them (${o.rerun}) and run again`;
    const r = newRun({ board: p.board.name, soc: p.board.soc, suite: p.suite.name });
    r.preflight_errors = p.errors;
    r.reason = reason;
    settle(r);
    r.verdict = 'error';
    r.exit_code = EXIT.config;
    writeResults(outDir, r);
    throw new ConfigError(`${reason} (results: ${shown(path.join(outDir, 'results.json'))})`);
  }
  return { outDir, build, history };
}
