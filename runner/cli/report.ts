// `hil report ...` and `hil history ...`: from run folders and the history store to what
// people read the next morning.
import { appendFileSync, cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, EXIT } from '../errors.js';
import { makeDirs, reportsDir, shown } from '../config/paths.js';
import { History, historyLocation, runRecords, shownLocation } from '../history/store.js';
import { analyse, hydrate } from '../report/regressions.js';
import { publishRuns, toHtml, toMarkdown } from '../report/regression-page.js';
import { checkBuildId } from '../build/identity.js';

const say = (msg: string) => process.stdout.write(`${msg}\n`);
const warn = (msg: string) => process.stderr.write(`hil: warning: ${msg}\n`);

/** The history opened for `read`, and closed however `read` ends. */
export async function withHistory<T>(
  option: string | undefined,
  read: (h: History) => Promise<T>,
  o: { create?: boolean; bulk?: boolean } = {},
): Promise<T> {
  const h = await History.open(historyLocation(option), { warn, create: o.create ?? false, bulk: o.bulk });
  try {
    return await read(h);
  } finally {
    await h.close();
  }
}

/** `hil history add`: finished run folders into the history, each run in one transaction. */
export async function historyAdd(runs: string[], opts: { history?: string }): Promise<number> {
  const location = historyLocation(opts.history);
  // Every folder is read first: a wrong one is told before anything is written.
  const read = runs.map((dir) => ({ dir, ...runRecords(path.resolve(dir)) }));
  return withHistory(
    opts.history,
    async (h) => {
      for (const r of read) {
        for (const b of r.bad) warn(`${shown(r.dir)}: a case run not recorded: ${b}`);
        const added = await h.add(r.records);
        const known = r.records.length - added;
        say(
          `${shown(r.dir)}: ${added} case run(s) recorded into ${shownLocation(location)}${known ? ` (${known} recorded before: each run counts once)` : ''}`,
        );
      }
      return 0;
    },
    { create: true },
  );
}

/** `hil history import`: JSON-lines histories (one record a line) into the database. */
export async function historyImport(files: string[], opts: { history?: string }): Promise<number> {
  const { importJsonl } = await import('../history/jsonl.js');
  const location = historyLocation(opts.history);
  return withHistory(
    opts.history,
    async (h) => {
      for (const f of files) {
        const r = await importJsonl(h, path.resolve(f), warn);
        say(
          `${shown(f)}: ${r.lines} line(s): ${r.added} case run(s) recorded into ` +
            `${shownLocation(location)}${r.known ? `, ${r.known} recorded before` : ''}` +
            `${r.bad ? `, ${r.bad} bad line(s) skipped` : ''}`,
        );
      }
      return 0;
    },
    { create: true, bulk: true },
  );
}

/** `hil history export`: every record as JSON lines, to a file or stdout. */
export async function historyExport(opts: { history?: string; out?: string }): Promise<number> {
  const { exportJsonl } = await import('../history/jsonl.js');
  return withHistory(opts.history, async (h) => {
    const n = await exportJsonl(h, opts.out ? path.resolve(opts.out) : undefined);
    if (opts.out) say(`${n} case run(s) written to ${shown(opts.out)}`);
    return 0;
  });
}

function allureBin(): string {
  const pkg = createRequire(import.meta.url).resolve('allure-commandline/package.json');
  return path.join(path.dirname(pkg), 'dist', 'bin', 'allure');
}

/** Turns the allure-results of one or many runs into Allure's HTML report. Allure's trends
 * and each test's history come from the previous report's history/ in the same folder; the
 * new report leaves its own there for the next, in both forms: `allure generate
 * --single-file` writes none, so a single-file report is generated twice (the second time as
 * folders, aside, for its history/). The page loads no analytics script: Allure 2 adds
 * Google's unless ALLURE_NO_ANALYTICS is "true" (Boolean.parseBoolean: "1" does not do). */
