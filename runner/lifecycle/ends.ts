// How a run ends that never reached its cases (the board held, bad, unreachable; Ctrl-C
// while waiting): results.json says why, stderr says it in one line, and the exit status
// is the answer.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { shown } from '../config/paths.js';
import { EXIT } from '../errors.js';
import type { JobPlan } from '../job/00-plan.js';
import { newRun, settle, writeResults } from '../model/results.js';
import { markInterrupted } from './interrupt.js';

/** A run that never reached its cases: its results.json says why; one line on stderr. */
export function neverRan(
  p: JobPlan,
  outDir: string,
  reason: string,
  code: number = EXIT.error,
  interrupted?: string,
): number {
  const r = newRun({ board: p.board.name, soc: p.board.soc, suite: p.suite.name });
  r.reason = reason;
  r.interrupted = interrupted;
  settle(r);
  r.verdict = 'error';
  r.exit_code = code;
  writeResults(outDir, r);
  process.stderr.write(`hil: ${reason} (results: ${shown(path.join(outDir, 'results.json'))})\n`);
  return code;
}

/** Stopped (Ctrl-C, SIGTERM) before the cases ran: results.json says so, exit 130. A
 * health check run meanwhile keeps its case in it. */
export function stoppedBefore(p: JobPlan, outDir: string, signal: AbortSignal, where: string): number {
  const why = (signal.reason as Error)?.message ?? 'interrupted';
  if (existsSync(path.join(outDir, 'results.json'))) {
    markInterrupted(outDir, why);
    process.stderr.write(
      `hil: ${why} ${where}; its cases were not run (results: ${shown(path.join(outDir, 'results.json'))})\n`,
    );
    return EXIT.interrupted;
  }
  return neverRan(
    p,
    outDir,
    `${why} ${where}; its cases were not run, the board was not powered`,
    EXIT.interrupted,
    why,
  );
}
