// The results model: what a run decided and why. One shape, versioned, that every view is
// made from: results.json is this model as it is; JUnit, Allure, the history store and
// every report read it and nothing else (report commands load none of the drivers).
//
// A case's result is put together in one place, the CaseRecorder: the pipeline's actions
// tell it what happened (a phase's time, a transfer, a deploy, a VM, a guest record, a
// metric...) and `finish` turns that and the case's end into its CaseResult.
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  ConfigError,
  EXIT,
  isDomainError,
  VERDICTS,
  verdictOf,
  worstVerdict,
  type PhaseTimeout,
  type Verdict,
} from '../errors.js';
import { redact, redactDeep } from '../config/env.js';
import { projectRoot, shown, writeWhole } from '../config/paths.js';
import { imagesBuild, type BuildInfo } from '../build/identity.js';
import type { TransferFigures } from '../transfer/image.js';
import type { BaselineReport } from '../baseline/check.js';
import type { Finding } from '../axvisor/findings.js';
import type { VmResult } from '../guest/vms.js';
import type { DeployFigures } from '../transfer/deploy.js';
import type { BuildResult } from '../build/tgoskits.js';
import { metricKey, type GuestRecord, type Metric } from '../guest/records.js';

/** Names and version of this format. A reader refuses a newer major than its own. */
export const RESULTS_SCHEMA = 'axvisor-hil/results';
export const RESULTS_VERSION = 2;

/** A case's phases, in the order a run goes through them (job/ holds one action each);
 * `health` is a health check's own (runner/job/health-check.ts), `flash` that of `hil flash`
 * through U-Boot's fastboot (runner/job/flash-partition.ts). */
export const PHASES = [
  'build',
  'power',
  'uboot',
  'guard',
  'deploy',
  'load',
  'boot',
  'guest',
  'baseline',
  'health',
  'flash',
] as const;
export type Phase = (typeof PHASES)[number];

/** Power-on to the hand-off: every phase on the board's clock before the guest's. */
export const BOOT_PHASES: readonly Phase[] = ['power', 'uboot', 'guard', 'deploy', 'load', 'boot'];

let runnerVersion: string | undefined;
export function runnerInfo(): { name: string; version: string } {
  if (!runnerVersion) {
    try {
      runnerVersion = (JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string })
        .version;
    } catch {
      runnerVersion = 'unknown';
    }
  }
  return { name: 'axvisor-hil', version: runnerVersion };
}

export interface CaseResult {
  name: string;
  file: string;
  kind: 'toml' | 'spec';
  verdict: Verdict;
  reason: string;
  /** The phase in which a non-pass verdict was decided (power, uboot, load, boot, guest...). */
  phase?: string;
  /** Seconds per phase, and the whole case. */
  phases: Partial<Record<Phase, number>> & { total: number };
  transfers: TransferFigures[];
  /** The success pattern and line that decided a pass. */
  matched?: { pattern: string; line: string };
  /** The last console lines, for a failure read without opening the transcript. */
  last_lines: string[];
  /** Folder of this case's console.log, console.timed.log and power.log (relative to the run). */
  transcript?: string;
  /** Bytes read from the console: console.log holds exactly these. */
  console_bytes?: number;
  started: string;
  warnings: string[];
  /** The comparison with the case's QEMU baseline, when it has one. */
  baseline?: BaselineReport;
  /** What preflight found about this case (warnings, notes; errors stop the run). */
  preflight?: Finding[];
  build?: BuildResult;
  /** Images written to the board's storage, with their figures. */
  deploys?: DeployFigures[];
  /** The board's guarded storage regions as this case found them, and what was restored. */
  storage_guard?: GuardResult[];
  /** Each VM of the case's VM configs, with its own verdict. */
  vms?: VmResult[];
  /** The guest's own test records (AXTEST_RESULT): sub-results of the case. */
  records?: GuestRecord[];
  /** Numbers the guest printed on its metric lines. */
  metrics?: Metric[];
  /** What was booted: the guest's name. */
  guest?: string;
  /** Digest of the case's configuration files (case, build config, VM configs). */
  config?: string;
  /** Every image the case loaded or deployed, with its SHA-256. */
  images?: { role: string; file: string; sha256: string }[];
  /** A runner bug's stack, for the report to its developers. */
  stack?: string;
  /** Which run of the case this is (1 unless lab errors made it run again). */
  attempt?: number;
  /** The earlier runs of this case that ended as lab errors, each whole. */
  attempts?: CaseResult[];
}

