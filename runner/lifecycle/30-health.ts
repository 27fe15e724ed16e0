// 3. Health: LAVA's rule, a bad board gets no work and an unknown one is checked first
//    (runner/lab/health.ts, the check itself runner/job/health-check.ts). A bad board whose firmware the runner can write over USB is
//    recovered and checked again, so a bad build's broken U-Boot does not keep it out of
//    service until someone walks to the lab.
import path from 'node:path';
import { shown, shownTime } from '../config/paths.js';
import { EXIT, kindOf } from '../errors.js';
import type { JobPlan } from '../job/00-plan.js';
import { neverRan, stoppedBefore } from './ends.js';

/** Undefined: the board may have the run; else the exit status of a run it was refused. */
export async function healthGate(
  p: JobPlan,
  outDir: string,
  o: { signal: AbortSignal; log: (m: string) => void },
): Promise<number | undefined> {
  const { readHealth } = await import('../lab/health.js');
  const { checkBoard } = await import('../job/health-check.js');
  const { leaseStoreOf } = await import('../lab/lease.js');
  const { signal, log } = o;
  let h = await readHealth(p.board.name, leaseStoreOf(p.board));
  if (h?.state === 'bad' && (p.board.usb?.recover || p.board.usb?.write_loader)) {
    log(`board ${p.board.name} failed its health check (${h.reason}): recovering it over USB`);
    try {
      const { recoverOverUsb } = await import('../usb/flash.js');
      await recoverOverUsb(p.board, { log: (m) => log(`  ${m}`) });
    } catch (e) {
      if (kindOf(e) !== 'lab') throw e;
      return neverRan(
        p,
        outDir,
        `board ${p.board.name} failed its health check (${h.reason}), and recovering it over USB failed: ${(e as Error).message}; the board was not given the run`,
      );
    }
    h = await checkBoard(p.board, { outDir, signal, log });
    if (signal.aborted)
      return stoppedBefore(p, outDir, signal, `while board ${p.board.name} was checked after its recovery`);
    if (h.state === 'bad')
      return neverRan(
        p,
        outDir,
        `board ${p.board.name} was recovered over USB and still fails its health check (${h.reason}); the board was not given the run`,
      );
    log(`board ${p.board.name} recovered: ${h.uboot_version ?? 'U-Boot answers'}`);
  }
  if (h?.state === 'bad') {
    return neverRan(
      p,
      outDir,
      `board ${p.board.name} failed its health check at ${shownTime(h.at)} (${h.reason}): fix it, then \`hil lab check --board ${p.board.name}\`; the board was not given the run`,
    );
  }
  if (h?.state !== 'unknown') return undefined;
  log(`board ${p.board.name} is of unknown health (${h.reason}): checking it first`);
  const checked = await checkBoard(p.board, { outDir, signal, log });
  if (signal.aborted) return stoppedBefore(p, outDir, signal, `while board ${p.board.name} was checked`);
  if (checked.state === 'bad') {
    process.stderr.write(
      `hil: board ${p.board.name} failed its health check (${checked.reason}); its cases were not run (results: ${shown(path.join(outDir, 'results.json'))})\n`,
    );
    return EXIT.error;
  }
  return undefined;
}
