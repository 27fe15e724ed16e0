// hil: run suites on boards, list what exists. Exit codes: 0 pass, 1 fail or timeout,
// 2 lab error, 3 bad usage or configuration, 130 interrupted.
import { Command, CommanderError } from 'commander';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { listBoardNames, loadBoard, resolveBoardFile } from '../config/board.js';
import { listSuiteNames, loadSuite, resolveSuite } from '../config/case.js';
import { projectRoot, shown } from '../config/paths.js';
import { readToml } from '../config/toml.js';
import { ConfigError, EXIT, Interrupted } from '../errors.js';
import { runSuite } from '../suite/run-suite.js';
import { recordBaseline } from '../baseline/record.js';
import { baselinePath, defaultBaselineDir, writeBaseline } from '../baseline/store.js';
import { loadQemuCase } from '../config/qemu-case.js';
import { allFindings, preflightCases } from '../lab/preflight.js';
import { formatFinding, type Finding } from '../axvisor/findings.js';
import { writeResults } from '../report/results.js';
import { writeAllure } from '../report/allure.js';
import { defaultHistoryFile, recordRun } from '../report/history.js';
import { historyAdd, reportAllure, reportRegressions, reportRelease } from './report.js';
import { execaSync } from 'execa';

const say = (msg: string) => process.stdout.write(msg + '\n');
/** Now, as a file-name-safe stamp (2026-11-22T00-42-22) for output folders. */
const stamp = () => new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);

/**
 * The whole plan, validated before any hardware is touched (LAVA's habit): board, cases,
 * and each case's preflight. A wrong path or pattern fails here in milliseconds, not after
 * a two-minute boot.
 */
function planRun(opts: { board: string; suite: string }) {
  const board = loadBoard(opts.board);
  const suiteName = path.basename(resolveSuite(opts.suite)).replace(/\.toml$/, '');
  const cases = loadSuite(opts.suite);
  for (const c of cases) {
    if (c.kind === 'toml' && c.boardType && c.boardType !== board.name && !board.aliases.includes(c.boardType)) {
      throw new ConfigError(`${shown(c.file)}: board_type "${c.boardType}" does not match board ${board.name} (aliases: ${board.aliases.join(', ') || 'none'})`);
    }
  }
  const pre = preflightCases(cases, board);
  const findings = allFindings(pre);
  return { board, suiteName, cases, pre, findings, errors: findings.filter((f) => f.level === 'error') };
}

function sayFindings(findings: Finding[]): void {
  for (const f of findings) say(`preflight ${formatFinding(f)}`);
}

async function preflightCmd(opts: { board: string; suite: string; json?: boolean }): Promise<number> {
  const p = planRun(opts);
  if (opts.json) say(JSON.stringify({ board: p.board.name, suite: p.suiteName, findings: p.findings }, null, 2));
  else {
    sayFindings(p.findings);
    const vms = [...p.pre.values()].flatMap((x) => x.plan?.vms ?? []);
    say(`preflight of ${p.suiteName} on ${p.board.name}: ${p.errors.length} error(s), ${p.findings.length - p.errors.length} warning(s); ${p.cases.length} case(s), ${vms.length} VM(s)${vms.length ? `: ${vms.map((v) => `${v.config.id} ${v.config.name} (${v.config.imageLocation})`).join(', ')}` : ''}`);
  }
  return p.errors.length ? EXIT.config : 0;
}

/** The hypervisor's commit or version: given, from the environment, or the git commit of
 * the cases' Axvisor workspace. */
function hypervisorOf(given: string | undefined, pre: ReturnType<typeof planRun>['pre']): string | undefined {
  if (given ?? process.env.HIL_HYPERVISOR) return given ?? process.env.HIL_HYPERVISOR;
  for (const p of pre.values()) {
    if (!p.plan) continue;
    const r = execaSync('git', ['-C', p.plan.workspace, 'rev-parse', '--short=12', 'HEAD'], { reject: false });
    if (r.exitCode === 0 && String(r.stdout).trim()) return String(r.stdout).trim();
  }
  return undefined;
}

