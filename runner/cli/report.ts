// `hil report ...` and `hil history ...`: from run folders and the history store to what
// people read the next morning.
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, EXIT } from '../errors.js';
import { makeDirs, reportsDir, shown } from '../config/paths.js';
import { defaultHistoryFile, recordRun, withHistory } from '../model/history.js';
import { analyse, hydrate } from '../report/regressions.js';
import { toHtml, toMarkdown } from '../report/regression-page.js';
import { matrixMarkdown, readCriteria, releaseMatrix, type Criteria } from '../report/release.js';

const say = (msg: string) => process.stdout.write(`${msg}\n`);

export function historyAdd(runs: string[], opts: { history?: string }): number {
  const file = path.resolve(opts.history ?? defaultHistoryFile());
  for (const dir of runs) {
    const { added } = recordRun(file, path.resolve(dir));
    // Appending reads nothing of the store, so it cannot tell a run it has already: every
    // reader counts such a run once.
    say(`${shown(dir)}: ${added} case run(s) recorded into ${shown(file)} (a run recorded twice counts once)`);
  }
  return 0;
}

function allureBin(): string {
  const pkg = createRequire(import.meta.url).resolve('allure-commandline/package.json');
  return path.join(path.dirname(pkg), 'dist', 'bin', 'allure');
}

/** Turns the allure-results of one or many runs into Allure's HTML report. */
export async function reportAllure(runs: string[], opts: { out: string; singleFile?: boolean }): Promise<number> {
  const { execa } = await import('execa');
  const java = await execa('java', ['-version'], { reject: false });
  if (java.exitCode !== 0) throw new ConfigError('Allure needs Java, and `java` is not on PATH: install a JRE (Debian: openjdk-17-jre-headless; scripts/setup does)');
  const merged = mkdtempSync(path.join(os.tmpdir(), 'hil-allure-'));
  try {
    for (const run of runs) {
      const dir = existsSync(path.join(run, 'allure-results')) ? path.join(run, 'allure-results') : run;
      if (!existsSync(dir) || !readdirSync(dir).some((f) => f.endsWith('-result.json'))) {
        throw new ConfigError(`${shown(run)} has no allure-results: give the folder a \`hil run\` wrote (or its allure-results folder)`);
      }
      // Results have unique names; environment.properties and categories.json are the same shape in every run.
      cpSync(dir, merged, { recursive: true });
    }
    const out = path.resolve(opts.out);
    // Allure's trend charts come from the previous report's history folder.
    if (existsSync(path.join(out, 'history'))) cpSync(path.join(out, 'history'), path.join(merged, 'history'), { recursive: true });
    const args = ['generate', merged, '-o', out, '--clean', ...(opts.singleFile ? ['--single-file'] : [])];
    const { execa } = await import('execa');
    const r = await execa(allureBin(), args, { reject: false, all: true });
    if (r.exitCode !== 0) throw new ConfigError(`allure generate failed (exit ${r.exitCode}): ${String(r.all).trim().split('\n').pop()}`);
    say(
      `Allure report of ${runs.length} run(s): ${shown(path.join(out, 'index.html'))}${opts.singleFile ? ' (one file: opens without a server)' : ' (serve the folder, or use --single-file to open it from disk)'}`,
    );
    return 0;
  } finally {
    rmSync(merged, { recursive: true, force: true });
  }
}

function isoDate(s: string, what: string): string {
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new ConfigError(`${what} ${s}: give a date such as 2026-11-01`);
  return new Date(t).toISOString();
}

export async function reportRegressions(opts: { history?: string; board?: string; since?: string; window?: string; out?: string }): Promise<number> {
  const file = path.resolve(opts.history ?? defaultHistoryFile());
  const window = opts.window ? Number(opts.window) : 20;
  if (!Number.isInteger(window) || window < 2) throw new ConfigError(`--window ${opts.window}: give a whole number of runs, 2 or more`);
  const boards = withHistory(file, (store) =>
    hydrate(analyse(store.summaries, { board: opts.board, since: opts.since && isoDate(opts.since, '--since'), window, inTimeOrder: true }), (r) => store.record(r)),
  );
  if (opts.board && !boards.length) throw new ConfigError(`no runs of board ${opts.board} in ${shown(file)}${opts.since ? ` since ${opts.since}` : ''}`);
  // Boards a health check found bad, from this lab host's health records.
  const { allHealth } = await import('../lab/health.js');
  const outOfService = allHealth().filter((h) => h.state === 'bad' && (!opts.board || h.board === opts.board));
  const markdown = toMarkdown(boards, undefined, outOfService);
  const out = path.resolve(opts.out ?? path.join(reportsDir(), 'regressions'));
  makeDirs(out);
  writeFileSync(path.join(out, 'regressions.md'), markdown);
  writeFileSync(path.join(out, 'regressions.html'), toHtml(boards, { window, generated: new Date().toISOString().slice(0, 16).replace('T', ' '), outOfService }));
  say(markdown);
  say(`written: ${shown(path.join(out, 'regressions.md'))} and ${shown(path.join(out, 'regressions.html'))}`);
  return 0;
}

export function reportRelease(opts: { history?: string; criteria?: string; board?: string[]; require?: string[]; since?: string; out?: string }): number {
  let c: Criteria;
  if (opts.criteria) c = readCriteria(opts.criteria);
  else if (opts.board?.length) c = { boards: opts.board, required_cases: opts.require ?? [], since: opts.since };
  else throw new ConfigError('say which boards the release must pass on: --criteria release.toml, or --board B (repeatable) with --require CASE (repeatable)');
  if (c.since) c.since = isoDate(c.since, '--since');
  const m = withHistory(path.resolve(opts.history ?? defaultHistoryFile()), (store) => releaseMatrix(store.summaries, c, (r) => store.record(r)));
  const md = matrixMarkdown(m);
  say(md);
  if (opts.out) {
    makeDirs(opts.out);
    writeFileSync(path.join(opts.out, 'release.md'), md);
    writeFileSync(path.join(opts.out, 'release.json'), `${JSON.stringify(m, null, 2)}\n`);
  }
  return m.qualified ? 0 : EXIT.fail;
}