export async function reportAllure(runs: string[], opts: { out: string; singleFile?: boolean }): Promise<number> {
  const { execa } = await import('execa');
  const { mergeAllureResults } = await import('../model/allure.js');
  const java = await execa('java', ['-version'], { reject: false });
  if (java.exitCode !== 0)
    throw new ConfigError(
      'Allure needs Java, and `java` is not on PATH: install a JRE (Debian: openjdk-17-jre-headless; scripts/setup does)',
    );
  const dirs = runs.map((run) => {
    const dir = existsSync(path.join(run, 'allure-results')) ? path.join(run, 'allure-results') : run;
    if (!existsSync(dir) || !readdirSync(dir).some((f) => f.endsWith('-result.json'))) {
      throw new ConfigError(
        `${shown(run)} has no allure-results: give the folder a \`hil run\` wrote (or its allure-results folder)`,
      );
    }
    return dir;
  });
  const out = path.resolve(opts.out);
  const history = path.join(out, 'history');
  const merged = mkdtempSync(path.join(os.tmpdir(), 'hil-allure-'));
  const aside = mkdtempSync(path.join(os.tmpdir(), 'hil-allure-report-'));
  try {
    const m = mergeAllureResults(dirs, merged, { previousHistory: existsSync(history) ? history : undefined });
    // No analytics: neither the page's script nor the generator's own call home.
    const env = { ...process.env, ALLURE_NO_ANALYTICS: 'true' };
    const generate = async (to: string, single: boolean) => {
      const args = [
        'generate',
        merged,
        '-o',
        to,
        '--clean',
        '--name',
        m.reportName,
        ...(single ? ['--single-file'] : []),
      ];
      const r = await execa(allureBin(), args, { reject: false, all: true, env });
      if (r.exitCode !== 0)
        throw new ConfigError(`allure generate failed (exit ${r.exitCode}): ${String(r.all).trim().split('\n').pop()}`);
    };
    try {
      if (opts.singleFile) {
        await Promise.all([generate(out, true), generate(aside, false)]);
        cpSync(path.join(aside, 'history'), history, { recursive: true });
      } else await generate(out, false);
    } finally {
      // A failed generate (--clean empties the folder first) still leaves the history it had.
      if (!existsSync(history) && existsSync(path.join(merged, 'history')))
        cpSync(path.join(merged, 'history'), history, { recursive: true });
    }
    say(
      `Allure report of ${runs.length} run(s), build ${m.builds.join(', ') || 'unknown'}: ` +
        `${shown(path.join(out, 'index.html'))}${
          opts.singleFile
            ? ' (one file: opens without a server; history/ beside it keeps the trend for the next report)'
            : ' (serve the folder, or use --single-file to open it from disk)'
        }`,
    );
    return 0;
  } finally {
    rmSync(merged, { recursive: true, force: true });
    rmSync(aside, { recursive: true, force: true });
  }
}

function isoDate(s: string, what: string): string {
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new ConfigError(`${what} ${s}: give a date such as 2026-11-01`);
  return new Date(t).toISOString();
}

export async function reportRegressions(opts: {
  history?: string;
  board?: string;
  since?: string;
  window?: string;
  out?: string;
}): Promise<number> {
  const window = opts.window ? Number(opts.window) : 20;
  if (!Number.isInteger(window) || window < 2)
    throw new ConfigError(`--window ${opts.window}: give a whole number of runs, 2 or more`);
  const since = opts.since && isoDate(opts.since, '--since');
  const boards = await withHistory(opts.history, async (h) =>
    hydrate(h, await analyse(h, { boards: opts.board ? [opts.board] : undefined, since, window })),
  );
  if (opts.board && !boards.length)
    throw new ConfigError(
      `no runs of board ${opts.board} in ${shownLocation(historyLocation(opts.history))}${opts.since ? ` since ${opts.since}` : ''}`,
    );
  // Boards a health check found bad, from where each board's health is kept (a lab host
  // that cannot be reached is said, and its boards are not listed).
  const { healthEverywhere } = await import('../lab/health.js');
  const outOfService = (await healthEverywhere((m) => process.stderr.write(`hil: ${m}\n`))).filter(
    (h) => h.state === 'bad' && (!opts.board || h.board === opts.board),
  );
  const out = path.resolve(opts.out ?? path.join(reportsDir(), 'regressions'));
  makeDirs(out);
  // What the pages link to (each shown run's results.json and the case's console.log) is
  // copied next to them, and linked relatively: the folder can be published as it is.
  const links = publishRuns(boards, out);
  const markdown = toMarkdown(boards, { outOfService, links });
  writeFileSync(path.join(out, 'regressions.md'), markdown);
  writeFileSync(
    path.join(out, 'regressions.html'),
    toHtml(boards, { window, generated: new Date().toISOString().slice(0, 16).replace('T', ' '), outOfService, links }),
  );
  say(markdown);
  say(
    `written: ${shown(path.join(out, 'regressions.md'))} and ${shown(path.join(out, 'regressions.html'))}, with the runs they link to in ${shown(path.join(out, 'runs'))}`,
  );
  return 0;
}

