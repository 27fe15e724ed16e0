// `hil run` and `hil preflight`: plan (everything validated before the board is touched),
// then the job, then what to read next.
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { buildOf, type BuildInfo } from '../build/identity.js';
import { makeDirs, reportsDir, shown, shownTime } from '../config/paths.js';
import { redact } from '../config/env.js';
import { ConfigError, EXIT, kindOf } from '../errors.js';
import { formatFinding, type Finding } from '../axvisor/findings.js';
import { planJob, type JobPlan } from '../job/00-plan.js';
import { newRun, settle, writeResults, type RunResult } from '../model/results.js';
import { resultFiles } from '../job/90-report.js';
import { defaultBaselineDir } from '../baseline/store.js';

const say = (msg: string) => process.stdout.write(`${redact(msg)}\n`);
/** Now, as a file-name-safe stamp (2026-11-22T00-42-22) for output folders. */
const stamp = () => new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);

interface PlanFlags {
  board: string;
  suite: string;
  image?: string;
  workspace?: string;
}

function plan(o: PlanFlags): JobPlan {
  const image = o.image ?? process.env.HIL_IMAGE;
  if (image && !existsSync(image)) throw new ConfigError(`--image ${image} does not exist: build it first, or give the path of the built image`);
  return planJob({ board: o.board, suite: o.suite, image, workspace: o.workspace });
}

function sayFindings(findings: Finding[], notes: boolean): void {
  for (const f of findings) if (notes || f.level !== 'note') say(`preflight ${formatFinding(f)}`);
}

export async function preflightCmd(o: PlanFlags & { json?: boolean }): Promise<number> {
  const p = plan(o);
  const vms = p.plans.flatMap((x) => x.axvisor?.vms ?? []);
  if (o.json) say(JSON.stringify({ board: p.board.name, suite: p.suite.name, cases: p.plans.length, skipped: p.skipped, findings: p.findings }, null, 2));
  else {
    sayFindings(p.findings, true);
    const warnings = p.findings.filter((f) => f.level === 'warning').length;
    say(
      `preflight of ${p.suite.name} on ${p.board.name}: ${p.errors.length} error(s), ${warnings} warning(s); ${p.plans.length} case(s), ${vms.length} VM(s)${vms.length ? `: ${vms.map((v) => `${v.config.id} ${v.config.name} (${v.config.imageLocation})`).join(', ')}` : ''}${p.skipped.length ? `; ${p.skipped.length} case(s) for other boards` : ''}`,
    );
  }
  return p.errors.length ? EXIT.config : 0;
}

/** The build under test: --build (or --hypervisor, its old name), HIL_BUILD, or the git
 * commit of the workspace the cases build in; else settle() names it from the images. */
function buildFor(given: string | undefined, p: JobPlan): BuildInfo | undefined {
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
      const base = path.join(reportsDir(), `${stamp()}-${p.board.name}-${p.suite.name}`.replace(/[^A-Za-z0-9._-]+/g, '_'));
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
    if (!statSync(dir).isDirectory()) throw new ConfigError(`--out ${shown(dir)} is a file, not a folder: give --out a folder (made if missing), or remove that file`);
    accessSync(dir, constants.W_OK);
  } catch (e) {
    if (kindOf(e) === 'config') throw e;
    throw new ConfigError(`cannot write the output folder ${shown(dir)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (give --out a folder you can write)`);
  }
  if (existsSync(path.join(dir, 'results.json'))) throw new ConfigError(`${shown(dir)} already holds a run's results: give --out a new folder (nothing was overwritten)`);
  return dir;
}

/** Where the run is recorded, checked before the board is touched: a server that does not
 * answer, or a folder that cannot be written, is told now, not after the run. */
async function historyOf(o: { history?: string | false }): Promise<string | undefined> {
  if (o.history === false) return undefined;
  const { historyLocation, checkWritable } = await import('../history/store.js');
  const location = historyLocation(o.history);
  await checkWritable(location);
  return location;
}

