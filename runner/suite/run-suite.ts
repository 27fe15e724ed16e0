// Running a suite through mocha: each TOML case becomes a mocha test, each .spec.ts file
// is loaded as mocha specs, and every test, whatever its kind, ends as a CaseResult with
// one of the four verdicts.
import { existsSync } from 'node:fs';
import Mocha from 'mocha';
import { configDigest } from '../report/history.js';
import { imageDigest, type TransferFigures } from '../transfer/image.js';
import type { Board } from '../config/board.js';
import type { Case, TomlCase } from '../config/case.js';
import type { CasePreflight } from '../lab/preflight.js';
import { ConfigError, EXIT, GuestFailure, Interrupted, LabError, PhaseTimeout, verdictOf, worstVerdict, type Verdict } from '../errors.js';
import { runTomlCase } from '../lab/toml-case.js';
import { writeJUnit } from '../report/junit.js';
import { writeResults, type CaseResult, type RunResult } from '../report/results.js';
import { shown } from '../config/paths.js';
import { RunContext, setRunContext, type CaseRecord } from './context.js';

export interface SuiteRunOptions {
  board: Board;
  suite: string;
  cases: Case[];
  outDir: string;
  signal: AbortSignal;
  log: (msg: string) => void;
  /** Mocha reporter for the terminal ("spec" by default). */
  reporter?: string;
  /** Where QEMU baselines are read from (default fixtures/baselines). */
  baselineDir?: string;
  /** The hypervisor's commit or version, recorded with the run. */
  hypervisor?: string;
  /** Each TOML case's preflight (its Axvisor plan and findings). */
  preflight?: Map<TomlCase, CasePreflight>;
}

export async function runSuite(o: SuiteRunOptions): Promise<RunResult> {
  const started = new Date();
  const ctx = new RunContext(o.board, o.outDir, o.signal, o.log, o.baselineDir);
  setRunContext(ctx);
  const run: RunResult = {
    verdict: 'pass', exit_code: 0, board: o.board.name, soc: o.board.soc || undefined, suite: o.suite, hypervisor: o.hypervisor, started: started.toISOString(),
    duration_s: 0, counts: { pass: 0, fail: 0, error: 0, timeout: 0 }, cases: [],
  };
  const save = () => {
    run.duration_s = round((Date.now() - started.getTime()) / 1000);
    run.verdict = worstVerdict(run.cases.map((c) => c.verdict));
    run.exit_code = EXIT[run.verdict];
    for (const v of Object.keys(run.counts) as Verdict[]) run.counts[v] = run.cases.filter((c) => c.verdict === v).length;
    writeResults(o.outDir, run);
  };

  const mocha = new Mocha({ timeout: 0, reporter: o.reporter ?? 'spec', color: process.stdout.isTTY });
  mocha.suite.title = `${o.board.name} / ${o.suite}`;
  const specFiles = new Map<string, Case>();
  for (const c of o.cases) {
    if (c.kind === 'toml') {
      const test = new Mocha.Test(c.name, () => runTomlCase(ctx, c, o.preflight?.get(c)));
      test.file = c.file;
      mocha.suite.addTest(test);
    } else {
      mocha.addFile(c.file);
      specFiles.set(c.file, c);
    }
  }
  await mocha.loadFilesAsync();

  const caseOf = (t: Mocha.Runnable): Case | undefined => o.cases.find((c) => c.kind === 'toml' && c.file === t.file) ?? specFiles.get(t.file ?? '');
  const pending = new Set<Promise<void>>();
  const finish = (err: unknown) => {
    const rec = ctx.current;
    if (!rec || rec.done) return;
    rec.done = true;
    const p = record(rec, err).finally(() => pending.delete(p));
    pending.add(p);
  };
  const record = async (rec: CaseRecord, err: unknown) => {
    // Our own errors carry the whole story in their message; a stack trace in mocha's
    // report would only bury it.
    if (err instanceof Error && isDomainError(err)) err.stack = `${err.name}: ${err.message}`;
    await ctx.closeSession(rec);
    const c = o.cases.find((x) => x.kind === 'toml' && x.file === rec.file) as TomlCase | undefined;
    const pre = c && o.preflight?.get(c);
    const verdict = err ? verdictOf(err) : 'pass';
    const result: CaseResult = {
      name: rec.name, file: shown(rec.file), kind: rec.kind, verdict,
      reason: err ? (err as Error).message.split('\n')[0] : '',
      phase: err ? phaseOf(err, rec) : undefined,
      phases: roundAll({ ...rec.phases, total: (performance.now() - rec.t0) / 1000 }),
      transfers: rec.transfers.map((f) => ({ ...f, seconds: round(f.seconds) })), matched: rec.matched, last_lines: verdict === 'pass' ? [] : rec.last_lines,
      transcript: rec.transcript, started: rec.started, warnings: rec.warnings, baseline: rec.baseline,
      preflight: pre?.findings.length ? pre.findings : undefined, build: rec.build,
      deploys: rec.deploys?.length ? rec.deploys : undefined, vms: rec.vms,
      guest: guestOf(rec.name, o.board.name, pre), config: configDigest([rec.file, ...(pre?.plan ? [pre.plan.build?.file ?? '', ...pre.plan.vmConfigFiles] : [])]),
      images: imagesOf(rec.transfers),
    };
    if (err instanceof Error && 'lastLines' in err && Array.isArray(err.lastLines) && err.lastLines.length) result.last_lines = err.lastLines;
    run.cases.push(result);
    save();
    o.log(`  [${result.name}] ${verdict.toUpperCase()}${result.reason ? `: ${result.reason}` : ''} (${result.phases.total.toFixed(2)} s)`);
  };

  await new Promise<void>((resolve) => {
    const runner = mocha.run(() => resolve());
    const onAbort = () => runner.abort();
    o.signal.addEventListener('abort', onAbort, { once: true });
    runner.on('test', (t) => {
      const c = caseOf(t);
      const name = c?.kind === 'spec' ? `${c.name}: ${t.title}` : t.title;
      ctx.begin(name, c?.file ?? t.file ?? '', c?.kind ?? 'spec', c?.kind === 'toml' ? c.warnings : []);
      for (const w of c?.kind === 'toml' ? c.warnings : []) o.log(`  warning: ${w}`);
    });
    // Mocha tells pass/fail before a spec's afterEach hooks run; both paths close the same
    // session (close() is shared), so the board is off before the next test powers it on.
    runner.on('pass', () => finish(null));
    runner.on('fail', (_t, err) => finish(o.signal.aborted && !(err instanceof Interrupted) ? o.signal.reason : err));
  });
  await Promise.all(pending);
  // A run stopped before its cases ran still says so, case by case.
  for (const c of o.cases) {
    if (c.kind === 'toml' && !run.cases.some((r) => r.file === shown(c.file))) {
      if (o.signal.aborted) {
        run.cases.push({ name: c.name, file: shown(c.file), kind: 'toml', verdict: 'error', reason: `not run: ${(o.signal.reason as Error).message}`, phases: { total: 0 }, transfers: [], last_lines: [], started: new Date().toISOString(), warnings: [] });
      }
    }
  }
  setRunContext(null);
  run.finished = new Date().toISOString();
  save();
  writeJUnit(o.outDir, run);
  return run;
}