async function run(opts: { board: string; suite: string; out?: string; dryRun?: boolean; reporter?: string; baselines?: string; history?: string | false; hypervisor?: string }): Promise<number> {
  const { board, suiteName, cases, pre, findings, errors } = planRun(opts);
  sayFindings(findings);
  const outDir = path.resolve(opts.out ?? path.join(projectRoot, 'reports', `${stamp()}-${board.name}-${suiteName}`));
  if (errors.length && !opts.dryRun) {
    const reason = `preflight found ${errors.length} error(s); the board was not powered: fix them (hil preflight --board ${opts.board} --suite ${opts.suite}) and run again`;
    writeResults(outDir, {
      verdict: 'error', exit_code: EXIT.config, board: board.name, suite: suiteName, started: new Date().toISOString(),
      duration_s: 0, counts: { pass: 0, fail: 0, error: 0, timeout: 0 }, cases: [], preflight_errors: errors, reason,
    });
    throw new ConfigError(`${reason} (results: ${shown(path.join(outDir, 'results.json'))})`);
  }
  if (opts.dryRun) {
    if (errors.length) throw new ConfigError(`preflight found ${errors.length} error(s): the plan is not valid`);
    say(`plan valid: ${cases.length} case(s) of ${suiteName} on ${board.name}`);
    for (const c of cases) say(`  ${c.kind === 'toml' ? 'case' : 'spec'} ${c.name}  (${shown(c.file)})`);
    return 0;
  }
  mkdirSync(outDir, { recursive: true });

  const ac = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) {
      say(`\n${sig} again: exiting now (child processes are ended on exit)`);
      process.exit(EXIT.interrupted);
    }
    say(`\n${sig}: stopping; powering the board off (press Ctrl-C again to exit at once)`);
    ac.abort(new Interrupted(sig));
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, onSignal);

  say(`hil: ${cases.length} case(s) of ${suiteName} on ${board.name}; output in ${shown(outDir)}`);
  const result = await runSuite({ board, suite: suiteName, cases, outDir, signal: ac.signal, log: say, reporter: opts.reporter, baselineDir: opts.baselines && path.resolve(opts.baselines), preflight: pre, hypervisor: hypervisorOf(opts.hypervisor, pre) });
  writeAllure(outDir, result);
  if (opts.history !== false) {
    const file = path.resolve(opts.history ?? defaultHistoryFile());
    recordRun(file, outDir);
    say(`history: ${result.cases.length} case(s) recorded into ${shown(file)}`);
  }
  const c = result.counts;
  say(`\n${result.verdict.toUpperCase()}: ${c.pass} passed, ${c.fail + c.timeout} failed, ${c.error} lab errors (${c.timeout} timeouts) in ${result.duration_s.toFixed(1)} s`);
  for (const r of result.cases.filter((x) => x.verdict !== 'pass')) say(`  ${r.name}: ${r.verdict}: ${r.reason}`);
  say(`results: ${shown(path.join(outDir, 'results.json'))}  junit: ${shown(path.join(outDir, 'junit.xml'))}  allure: ${shown(path.join(outDir, 'allure-results'))}`);
  return ac.signal.aborted ? EXIT.interrupted : result.exit_code;
}

/** Records the QEMU baseline of every case of a suite that names a qemu_case. */
async function recordBaselines(opts: { suite: string; baselines?: string }): Promise<number> {
  const dir = path.resolve(opts.baselines ?? defaultBaselineDir());
  const cases = loadSuite(opts.suite).filter((c) => c.kind === 'toml' && c.baseline);
  if (!cases.length) throw new ConfigError(`suite ${opts.suite} has no case with a qemu_case: nothing to record`);
  const started = stamp();
  let failed = 0;
  for (const c of cases) {
    if (c.kind !== 'toml' || !c.baseline) continue;
    const qc = loadQemuCase(c.baseline.qemuCase);
    const file = baselinePath(dir, qc.file);
    const out = path.join(projectRoot, 'reports', `${started}-baseline`, c.name);
    try {
      const b = await recordBaseline(qc, out);
      writeBaseline(file, b);
      say(`${c.name}: recorded ${b.lines.length} lines from ${shown(qc.file)} into ${shown(file)}`);
    } catch (e) {
      failed++;
      say(`${c.name}: not recorded: ${(e as Error).message} (transcript in ${shown(out)})`);
    }
  }
  return failed ? EXIT.error : 0;
}

function boards(): number {
  for (const name of listBoardNames()) {
    const file = resolveBoardFile(name);
    const raw = JSON.stringify(readToml(file));
    const needs = [...new Set([...raw.matchAll(/\$\{env:(\w+)\}/g)].map((m) => m[1]))];
    const missing = needs.filter((n) => process.env[n] === undefined);
    let desc = '';
    try {
      const b = loadBoard(name, { expand: false });
      desc = `${b.soc || b.arch}, ${b.power.kind} power, ${b.console.baud} baud`;
    } catch (e) {
      desc = `INVALID: ${(e as Error).message}`;
    }
    say(`${name.padEnd(22)} ${desc}${missing.length ? `  (needs ${missing.join(', ')})` : needs.length ? '  (environment set)' : ''}`);
  }
  return 0;
}

function suites(): number {
  for (const name of listSuiteNames()) {
    try {
      const cases = loadSuite(resolveSuite(name));
      say(`${name.padEnd(22)} ${cases.length} case(s): ${cases.map((c) => c.name).join(', ')}`);
    } catch (e) {
      say(`${name.padEnd(22)} INVALID: ${(e as Error).message}`);
    }
  }
  return 0;
}

