// A job: every case of a plan on its board, one after the other, each in a folder of its
// own and each ending as one CaseResult of the results model. TOML cases run through the
// pipeline; TypeScript specs through mocha (suite/specs.ts, handed in by the lifecycle and
// loaded only when the suite has specs: mocha and tsx cost start-up a TOML-only run does not
// pay).
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { redact } from '../config/env.js';
import { shown } from '../config/paths.js';
import { CaseRecorder, newRun, settle, writeResults, type CaseResult, type RunResult } from '../model/results.js';
import { configDigest } from '../model/history.js';
import type { BuildInfo } from '../build/identity.js';
import { InternalError, LabError } from '../errors.js';
import { imageDigest } from '../transfer/image.js';
import type { JobPlan } from './00-plan.js';
import type { SpecCase } from '../config/case.js';
import type { CasePlan, CaseRun, JobContext } from './action.js';
import { owner } from '../drivers/leftovers.js';
import { runPipeline } from './pipeline.js';
import { BoardSession } from './session.js';
import { writeReports } from './90-report.js';

export interface JobOptions {
  outDir: string;
  signal: AbortSignal;
  log: (msg: string) => void;
  baselineDir: string;
  build?: BuildInfo;
  /** History store the run is recorded into; undefined: none. */
  history?: string;
  /** Mocha reporter for specs. */
  reporter?: string;
  /** Seconds to wait for a free board in a pool (`--wait`). */
  waitS?: number;
  /** Runs the suite's TypeScript specs (suite/specs.ts). Given by the caller, not loaded
   * here: the spec API (suite/api.ts) drives this job's actions, so the job does not import
   * it back; and a run without specs does not pay mocha's and tsx's start-up. */
  runSpecs?: (job: Job, specs: SpecCase[]) => Promise<void>;
}

const slug = (s: string) =>
  s
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[_.]+|_+$/g, '')
    .slice(0, 80) || 'case';

/** A case's output folder: its name made safe, and never one another case already has. */
export function caseFolder(outDir: string, name: string, taken: Set<string>): string {
  const base = slug(name);
  let dir = base;
  for (let n = 2; taken.has(dir) || existsSync(path.join(outDir, dir)); n++) dir = `${base}-${n}`;
  taken.add(dir);
  mkdirSync(path.join(outDir, dir), { recursive: true });
  return path.join(outDir, dir);
}

/** The files whose digest identifies a case's configuration. */
function configFiles(p: CasePlan): string[] {
  const a = p.axvisor;
  return [p.case.file, ...(a?.build ? [a.build.file] : p.build ? [p.build.config] : []), ...(a?.vmConfigFiles ?? [])];
}

function imagesOf(r: CaseResult): CaseResult['images'] {
  const seen = new Map<string, { role: string; file: string; sha256: string }>();
  for (const t of r.transfers) {
    if (!seen.has(t.image) && existsSync(t.image))
      seen.set(t.image, { role: t.role, file: shown(t.image), sha256: imageDigest(t.image) });
  }
  return [...seen.values()];
}

export class Job {
  readonly run: RunResult;
  readonly ctx: JobContext;
  private folders = new Set<string>();
  private seq = 0;

  constructor(
    readonly plan: JobPlan,
    readonly o: JobOptions,
  ) {
    this.run = newRun({ board: plan.board.name, soc: plan.board.soc, suite: plan.suite.name, build: o.build });
    if (plan.skipped.length) this.run.skipped = plan.skipped;
    this.ctx = {
      board: plan.board,
      outDir: o.outDir,
      signal: o.signal,
      log: o.log,
      baselineDir: o.baselineDir,
      builds: new Map(),
    };
  }

