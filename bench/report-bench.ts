// The regression report over 10,000 recorded runs (50 cases x 4 boards x 50 nights), as a
// nightly job runs it: a fresh `hil report regressions` process that reads the history file
// and writes the Markdown and the HTML page, against `hil --help` (the same process doing
// nothing: what start-up costs) in the same rounds. The in-process split (read, analyse,
// render) says where the rest goes.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { syntheticHistory, SYNTHETIC_BOARDS } from '../fixtures/history/synthetic.js';
import { projectRoot } from '../runner/config/paths.js';
import { readHistory } from '../runner/model/history.js';
import { toHtml, toMarkdown } from '../runner/report/regression-page.js';
import { analyse } from '../runner/report/regressions.js';

const f = (n: number) => n.toFixed(3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function reportBench(rounds: number): Promise<void> {
  console.log('\n== `hil report regressions` over 10,000 recorded runs (50 cases x 4 boards x 50 nights) ==');
  const records = syntheticHistory({ boards: SYNTHETIC_BOARDS, cases: 50, nights: 50 });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hil-bench-history-'));
  const file = path.join(dir, 'history.jsonl');
  writeFileSync(file, `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
  const hil = path.join(projectRoot, 'bin', 'hil.js');
  const report: number[] = [];
  const help: number[] = [];
  for (let i = 0; i < rounds; i++) {
    let t0 = performance.now();
    await execa('node', [hil, 'report', 'regressions', '--history', file, '-o', dir]);
    report.push((performance.now() - t0) / 1000);
    t0 = performance.now();
    await execa('node', [hil, '--help']);
    help.push((performance.now() - t0) / 1000);
  }
  const r = median(report);
  const h = median(help);
  console.log(`  process, median of ${rounds}: ${f(r)} s (target <= 2 s); \`hil --help\` ${f(h)} s, so start-up is ${((h / r) * 100).toFixed(0)} % of it`);
  const t0 = performance.now();
  const history = readHistory(file);
  const t1 = performance.now();
  const boards = analyse(history, { window: 20 });
  const t2 = performance.now();
  const md = toMarkdown(boards);
  const html = toHtml(boards, { window: 20 });
  const t3 = performance.now();
  if (!md.length || !html.length || history.length !== records.length) throw new Error('bench: the report came out empty');
  console.log(`  in process: read ${f((t1 - t0) / 1000)} s, analyse ${f((t2 - t1) / 1000)} s, Markdown + HTML ${f((t3 - t2) / 1000)} s`);
}
