// 4. The job: the cases, each through runner/job/'s pipeline (power, U-Boot, load, boot,
//    guest, baseline), then results.json, JUnit, Allure and the history (job/90-report.ts).
import path from 'node:path';
import { defaultBaselineDir } from '../baseline/store.js';
import type { BuildInfo } from '../build/identity.js';
import type { JobPlan } from '../job/00-plan.js';
import type { RunResult } from '../model/results.js';

export interface JobOptions {
  outDir: string;
  signal: AbortSignal;
  log: (m: string) => void;
  reporter?: string;
  history?: string;
  baselines?: string;
  build?: BuildInfo;
  waitS: number;
}

export async function runCases(p: JobPlan, o: JobOptions): Promise<RunResult> {
  const { Job } = await import('../job/job.js');
  const job = new Job(p, {
    outDir: o.outDir,
    signal: o.signal,
    log: o.log,
    reporter: o.reporter,
    history: o.history,
    baselineDir: o.baselines ? path.resolve(o.baselines) : defaultBaselineDir(),
    build: o.build,
    waitS: o.waitS,
    runSpecs: async (job, specs) => (await import('../suite/specs.js')).runSpecs(job, specs),
  });
  return job.runAll();
}