const program = new Command('hil')
  .description('Hardware-in-the-loop test runner for the Axvisor hypervisor')
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });
program.command('run')
  .description('run a suite (a folder of cases, one case .toml, or a .spec.ts) on a board')
  .requiredOption('-b, --board <name|path>', 'board name (boards/<name>.toml) or path')
  .requiredOption('-s, --suite <name|path>', 'suite name (suites/<name>) or path')
  .option('-o, --out <dir>', 'output folder (default reports/<time>-<board>-<suite>)')
  .option('--reporter <name>', 'mocha reporter for the terminal', 'spec')
  .option('--dry-run', 'validate the plan and stop before touching the board')
  .option('--baselines <dir>', 'where QEMU baselines are read from (default fixtures/baselines)')
  .option('--history <file>', 'history store the run is recorded into (default reports/history.jsonl, or HIL_HISTORY)')
  .option('--no-history', 'do not record the run in the history store')
  .option('--hypervisor <commit>', 'the hypervisor\'s commit or version, recorded with the run (or HIL_HYPERVISOR)')
  .action(async (o) => { process.exitCode = await run(o); });
program.command('preflight')
  .description('check a suite\'s Axvisor build and VM configs against the board, without touching it')
  .requiredOption('-b, --board <name|path>', 'board name (boards/<name>.toml) or path')
  .requiredOption('-s, --suite <name|path>', 'suite name (suites/<name>) or path')
  .option('--json', 'print the findings as JSON')
  .action(async (o) => { process.exitCode = await preflightCmd(o); });
program.command('baseline').description('QEMU baselines of guests')
  .command('record')
  .description('run the QEMU case of every case in a suite and store its output as the baseline')
  .requiredOption('-s, --suite <name|path>', 'suite name (suites/<name>) or path')
  .option('--baselines <dir>', 'where to store them (default fixtures/baselines)')
  .action(async (o) => { process.exitCode = await recordBaselines(o); });
const history = program.command('history').description('the store of recorded runs');
history.command('add')
  .description('record finished run folders (their results.json) into the history store')
  .argument('<runs...>', 'run folders written by hil run')
  .option('--history <file>', 'history store (default reports/history.jsonl, or HIL_HISTORY)')
  .action((runs: string[], o) => { process.exitCode = historyAdd(runs, o); });
const report = program.command('report').description('reports from runs and from the history store');
report.command('allure')
  .description('turn one or many runs into Allure\'s HTML report (needs Java)')
  .argument('<runs...>', 'run folders written by hil run (or their allure-results folders)')
  .requiredOption('-o, --out <dir>', 'where the report goes (its history is kept for trends)')
  .option('--single-file', 'one index.html that opens from disk without a server')
  .action(async (runs: string[], o) => { process.exitCode = await reportAllure(runs, o); });
report.command('regressions')
  .description('per board: new failures, fixed, still failing, flaky, lab errors apart (Markdown and HTML)')
  .option('--history <file>', 'history store (default reports/history.jsonl, or HIL_HISTORY)')
  .option('-b, --board <name>', 'only this board')
  .option('--since <date>', 'only runs from this date on (2026-11-01)')
  .option('--window <n>', 'runs shown per case and looked at for flakiness', '20')
  .option('-o, --out <dir>', 'where regressions.md and regressions.html go (default reports/regressions)')
  .action((o) => { process.exitCode = reportRegressions(o); });
report.command('release')
  .description('boards x cases, latest verdicts; exit 0 when the release criteria hold, 1 when not')
  .option('--history <file>', 'history store (default reports/history.jsonl, or HIL_HISTORY)')
  .option('--criteria <file>', 'TOML: boards = [...], required_cases = [...], since = "..."')
  .option('-b, --board <name>', 'a board the release must pass on (repeatable)', (v: string, acc: string[] = []) => [...acc, v])
  .option('--require <case>', 'a case that must pass (repeatable; default every case recorded)', (v: string, acc: string[] = []) => [...acc, v])
  .option('--since <date>', 'only runs from this date on')
  .option('-o, --out <dir>', 'also write release.md and release.json there')
  .action((o) => { process.exitCode = reportRelease(o); });
program.command('boards').description('list the boards in boards/').action(() => { process.exitCode = boards(); });
program.command('suites').description('list the suites in suites/').action(() => { process.exitCode = suites(); });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : EXIT.config;
  } else if (e instanceof ConfigError) {
    process.stderr.write(`hil: ${e.message}\n`);
    process.exitCode = EXIT.config;
  } else {
    process.stderr.write(`hil: internal error: ${(e as Error).stack ?? e}\n`);
    process.exitCode = EXIT.error;
  }
}
// Whatever is still scheduled (a closed port's timers) must not keep a finished run alive.
setTimeout(() => process.exit(), 200).unref();