/** The guest a case boots: TGOSKits names board cases board-<board>-<guest>.toml; an
 * Axvisor case boots its VMs; otherwise the case is named after its guest. */
function guestOf(name: string, board: string, pre?: CasePreflight): string {
  const vms = pre?.plan?.vms.map((v) => v.config.name) ?? [];
  if (vms.length) return vms.join('+');
  const m = /^board-(.+)$/.exec(name);
  if (m) return m[1].startsWith(`${board}-`) ? m[1].slice(board.length + 1) : m[1].replace(/^[^-]+-/, '');
  return name;
}

function imagesOf(transfers: TransferFigures[]): CaseResult['images'] {
  const seen = new Map<string, { role: string; file: string; sha256: string }>();
  for (const t of transfers) if (!seen.has(t.image) && existsSync(t.image)) seen.set(t.image, { role: t.role, file: shown(t.image), sha256: imageDigest(t.image) });
  return [...seen.values()];
}

const isDomainError = (e: Error) => [GuestFailure, LabError, PhaseTimeout, Interrupted, ConfigError].some((k) => e instanceof k);
const round = (n: number) => Math.round(n * 1000) / 1000;
function roundAll<T extends Record<string, number | undefined>>(o: T): T {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, v === undefined ? v : round(v)])) as T;
}

/** Where a verdict was decided: the error's own phase, else the last phase the case entered. */
function phaseOf(err: unknown, rec: CaseRecord): string | undefined {
  if (err instanceof LabError || err instanceof PhaseTimeout) return err.phase;
  if (err instanceof GuestFailure) return 'guest';
  return Object.keys(rec.phases).filter((k) => k !== 'total').pop();
}