  /** A fresh case run: its recorder, folder and (not yet powered) board session. */
  open(
    name: string,
    file: string,
    kind: 'toml' | 'spec',
    plan?: CasePlan,
    warnings: string[] = [],
    attempt = 1,
  ): CaseRun {
    const rec = new CaseRecorder(name, file, kind, warnings);
    const dir = caseFolder(this.o.outDir, attempt > 1 ? `${name}.attempt-${attempt}` : name, this.folders);
    const run: CaseRun = {
      job: this.ctx,
      plan,
      rec,
      dir,
      signal: this.o.signal,
      state: { guestLines: [] },
      session: undefined as unknown as BoardSession,
    };
    run.session = new BoardSession(this.plan.board, {
      outDir: dir,
      signal: () => run.signal,
      log: (m) => this.o.log(`  [${name}] ${redact(m)}`),
      runId: `${owner()}.${++this.seq}`,
      pool: {
        server: plan?.case.server,
        port: plan?.case.port,
        boardType: plan?.case.boardType,
        waitS: this.o.waitS ?? 0,
      },
    });
    return run;
  }

  /** Records a finished case run; the results file is rewritten after every case. */
  close(run: CaseRun, err: unknown, attempt = 1, earlier: CaseResult[] = []): CaseResult {
    const r = run.rec.finish(err, path.relative(this.o.outDir, run.dir));
    if (attempt > 1) {
      r.attempt = attempt;
      r.attempts = [...earlier];
    }
    if (run.plan) {
      r.preflight = run.plan.findings.length ? run.plan.findings : undefined;
      r.guest = run.plan.guest;
      r.config = configDigest(configFiles(run.plan));
    }
    r.guest ??= r.name;
    r.images = imagesOf(r);
    if (run.session.consoleOpen) r.console_bytes = run.session.console.bytesRead;
    this.run.cases.push(r);
    settle(this.run);
    writeResults(this.o.outDir, this.run);
    this.o.log(
      `  [${r.name}] ${r.verdict.toUpperCase()}${r.reason ? `: ${r.reason}` : ''} (${r.phases.total.toFixed(2)} s)${attempt > 1 ? `, on attempt ${attempt} after ${attempt - 1} lab error(s)` : ''}`,
    );
    return r;
  }

  private notRun(name: string, file: string, kind: 'toml' | 'spec'): void {
    const rec = new CaseRecorder(name, file, kind);
    this.run.cases.push(
      rec.finish(new LabError('plan', `not run: ${(this.o.signal.reason as Error)?.message ?? 'the run was stopped'}`)),
    );
  }

  async runAll(): Promise<RunResult> {
    for (const p of this.plan.plans) {
      if (this.o.signal.aborted) {
        this.notRun(p.case.name, p.case.file, 'toml');
        continue;
      }
      for (const w of p.case.warnings) this.o.log(`  warning: ${w}`);
      // A lab error may be the lab's bad moment: the case runs again, as the case or the
      // board allows, and every attempt is kept. A failure is never run again.
      const allowed = p.case.retries ?? this.plan.board.retries;
      const earlier: CaseResult[] = [];
      for (let attempt = 1; ; attempt++) {
        const run = this.open(p.case.name, p.case.file, 'toml', p, p.case.warnings, attempt);
        let err: unknown = null;
        try {
          await runPipeline(run);
        } catch (e) {
          err = e;
        }
        const r = this.close(run, err, attempt, earlier);
        if (r.verdict !== 'error' || attempt > allowed || this.o.signal.aborted) break;
        this.run.cases.pop();
        // Each attempt kept once: the next attempt's result lists them all, none nested.
        earlier.push({ ...r, attempt, attempts: undefined });
        writeResults(this.o.outDir, this.run);
        this.o.log(
          `  [${r.name}] lab error on attempt ${attempt}; running it again (${allowed - attempt + 1} more allowed)`,
        );
      }
    }
    if (this.plan.specs.length) {
      if (!this.o.runSpecs) throw new InternalError('a job with TypeScript specs was started without a spec runner');
      await this.o.runSpecs(this, this.plan.specs);
    }
    if (this.o.signal.aborted) this.run.interrupted = (this.o.signal.reason as Error)?.message ?? 'interrupted';
    this.run.finished = new Date().toISOString();
    await writeReports(this.o.outDir, this.run, { history: this.o.history, log: this.o.log });
    return this.run;
  }
}