function sayPlan(p: JobPlan): void {
  say(`plan valid: ${p.plans.length + p.specs.length} case(s) of ${p.suite.name} on ${p.board.name}`);
  for (const c of p.plans) {
    const from =
      c.imageSource === 'build'
        ? `built by \`${c.build!.command} ${c.build!.args.join(' ')}\` in ${shown(c.build!.cwd)}`
        : c.imageSource === 'board-storage'
          ? "from the board's own storage (the last uboot_cmd boots)"
          : c.imageSource === 'image-option'
            ? `--image ${shown(c.images!.kernel)}`
            : shown(c.images!.kernel);
    say(`  case ${c.case.name}  (${shown(c.case.file)})`);
    say(
      `       image: ${from}; load: ${c.methods.join(' then ')}${c.fit ? ', as a FIT image (bootm)' : ''}${c.case.timeout !== undefined ? `; timeout ${c.case.timeout || 'none'} s from the boot command` : ''}`,
    );
    if (c.axvisor?.vms.length) say(`       VMs: ${c.axvisor.vms.map((v) => `${v.config.id} ${v.config.name} (${v.config.imageLocation})`).join(', ')}`);
    if (c.case.unknownKeys.length) say(`       unknown keys (ignored): ${c.case.unknownKeys.join(', ')}`);
  }
  for (const s of p.specs) say(`  spec ${s.name}  (${shown(s.file)})`);
  for (const s of p.skipped) say(`  skipped ${s.name}: ${s.reason}`);
  for (const s of p.suite.skipped) if (!/build config|QEMU case|VM config/.test(s.why)) say(`  not a case: ${shown(s.file)} (${s.why})`);
  if (p.board.caseDefaults?.unknown.length) say(`  board ${shown(p.board.file)}: unknown keys (ignored): ${p.board.caseDefaults.unknown.join(', ')}`);
}

type RunFlags = PlanFlags & { out?: string; dryRun?: boolean; reporter?: string; baselines?: string; history?: string | false; build?: string; hypervisor?: string; wait?: string };

export async function run(o: RunFlags): Promise<number> {
  const waitS = waitSeconds(o.wait); // a bad --wait is told before anything starts
  const p = plan(o);
  if (p.board.lab_host && o.dryRun) await (await import('../lab/lab-host.js')).checkLabHost(p.board.lab_host);
  sayFindings(p.findings, Boolean(o.dryRun));
  if (o.dryRun) {
    if (p.errors.length) throw new ConfigError(`preflight found ${p.errors.length} error(s): the plan is not valid`);
    sayPlan(p);
    return 0;
  }
  const build = buildFor(o.build ?? o.hypervisor, p);
  const history = await historyOf(o);
  const outDir = outputFolder(o.out, p);
  // The setting's own errors (a lease folder that is a file, an SSH key its passphrase
  // does not open), before the board is touched: exit 3, and results.json says which.
  const setup = (await leaseFolderProblem(p)) ?? (await labHostProblem(p));
  if (setup) return neverRan(p, outDir, `${setup}; the board was not powered`, EXIT.config);
  if (p.errors.length) {
    const reason = `preflight found ${p.errors.length} error(s); the board was not powered: fix them (hil preflight --board ${o.board} --suite ${o.suite}) and run again`;
    const r = newRun({ board: p.board.name, soc: p.board.soc, suite: p.suite.name });
    r.preflight_errors = p.errors;
    r.reason = reason;
    settle(r);
    r.verdict = 'error';
    r.exit_code = EXIT.config;
    writeResults(outDir, r);
    throw new ConfigError(`${reason} (results: ${shown(path.join(outDir, 'results.json'))})`);
  }

  const { interruptible } = await import('./interrupt.js');
  const ac = interruptible(say);

  say(
    `hil: ${p.plans.length + p.specs.length} case(s) of ${p.suite.name} on ${p.board.name}${p.skipped.length ? ` (${p.skipped.length} for other boards skipped)` : ''}; output in ${shown(outDir)}`,
  );
  try {
    const lease = await takeBoard(p, outDir, waitS, ac.signal);
    if (typeof lease === 'number') return lease;
    try {
      if (lease) {
        const refused = await healthGate(p, outDir, ac.signal);
        if (refused !== undefined) return refused;
      }
      const result = await runJob(p, o, outDir, { history, build, waitS, signal: ac.signal });
      if (lease) await afterRun(p, result, outDir);
      return result.exit_code;
    } finally {
      await lease?.release();
    }
  } finally {
    // The lab host's SSH connection (its lease, power, console) ends with the run.
    if (p.board.lab_host) (await import('../lab/lab-host.js')).LabHost.closeAll();
  }
}

