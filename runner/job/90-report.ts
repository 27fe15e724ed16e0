// 9. Report: every view of the run's results model, written once the cases are done (and
//    results.json after every case, so an interrupted run still leaves its results):
//    results.json itself, JUnit for CI dashboards, Allure results, and the history store.
import path from 'node:path';
import { writeResults, settle, type RunResult } from '../model/results.js';
import { writeJUnit } from '../model/junit.js';
import { writeAllure } from '../model/allure.js';
import { recordRun } from '../model/history.js';
import { shown } from '../config/paths.js';

export function writeReports(outDir: string, run: RunResult, o: { history?: string; log: (m: string) => void }): void {
  settle(run);
  writeResults(outDir, run);
  writeJUnit(outDir, run);
  writeAllure(outDir, run);
  if (o.history) {
    try {
      const { added } = recordRun(o.history, outDir);
      o.log(`history: ${added} case(s) recorded into ${shown(o.history)}`);
    } catch (e) {
      // The run happened and its results are written: a history that cannot take it is
      // told, never a reason to lose them.
      o.log(`warning: the history ${shown(o.history)} did not take this run (${(e as Error).message}); record it later with \`hil history add ${shown(outDir)}\``);
    }
  }
}

export const resultFiles = (outDir: string) => ({
  results: path.join(outDir, 'results.json'),
  junit: path.join(outDir, 'junit.xml'),
  allure: path.join(outDir, 'allure-results'),
});
