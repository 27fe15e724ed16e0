// What the pipeline is made of (LAVA's named actions, in our words). An action has a name
// (the phase it times), a one-line description, a validate step that runs before any
// board is touched, its own timeout taken from the board or the case, and what its
// timeout means (a lab error, or the guest's timeout). The files 10-build.ts ... 80-
// baseline.ts are the actions, in the order of a run; pipeline.ts runs them.
import type { Board } from '../config/board.js';
import type { CaseImages, TomlCase } from '../config/case.js';
import type { AxvisorPlan } from '../axvisor/plan.js';
import type { BuildSpec } from '../build/tgoskits.js';
import type { Finding, FindingList } from '../axvisor/findings.js';
import type { TimedLine } from '../baseline/compare.js';
import type { CaseRecorder, Phase } from '../model/results.js';
import type { GuestOutcome } from '../guest/watch.js';
import type { VmWatch } from '../guest/vms.js';
import type { RecordWatch } from '../guest/records.js';
import type { BoardSession } from './session.js';

/** Where a case's kernel comes from. */
export type ImageSource = 'case' | 'image-option' | 'build' | 'board-storage';

/** One TOML case, resolved and validated: everything a run needs before the board is on. */
export interface CasePlan {
  case: TomlCase;
  board: Board;
  /** The images loaded into RAM (a built kernel is filled in by the build action). */
  images?: CaseImages;
  imageSource: ImageSource;
  build?: BuildSpec;
  axvisor?: AxvisorPlan;
  /** Kernel and DTB packed into a FIT and started with bootm (ostool's way). */
  fit: boolean;
  /** The load methods, in order (the case's load_method, else the board's). */
  methods: string[];
  findings: Finding[];
  /** The guest's name, as reports group by it. */
  guest: string;
}

/** What the run of all cases shares. */
export interface JobContext {
  board: Board;
  outDir: string;
  /** Aborted on Ctrl-C / SIGTERM. */
  signal: AbortSignal;
  log: (msg: string) => void;
  /** Where QEMU baselines are read from. */
  baselineDir: string;
  /** Builds already run in this job, by command line and folder: one build serves all. */
  builds: Map<string, Promise<import('../build/tgoskits.js').BuildResult>>;
}

/** One case while it runs: its plan, its board session, what it learnt so far. */
export interface CaseRun {
  job: JobContext;
  plan?: CasePlan;
  rec: CaseRecorder;
  /** The case's output folder (transcript, power.log, build.log...). */
  dir: string;
  session: BoardSession;
  /** The signal of the action now running: its timeout, or the job's Ctrl-C. */
  signal: AbortSignal;
  state: {
    images?: CaseImages;
    /** The command that boots (the load action's booti/bootm, or the case's last uboot_cmd). */
    bootCmds?: string[];
    /** performance.now() when the boot command was typed: the case timeout counts from it. */
    bootStart?: number;
    guestLines: TimedLine[];
    vms?: VmWatch;
    records?: RecordWatch;
    outcome?: GuestOutcome;
    /** What a health check read of U-Boot (runner/job/health-check.ts). */
    health?: { version: string; env: Record<string, string> };
  };
}

export interface Action {
  readonly name: Phase;
  readonly description: string;
  /** Before any board is touched: problems become findings (errors stop the run). */
  validate?(plan: CasePlan, findings: FindingList): void;
  /** Whether the action has anything to do for this case. */
  applies(run: CaseRun): boolean;
  /** Seconds it may take; 0: no limit. */
  timeoutS(run: CaseRun): number;
  /** The limit a timeout reports, when it is not the action's own (the case's timeout). */
  reportS?(run: CaseRun): number;
  /** What running out of time means: the lab failed, or the guest never decided. */
  readonly onTimeout: 'error' | 'timeout';
  /** What it was waiting for, for the timeout's reason. */
  readonly waitingFor: string;
  run(run: CaseRun): Promise<void>;
}
