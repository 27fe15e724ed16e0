// 2. Lease: a lab board is one run's at a time (runner/lab/lease.ts: a local folder, or the
//    lab host's). Taken before anything touches the board, waited for with --wait, released
//    on every way out (index.ts).
import { shown } from '../config/paths.js';
import { EXIT, kindOf } from '../errors.js';
import type { JobPlan } from '../job/00-plan.js';
import type { Lease } from '../lab/lease.js';
import { neverRan, stoppedBefore } from './ends.js';

/** The lease, undefined for a board that takes none, or the exit status of a run that
 * never got the board (its results.json says why). */
export async function takeBoard(
  p: JobPlan,
  outDir: string,
  o: { waitS: number; signal: AbortSignal; log: (m: string) => void },
): Promise<Lease | undefined | number> {
  const { isLabBoard } = await import('../drivers/board.js');
  if (!isLabBoard(p.board)) return undefined;
  const { Lease, leaseStoreOf } = await import('../lab/lease.js');
  try {
    return await Lease.acquire(p.board.name, {
      run: shown(outDir),
      waitS: o.waitS,
      log: o.log,
      signal: o.signal,
      store: leaseStoreOf(p.board),
    });
  } catch (e) {
    if (o.signal.aborted) return stoppedBefore(p, outDir, o.signal, `while waiting for board ${p.board.name}`);
    if (kindOf(e) === 'config')
      return neverRan(p, outDir, `${(e as Error).message}; the board was not powered`, EXIT.config);
    if (kindOf(e) !== 'lab') throw e;
    return neverRan(p, outDir, `lease: ${(e as Error).message}; the board was not powered`);
  }
}
