// A run's life on a board, in order: what `hil run` does once its options are read.
//
//   10-prepare     everything that can be wrong found before the board is touched: the
//                  build named, the history answering, the output folder claimed, the lab's
//                  settings, preflight's errors (exit 3)
//   20-lease       the board is this run's (a lab board: one run at a time)
//   30-health      a bad board gets no work; an unknown one is checked first; recovery
//   40-job         the cases (runner/job/: power, U-Boot, load, boot, guest, report)
//   50-afterwards  a lab error makes the board's health unknown
//   -- the lease released and the lab host's connection closed, on every way out --
//
// ends.ts says how a run ends that never reached its cases; interrupt.ts turns Ctrl-C
// and SIGTERM into an abort every step hears.
import type { JobPlan } from '../job/00-plan.js';
import type { RunResult } from '../model/results.js';
import { prepare } from './10-prepare.js';
import { takeBoard } from './20-lease.js';
import { healthGate } from './30-health.js';
import { runCases } from './40-job.js';
import { afterRun } from './50-afterwards.js';
import { interruptible } from './interrupt.js';

export interface RunOptions {
  out?: string;
  build?: string;
  history?: string | false;
  reporter?: string;
  baselines?: string;
  waitS: number;
  /** The command that checks the plan again, for preflight's message. */
  rerun: string;
  log: (m: string) => void;
  /** Told once the output folder is known and the board about to be taken. */
  starting?: (outDir: string) => void;
  /** Told the job's result, before the board is given back. */
  finished?: (result: RunResult, outDir: string) => void;
}

/** The exit status of the run. */
export async function runOnBoard(p: JobPlan, o: RunOptions): Promise<number> {
  const prepared = await prepare(p, o);
  if (typeof prepared === 'number') return prepared;
  const { outDir, build, history } = prepared;
  const ac = interruptible(o.log);
  o.starting?.(outDir);
  try {
    const lease = await takeBoard(p, outDir, { waitS: o.waitS, signal: ac.signal, log: o.log });
    if (typeof lease === 'number') return lease;
    try {
      if (lease) {
        const refused = await healthGate(p, outDir, { signal: ac.signal, log: o.log });
        if (refused !== undefined) return refused;
      }
      const result = await runCases(p, {
        outDir,
        signal: ac.signal,
        log: o.log,
        reporter: o.reporter,
        history,
        baselines: o.baselines,
        build,
        waitS: o.waitS,
      });
      o.finished?.(result, outDir);
      if (lease) await afterRun(p, result, outDir);
      return result.exit_code;
    } finally {
      await lease?.release();
    }
  } finally {
    ac.release();
    // The lab host's SSH connection (its lease, power, console) ends with the run.
    if (p.board.lab_host) (await import('../remote/lab-host.js')).LabHost.closeAll();
  }
}