/** A run that never reached its cases: its results.json says why; one line on stderr. */
function neverRan(p: JobPlan, outDir: string, reason: string, code: number = EXIT.error, interrupted?: string): number {
  const r = newRun({ board: p.board.name, soc: p.board.soc, suite: p.suite.name });
  r.reason = reason;
  r.interrupted = interrupted;
  settle(r);
  r.verdict = 'error';
  r.exit_code = code;
  writeResults(outDir, r);
  process.stderr.write(`hil: ${reason} (results: ${shown(path.join(outDir, 'results.json'))})\n`);
  return code;
}

/** Stopped (Ctrl-C, SIGTERM) before the cases ran: results.json says so, exit 130. A
 * health check run meanwhile keeps its case in it. */
async function stoppedBefore(p: JobPlan, outDir: string, signal: AbortSignal, where: string): Promise<number> {
  const why = (signal.reason as Error)?.message ?? 'interrupted';
  if (existsSync(path.join(outDir, 'results.json'))) {
    const { markInterrupted } = await import('./interrupt.js');
    markInterrupted(outDir, why);
    process.stderr.write(`hil: ${why} ${where}; its cases were not run (results: ${shown(path.join(outDir, 'results.json'))})\n`);
    return EXIT.interrupted;
  }
  return neverRan(p, outDir, `${why} ${where}; its cases were not run, the board was not powered`, EXIT.interrupted, why);
}

/** What can be known wrong with the board's lab host before it is reached (no key to
 * offer, a key its passphrase does not open, no known_hosts). */
async function labHostProblem(p: JobPlan): Promise<string | undefined> {
  if (!p.board.lab_host) return undefined;
  try {
    await (await import('../lab/lab-host.js')).checkLabHost(p.board.lab_host);
  } catch (e) {
    if (kindOf(e) !== 'config') throw e;
    return (e as Error).message;
  }
  return undefined;
}

/** What is wrong with the lease folder of a board that takes its lease here (a file, not
 * a folder), found before the board is touched. */