/** Every run of every case, earlier attempts first: what the history and Allure record. */
export const allAttempts = (run: RunResult): CaseResult[] => run.cases.flatMap((c) => [...(c.attempts ?? []), c]);

/** One guarded region of the board's storage (board [[storage.guard]]), checked before the case. */
export interface GuardResult {
  region: string;
  /** Where it starts on the device, in bytes, and how long it is. */
  offset: number;
  bytes: number;
  /** The golden image's CRC-32, and the region's as the board read it. */
  golden_crc32: string;
  found_crc32: string;
  intact: boolean;
  /** The byte ranges (chunks) that differed from the golden image. */
  changed?: { offset: number; bytes: number }[];
  /** Written back from the golden image and read back intact. */
  restored?: boolean;
  seconds: number;
}

export interface RunResult {
  schema: string;
  version: number;
  runner: { name: string; version: string };
  verdict: Verdict;
  exit_code: number;
  board: string;
  soc?: string;
  suite: string;
  /** The build of the hypervisor under test (runner/build/identity.ts): --build, HIL_BUILD,
   * the workspace's git commit, or the images' digests. */
  build?: BuildInfo;
  started: string;
  finished?: string;
  duration_s: number;
  counts: Record<Verdict, number>;
  cases: CaseResult[];
  /** Cases of the suite that are for other boards (not run), and why. */
  skipped?: { name: string; file: string; reason: string }[];
  /** Set when preflight stopped the run before the board was powered (exit 3). */
  preflight_errors?: Finding[];
  reason?: string;
  /** Set when the run was stopped (Ctrl-C, SIGTERM). */
  interrupted?: string;
}

export const emptyCounts = (): Record<Verdict, number> =>
  Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>;

export function newRun(o: { board: string; soc?: string; suite: string; build?: BuildInfo }): RunResult {
  return {
    schema: RESULTS_SCHEMA,
    version: RESULTS_VERSION,
    runner: runnerInfo(),
    verdict: 'pass',
    exit_code: 0,
    board: o.board,
    soc: o.soc || undefined,
    suite: o.suite,
    build: o.build,
    started: new Date().toISOString(),
    duration_s: 0,
    counts: emptyCounts(),
    cases: [],
  };
}

/** Verdict, exit code, counts and duration from the cases so far. */
export function settle(run: RunResult): RunResult {
  run.duration_s = round((Date.now() - Date.parse(run.started)) / 1000);
  run.verdict = worstVerdict(run.cases.map((c) => c.verdict));
  run.counts = emptyCounts();
  for (const c of run.cases) run.counts[c.verdict]++;
  run.exit_code = run.interrupted ? EXIT.interrupted : EXIT[run.verdict];
  // Neither given nor from git: the build is the bytes the run booted.
  run.build ??= imagesBuild(allAttempts(run).flatMap((c) => (c.images ?? []).map((i) => i.sha256)));
  return run;
}

export function writeResults(outDir: string, run: RunResult): string {
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, 'results.json');
  writeWhole(file, `${JSON.stringify(redactDeep(run), null, 2)}\n`);
  return file;
}

/** Reads a run's results.json, refusing what this runner cannot read. */
export function readResults(runDir: string): RunResult {
  const file = path.join(runDir, 'results.json');
  let doc: RunResult;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'ENOENT'
        ? `${shown(runDir)} has no results.json: give the folder a \`hil run\` wrote`
        : `${shown(file)} is not readable JSON (${(e as Error).message})`,
    );
  }
  // Version 1 (no schema field) is read as it is: its cases have the same shape.
  if (doc.schema !== undefined && doc.schema !== RESULTS_SCHEMA)
    throw new ConfigError(`${shown(file)} is not a hil results file (schema ${doc.schema})`);
  if ((doc.version ?? 1) > RESULTS_VERSION) {
    throw new ConfigError(
      `${shown(file)} was written by a newer runner (results version ${doc.version}, ${doc.runner?.version ?? '?'}); this one reads up to ${RESULTS_VERSION}: update the runner`,
    );
  }
  return doc;
}

