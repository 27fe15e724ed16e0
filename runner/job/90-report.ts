// 9. Report: every view of the run's results model, written once the cases are done (and
//    results.json after every case, so an interrupted run still leaves its results):
//    results.json itself, JUnit for CI dashboards, Allure results, and the history store.
import path from 'node:path';
import { writeResults, settle, type RunResult } from '../model/results.js';
import { writeJUnit } from '../model/junit.js';
import { writeAllure } from '../model/allure.js';
import { shown } from '../config/paths.js';

export async function writeReports(
  outDir: string,
  run: RunResult,
  o: { history?: string; log: (m: string) => void },
): Promise<void> {
  settle(run);
  writeResults(outDir, run);
  writeJUnit(outDir, run);
  writeAllure(outDir, run);
  if (o.history) {
    // Once the verdict is out and written: the history is the last thing a run does.
    const { recordRunDir, shownLocation } = await import('../history/store.js');
    try {
      const { added, bad } = await recordRunDir(o.history, outDir);
      for (const b of bad) o.log(`warning: a case run not recorded in the history: ${b}`);
      o.log(`history: ${added} case(s) recorded into ${shownLocation(o.history)}`);
    } catch (e) {
      // The run happened and its results are written: a history that cannot take it is
      // told, never a reason to lose them.
      o.log(
        `warning: the history ${shownLocation(o.history)} did not take this run (${(e as Error).message}); it is kept in ${shown(outDir)}: record it later with \`hil history add ${shown(outDir)}\``,
      );
    }
  }
}

export const resultFiles = (outDir: string) => ({
  results: path.join(outDir, 'results.json'),
  junit: path.join(outDir, 'junit.xml'),
  allure: path.join(outDir, 'allure-results'),
});
