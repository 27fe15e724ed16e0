// The history store and the regression report as a nightly job pays for them, in whole
// processes: `hil history add` appending one run, and `hil report regressions` reading the
// store and writing the Markdown and the HTML page, at 10,000 records (50 cases x 4 boards
// x 50 nights) and at a year of a 20-board lab (365,000 records, 234 MB). `hil --help` in
// the same rounds says what start-up alone costs. Peak memory is the process's own maxRSS,
// printed by a preload hook as it exits.
import { appendFileSync, copyFileSync, createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { syntheticHistory, SYNTHETIC_BOARDS } from '../fixtures/history/synthetic.js';
import { projectRoot } from '../runner/config/paths.js';

const f = (n: number) => n.toFixed(3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const hil = path.join(projectRoot, 'bin', 'hil.js');
const rssHook = path.join(projectRoot, 'bench', 'maxrss-hook.mjs');

/** One `hil` process: seconds, and its peak resident memory in MB. */
async function timedHil(args: string[]): Promise<{ s: number; mb: number }> {
  const t0 = performance.now();
  const r = await execa('node', ['--import', rssHook, hil, ...args], { reject: false });
  const s = (performance.now() - t0) / 1000;
  if (r.exitCode !== 0) throw new Error(`bench: hil ${args.join(' ')} failed: ${r.stderr}`);
  const kb = Number(/maxrss (\d+)/.exec(String(r.stderr))?.[1]);
  return { s, mb: kb / 1024 };
}

async function writeYear(file: string): Promise<void> {
  const out = createWriteStream(file);
  for (let b = 0; b < 20; b++) {
    const records = syntheticHistory({ boards: [`board-${String(b).padStart(2, '0')}`], cases: 50, nights: 365 });
    if (!out.write(`${records.map((r) => JSON.stringify(r)).join('\n')}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

export async function reportBench(rounds: number): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hil-bench-history-'));
  try {
    console.log('\n== the history store: appending a run, and the regression report, at 10,000 and 365,000 records ==');
    // A real run folder to append: the hello case on the virtual board.
    const run = path.join(dir, 'run');
    await execa('node', [hil, 'run', '-b', 'qemu-virt-aarch64', '-s', path.join(projectRoot, 'suites/virtual-board/hello.toml'), '--out', run, '--no-history']);
    const small = path.join(dir, 'small.jsonl');
    const tenK = path.join(dir, 'ten-thousand.jsonl');
    const year = path.join(dir, 'year.jsonl');
    writeFileSync(
      small,
      `${syntheticHistory({ boards: ['b'], cases: 10, nights: 1 })
        .map((r) => JSON.stringify(r))
        .join('\n')}\n`,
    );
    writeFileSync(
      tenK,
      `${syntheticHistory({ boards: SYNTHETIC_BOARDS, cases: 50, nights: 50 })
        .map((r) => JSON.stringify(r))
        .join('\n')}\n`,
    );
    await writeYear(year);
    // A night of the year lab (20 boards x 50 cases), appended after the index was built.
    const night = syntheticHistory({ boards: Array.from({ length: 20 }, (_, b) => `board-${String(b).padStart(2, '0')}`), cases: 50, nights: 1, start: '2027-09-01T02:00:00Z' });
    const nightLines = `${night.map((r) => JSON.stringify(r)).join('\n')}\n`;

    const add: Record<string, number[]> = { small: [], year: [] };
    const help: number[] = [];
    for (let i = 0; i < rounds; i++) {
      add.small.push((await timedHil(['history', 'add', run, '--history', small])).s);
      add.year.push((await timedHil(['history', 'add', run, '--history', year])).s);
      help.push((await timedHil(['--help'])).s);
    }
    const h = median(help);
    console.log(
      `  hil history add, one run: 10 records ${f(median(add.small))} s, 365,000 records ${f(median(add.year))} s (ratio ${f(median(add.year) / median(add.small))}, target about 1)`,
    );

    const report = (file: string) => timedHil(['report', 'regressions', '--history', file, '-o', path.join(dir, 'out')]);
    await report(year); // builds the year's index, as the previous night's report did
    const tenKRuns: { s: number; mb: number }[] = [];
    const cold: { s: number; mb: number }[] = [];
    const nightly: { s: number; mb: number }[] = [];
    const coldRounds = Math.min(rounds, 3);
    for (let i = 0; i < rounds; i++) {
      tenKRuns.push(await report(tenK));
      // The nightly case: the index is current, and a night of runs was appended since.
      const copy = path.join(dir, `year-${i}.jsonl`);
      copyFileSync(year, copy);
      copyFileSync(`${year}.index`, `${copy}.index`);
      appendFileSync(copy, nightLines);
      nightly.push(await report(copy));
      // The first report after the store was replaced (a merge into a new file): no index.
      if (i < coldRounds) {
        rmSync(`${copy}.index`);
        cold.push(await report(copy));
      }
      rmSync(copy);
      rmSync(`${copy}.index`, { force: true });
    }
    const ms = (xs: { s: number; mb: number }[]) => `${f(median(xs.map((x) => x.s)))} s, ${Math.round(Math.max(...xs.map((x) => x.mb)))} MB`;
    console.log(`  hil report regressions, 10,000 records: ${ms(tenKRuns)} (\`hil --help\` ${f(h)} s)`);
    console.log(`  hil report regressions, 365,000 records plus a night appended: ${ms(nightly)} (target <= 1 s and 200 MB)`);
    console.log(`  the same with no index (the first report after a merge into a new file; median of ${coldRounds}): ${ms(cold)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