export async function reportRelease(opts: {
  history?: string;
  criteria?: string;
  board?: string[];
  require?: string[];
  allowFlaky?: string[];
  since?: string;
  build?: string;
  out?: string;
}): Promise<number> {
  const { releaseGate, gateMarkdown, gateHtml, readCriteria } = await import('../report/release.js');
  // Every option adds to the criteria (boards, required cases, allowed flaky cases) or, for
  // --since and --build, chooses; none is dropped.
  const criteria = opts.criteria ? readCriteria(opts.criteria) : undefined;
  if (!criteria && !opts.board?.length)
    throw new ConfigError(
      'say which boards the release must pass on: --criteria release.toml, or --board B (repeatable), with --require CASE (repeatable) if you like',
    );
  const since = opts.since
    ? isoDate(opts.since, '--since')
    : criteria?.since && isoDate(criteria.since, `${shown(opts.criteria!)}: since`);
  let build = opts.build;
  if (build !== undefined) build = checkedBuild(build);
  const g = await withHistory(opts.history, (h) =>
    releaseGate(h, { criteria, boards: opts.board, require: opts.require, allowFlaky: opts.allowFlaky, since, build }),
  );
  const md = gateMarkdown(g);
  say(md);
  if (opts.out) {
    const out = path.resolve(opts.out);
    makeDirs(out);
    writeFileSync(path.join(out, 'release.md'), md);
    writeFileSync(path.join(out, 'release.json'), `${JSON.stringify(g, null, 2)}\n`);
    writeFileSync(path.join(out, 'release.html'), gateHtml(g, out));
    say(`written: ${shown(path.join(out, 'release.md'))}, release.json and release.html`);
  }
  return g.qualified ? 0 : EXIT.fail;
}

/** A build name from the command line, or a usage error. */
export function checkedBuild(build: string, what = '--build'): string {
  try {
    return checkBuildId(build, what);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
}

/** `hil report compare`: a pull request's build against its base. Exit 1 on a new failure. */
export async function reportCompare(opts: {
  history?: string;
  base: string;
  head: string;
  board?: string[];
  out?: string;
}): Promise<number> {
  const { compareBuilds, compareMarkdown } = await import('../report/compare.js');
  const { buildKnown } = await import('../history/builds.js');
  const base = checkedBuild(opts.base, '--base');
  const head = checkedBuild(opts.head, '--head');
  const c = await withHistory(opts.history, async (h) => {
    if (!(await buildKnown(h.db, head)))
      throw new ConfigError(
        `--head ${head}: no run of this build is recorded in ${shownLocation(historyLocation(opts.history))} (record its runs first: hil history add RUN...)`,
      );
    if (!(await buildKnown(h.db, base)))
      warn(`--base ${base}: no run of this build is recorded: every case is "not run on base"`);
    return compareBuilds(h, { base, head, boards: opts.board });
  });
  const md = compareMarkdown(c);
  say(md);
  // In a GitHub Actions step, the summary is the job's page.
  const summary = process.env.GITHUB_STEP_SUMMARY;
  if (summary) appendFileSync(summary, `${md}\n`);
  if (opts.out) {
    const out = path.resolve(opts.out);
    makeDirs(out);
    writeFileSync(path.join(out, 'compare.md'), md);
    writeFileSync(path.join(out, 'compare.json'), `${JSON.stringify(c, null, 2)}\n`);
  }
  return c.counts['new failure'] ? EXIT.fail : 0;
}
