// The regression report over 10,000 recorded runs (50 cases x 4 boards x 50 nights), from
// the history file on disk to the Markdown and the HTML page, against the 2 s target.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { projectRoot } from '../runner/config/paths.js';
import { readHistory } from '../runner/report/history.js';
import { analyse } from '../runner/report/regressions.js';
import { toHtml, toMarkdown } from '../runner/report/regression-page.js';
import { syntheticHistory, SYNTHETIC_BOARDS } from '../fixtures/history/synthetic.js';

export async function reportBench(rounds: number): Promise<void> {
  console.log('\n== regression report over 10,000 recorded runs (50 cases x 4 boards x 50 nights) ==');
  const records = syntheticHistory({ boards: SYNTHETIC_BOARDS, cases: 50, nights: 50 });
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'hil-bench-history-')), 'history.jsonl');
  writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const times: { read: number; analyse: number; render: number; total: number }[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    const h = readHistory(file);
    const t1 = performance.now();
    const boards = analyse(h, { window: 20 });
    const t2 = performance.now();
    const md = toMarkdown(boards);
    const html = toHtml(boards, { window: 20 });
    const t3 = performance.now();
    if (!md.length || !html.length || h.length !== 10_000) throw new Error('bench: the report came out empty');
    times.push({ read: (t1 - t0) / 1000, analyse: (t2 - t1) / 1000, render: (t3 - t2) / 1000, total: (t3 - t0) / 1000 });
  }
  times.sort((a, b) => a.total - b.total);
  const m = times[Math.floor(times.length / 2)];
  console.log(`  ${records.length} records, median of ${rounds}: read ${m.read.toFixed(3)} s, analyse ${m.analyse.toFixed(3)} s, Markdown + HTML ${m.render.toFixed(3)} s`);
  console.log(`  in process: total ${m.total.toFixed(3)} s = ${(m.total / 2).toFixed(3)} of the 2 s target (first round, cold: ${Math.max(...times.map((t) => t.total)).toFixed(3)} s)`);
  // As a nightly job runs it: a fresh `hil` process (Node start, TypeScript loading) that
  // reads the file and writes both pages.
  const cli: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await execa('node', [path.join(projectRoot, 'bin', 'hil.js'), 'report', 'regressions', '--history', file, '-o', path.dirname(file)]);
    cli.push((performance.now() - t0) / 1000);
  }
  cli.sort((a, b) => a - b);
  console.log(`  \`hil report regressions\` as a process, median of 3: ${cli[1].toFixed(3)} s = ${(cli[1] / 2).toFixed(3)} of the 2 s target`);
}