const round = (n: number) => Math.round(n * 1000) / 1000;

/** Where a verdict was decided: the pipeline phase the error names, else the phase the case
 * was in (a console lost while the guest ran was lost in the guest phase). */
function phaseOf(err: unknown, phases: string[]): string | undefined {
  const p = (err as { phase?: unknown } | undefined)?.phase;
  if (typeof p === 'string' && (PHASES as readonly string[]).includes(p)) return p;
  return phases[phases.length - 1] ?? (typeof p === 'string' ? p : verdictOf(err) === 'fail' ? 'guest' : undefined);
}

/** Collects what the pipeline tells about one case, and turns it into its CaseResult. */
export class CaseRecorder {
  private t0 = performance.now();
  readonly started = new Date().toISOString();
  readonly phases: Partial<Record<Phase, number>> = {};
  private entered: Phase[] = [];
  readonly transfers: TransferFigures[] = [];
  readonly deploys: DeployFigures[] = [];
  readonly warnings: string[] = [];
  readonly records: GuestRecord[] = [];
  readonly metrics: Metric[] = [];
  private extra: Partial<CaseResult> = {};
  lastLines: () => string[] = () => [];
  done = false;

  constructor(
    readonly name: string,
    readonly file: string,
    readonly kind: CaseResult['kind'],
    warnings: string[] = [],
  ) {
    this.warnings.push(...warnings);
  }

  enter(p: Phase): void {
    if (!this.entered.includes(p)) this.entered.push(p);
  }

  /** Phases that run more than once (load, in a spec) add up. */
  phase(p: Phase, seconds: number): void {
    this.enter(p);
    this.phases[p] = (this.phases[p] ?? 0) + seconds;
  }

  transfer(f: TransferFigures): void {
    this.transfers.push(f);
  }

  deploy(f: DeployFigures): void {
    this.deploys.push(f);
  }

  record(r: GuestRecord): void {
    this.records.push(r);
  }

  /** A metric with a unit is named with it (`TAG.key [unit]`): every view of the case made
   * from its name (the history record, Allure's parameters) keeps the unit. */
  metric(m: Metric): void {
    this.metrics.push(m.unit ? { ...m, name: metricKey(m.name, m.unit) } : m);
  }

  warn(text: string): void {
    this.warnings.push(text);
  }

  /** Anything else the case's result carries (build, baseline, vms, matched, guest...). */
  set<K extends keyof CaseResult>(key: K, value: CaseResult[K]): void {
    this.extra[key] = value;
  }

  get<K extends keyof CaseResult>(key: K): CaseResult[K] | undefined {
    return this.extra[key] as CaseResult[K] | undefined;
  }

  finish(err: unknown, transcript?: string): CaseResult {
    this.done = true;
    const verdict: Verdict = err ? verdictOf(err) : 'pass';
    const timeoutLines = (err as PhaseTimeout | undefined)?.lastLines;
    const last =
      verdict === 'pass' ? [] : Array.isArray(timeoutLines) && timeoutLines.length ? timeoutLines : this.lastLines();
    const phases = Object.fromEntries(
      Object.entries(this.phases).map(([k, v]) => [k, round(v!)]),
    ) as CaseResult['phases'];
    phases.total = round((performance.now() - this.t0) / 1000);
    return {
      name: this.name,
      file: shown(this.file),
      kind: this.kind,
      verdict,
      reason: err ? redact((err as Error).message ?? String(err)).split('\n')[0] : '',
      phase: err ? phaseOf(err, this.entered) : undefined,
      phases,
      transfers: this.transfers.map((f) => ({ ...f, seconds: round(f.seconds) })),
      last_lines: last.map(redact),
      transcript,
      started: this.started,
      warnings: this.warnings,
      deploys: this.deploys.length ? this.deploys : undefined,
      records: this.records.length ? this.records : undefined,
      metrics: this.metrics.length ? this.metrics : undefined,
      ...this.extra,
      stack: verdict === 'internal' && !isDomainError(err) ? redact(String((err as Error).stack ?? err)) : undefined,
    };
  }
}