async function leaseFolderProblem(p: JobPlan): Promise<string | undefined> {
  const { isLabBoard } = await import('../lab/health.js');
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

/** LAVA's rule: a bad board gets no work; an unknown one is checked first. */
async function healthGate(p: JobPlan, outDir: string, signal: AbortSignal): Promise<number | undefined> {
  const { readHealth, checkBoard } = await import('../lab/health.js');
  let h = readHealth(p.board.name);
  if (h?.state === 'bad' && (p.board.usb?.recover || p.board.usb?.write_loader)) {
    // Its firmware written again over USB, then checked: a bad build's broken U-Boot does not
    // keep the board out of service until someone walks to the lab.
    say(`board ${p.board.name} failed its health check (${h.reason}): recovering it over USB`);
    try {
      const { recoverOverUsb } = await import('../usb/flash.js');
      await recoverOverUsb(p.board, { log: (m) => say(`  ${m}`) });
    } catch (e) {
      if (kindOf(e) !== 'lab') throw e;
      return neverRan(
        p,
        outDir,
        `board ${p.board.name} failed its health check (${h.reason}), and recovering it over USB failed: ${(e as Error).message}; the board was not given the run`,
      );
    }
    h = await checkBoard(p.board, { outDir, signal, log: say });
    if (signal.aborted) return stoppedBefore(p, outDir, signal, `while board ${p.board.name} was checked after its recovery`);
    if (h.state === 'bad')
      return neverRan(p, outDir, `board ${p.board.name} was recovered over USB and still fails its health check (${h.reason}); the board was not given the run`);
    say(`board ${p.board.name} recovered: ${h.uboot_version ?? 'U-Boot answers'}`);
  }
  if (h?.state === 'bad') {
    return neverRan(
      p,
      outDir,
      `board ${p.board.name} failed its health check at ${shownTime(h.at)} (${h.reason}): fix it, then \`hil lab check --board ${p.board.name}\`; the board was not given the run`,
    );
  }
  if (h?.state !== 'unknown') return undefined;
  say(`board ${p.board.name} is of unknown health (${h.reason}): checking it first`);
  const checked = await checkBoard(p.board, { outDir, signal, log: say });
  if (signal.aborted) return stoppedBefore(p, outDir, signal, `while board ${p.board.name} was checked`);
  if (checked.state === 'bad') {
    process.stderr.write(`hil: board ${p.board.name} failed its health check (${checked.reason}); its cases were not run (results: ${shown(path.join(outDir, 'results.json'))})\n`);
    return EXIT.error;
  }
  return undefined;
}

/** A lab error on a board makes its health unknown: the next run checks it first. */
async function afterRun(p: JobPlan, result: RunResult, outDir: string): Promise<void> {
  const bad = result.cases.find((c) => c.verdict === 'error');
  if (!bad) return;
  const { writeHealth } = await import('../lab/health.js');
  writeHealth({
    board: p.board.name,
    state: 'unknown',
    at: new Date().toISOString(),
    reason: `lab error in ${bad.name}${bad.phase ? ` (${bad.phase})` : ''}: ${bad.reason}`,
    run: outDir,
  });
}

/** Seconds from `--wait`: 90, 90s, 10m, 1h. */
export function waitSeconds(v: string | undefined): number {
  if (v === undefined) return 0;
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(v.trim());
  if (!m) throw new ConfigError(`--wait ${v}: give a duration such as 90, 90s, 10m or 1h`);
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'] ?? 1);
}

/** Takes the board's lease (if it has one): the lease, undefined for a board without one,
 * or the exit code of a run that never got the board (its results.json says why). */
async function takeBoard(p: JobPlan, outDir: string, waitS: number, signal: AbortSignal) {
  const { isLabBoard } = await import('../lab/health.js');
  if (!isLabBoard(p.board)) return undefined;
  const { Lease } = await import('../lab/lease.js');
  const { leaseStoreOf } = await import('../lab/lab-host.js');
  try {
    return await Lease.acquire(p.board.name, { run: shown(outDir), waitS, log: say, signal, store: leaseStoreOf(p.board) });
  } catch (e) {
    if (signal.aborted) return stoppedBefore(p, outDir, signal, `while waiting for board ${p.board.name}`);
    if (kindOf(e) === 'config') return neverRan(p, outDir, `${(e as Error).message}; the board was not powered`, EXIT.config);
    if (kindOf(e) !== 'lab') throw e;
    return neverRan(p, outDir, `lease: ${(e as Error).message}; the board was not powered`);
  }
}

async function runJob(
  p: JobPlan,
  o: RunFlags,
  outDir: string,
  { history, build, waitS, signal }: { history?: string; build?: BuildInfo; waitS: number; signal: AbortSignal },
): Promise<RunResult> {
  const { Job } = await import('../job/job.js');
  const job = new Job(p, {
    outDir,
    signal,
    log: say,
    reporter: o.reporter,
    history,
    baselineDir: o.baselines ? path.resolve(o.baselines) : defaultBaselineDir(),
    build,
    waitS,
  });
  const result = await job.runAll();
  const c = result.counts;
  say(
    `\n${result.verdict.toUpperCase()}: ${c.pass} passed, ${c.fail + c.timeout} failed, ${c.error} lab errors (${c.timeout} timeouts)${c.internal ? `, ${c.internal} runner bug(s)` : ''} in ${result.duration_s.toFixed(1)} s`,
  );
  for (const r of result.cases.filter((x) => x.verdict !== 'pass')) say(`  ${r.name}: ${r.verdict}: ${r.reason}`);
  if (result.build) say(`build: ${result.build.id}${result.build.source === 'images' ? ' (named by its images: give --build or HIL_BUILD to name it)' : ''}`);
  const f = resultFiles(outDir);
  say(`results: ${shown(f.results)}  junit: ${shown(f.junit)}  allure: ${shown(f.allure)}`);
  return result;
}
