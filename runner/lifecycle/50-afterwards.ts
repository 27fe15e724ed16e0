// 5. Afterwards: what the run teaches the lab. A lab error on a leased board makes its
//    health unknown, so the next run checks it first (30-health.ts).
import type { JobPlan } from '../job/00-plan.js';
import type { RunResult } from '../model/results.js';

export async function afterRun(p: JobPlan, result: RunResult, outDir: string): Promise<void> {
  const bad = result.cases.find((c) => c.verdict === 'error');
  if (!bad) return;
  const { writeHealth } = await import('../lab/health.js');
  const { leaseStoreOf } = await import('../lab/lease.js');
  await writeHealth(
    {
      board: p.board.name,
      state: 'unknown',
      at: new Date().toISOString(),
      reason: `lab error in ${bad.name}${bad.phase ? ` (${bad.phase})` : ''}: ${bad.reason}`,
      run: outDir,
    },
    leaseStoreOf(p.board),
  );
}
