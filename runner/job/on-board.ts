// Work on a board outside a suite's cases (a health check, a flash through U-Boot): the
// run's own power and U-Boot actions, then the work's own, in a folder of its own with the
// transcript and power.log, and a results.json like a run's. The board is powered off and
// every process ended on every path.
import type { Board } from '../config/board.js';
import type { CaseResult } from '../model/results.js';
import type { JobPlan } from './00-plan.js';
import type { Action, CaseRun } from './action.js';

export async function onBoard(
  board: Board,
  name: string,
  steps: Action[],
  o: { outDir: string; signal: AbortSignal; log: (m: string) => void },
): Promise<{ result: CaseResult; run: CaseRun }> {
  const { Job } = await import('./job.js');
  const { power } = await import('./20-power.js');
  const { uboot } = await import('./30-uboot.js');
  const { runAction } = await import('./pipeline.js');
  const plan = {
    board,
    suite: { root: board.file, name, cases: [], skipped: [] },
    plans: [],
    specs: [],
    skipped: [],
    findings: [],
    errors: [],
  } as JobPlan;
  const job = new Job(plan, { outDir: o.outDir, signal: o.signal, log: o.log, baselineDir: '' });
  const run: CaseRun = job.open(name, board.file, 'toml');
  let err: unknown = null;
  try {
    for (const a of [power, uboot, ...steps]) await runAction(a, run);
  } catch (e) {
    err = e;
  } finally {
    await run.session.close();
  }
  return { result: job.close(run, err), run };
}
