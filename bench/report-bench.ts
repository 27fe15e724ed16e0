// The run history as a lab pays for it, in whole processes, on both engines (the embedded
// PGlite folder and a real PostgreSQL server from Debian's packages): a year of a 20-board
// lab (365,000 records) imported in one command; `hil history add` of one run at that size;
// `hil report regressions` and `hil report release` over the year with a night of runs
// added since (for the embedded store, the night waits in its incoming folder, as `hil run`
// leaves it); and what recording costs `hil run` itself (the hello case with the embedded
// history against --no-history, alternated). Peak memory is the process's own maxRSS,
// printed by a preload hook as it exits.
import { mkdtempSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { syntheticHistory } from '../fixtures/history/synthetic.js';
import { startPostgres } from '../fixtures/postgres.js';
import { queueRecords } from '../runner/history/store.js';
import { projectRoot } from '../runner/config/paths.js';

const f = (n: number) => n.toFixed(3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const hil = path.join(projectRoot, 'bin', 'hil.js');
const rssHook = path.join(projectRoot, 'bench', 'maxrss-hook.mjs');
const boards = Array.from({ length: 20 }, (_, b) => `board-${String(b).padStart(2, '0')}`);
/** The year that ended last August (a record dated in the future is refused). */
const YEAR_START = '2025-09-01T02:00:00Z';

/** One `hil` process: seconds, and its peak resident memory in MB. */
async function timedHil(args: string[], ok = [0]): Promise<{ s: number; mb: number }> {
  const t0 = performance.now();
  const r = await execa('node', ['--import', rssHook, hil, ...args], { reject: false });
  const s = (performance.now() - t0) / 1000;
  if (!ok.includes(r.exitCode ?? -1))
    throw new Error(`bench: hil ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
  const kb = Number(/maxrss (\d+)/.exec(String(r.stderr))?.[1]);
  return { s, mb: kb / 1024 };
}

async function writeYear(file: string): Promise<void> {
  const out = createWriteStream(file);
  for (const board of boards) {
    const records = syntheticHistory({ boards: [board], cases: 50, nights: 365, start: YEAR_START });
    if (!out.write(`${records.map((r) => JSON.stringify(r)).join('\n')}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** Night `n` after the year: the 20 boards' 1,000 case runs, of build night-<n>. */
const night = (n: number) =>
  syntheticHistory({
    boards,
    cases: 50,
    nights: 1,
    start: new Date(Date.parse('2026-09-01T02:00:00Z') + n * 86_400_000).toISOString(),
  }).map((r) => ({
    ...r,
    build: `night-${n}`,
  }));

export async function reportBench(rounds: number): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hil-bench-history-'));
  const pg = await startPostgres();
  try {
    console.log('\n== the run history: a year of a 20-board lab (365,000 records), whole processes, both engines ==');
    const run = path.join(dir, 'run');
    const hello = path.join(projectRoot, 'suites/virtual-board/hello.toml');
    await execa('node', [hil, 'run', '-b', 'qemu-virt-aarch64', '-s', hello, '--out', run, '--no-history']);
    const year = path.join(dir, 'year.jsonl');
    await writeYear(year);
    const engines = { pglite: path.join(dir, 'history'), postgres: pg.newDatabase() };
    for (const [engine, location] of Object.entries(engines)) {
      const imp = await timedHil(['history', 'import', year, '--history', location]);
      console.log(
        `  ${engine.padEnd(8)} hil history import of the year: ${f(imp.s)} s, ${Math.round(imp.mb)} MB (one command)`,
      );
    }
    let nights = 0;
    for (const [engine, location] of Object.entries(engines)) {
      const add: number[] = [];
      const regressions: { s: number; mb: number }[] = [];
      const release: { s: number; mb: number }[] = [];
      for (let i = 0; i < rounds; i++) {
        // A night of runs recorded since the last report: queued (embedded) or written.
        if (engine === 'pglite') queueRecords(location, night(nights++));
        else {
          const file = path.join(dir, `night-${nights}.jsonl`);
          writeFileSync(
            file,
            `${night(nights++)
              .map((r) => JSON.stringify(r))
              .join('\n')}\n`,
          );
          await timedHil(['history', 'import', file, '--history', location]);
        }
        regressions.push(await timedHil(['report', 'regressions', '--history', location, '-o', path.join(dir, 'out')]));
        // The whole gate: the night's build on all 20 boards, each requiring the 50 cases it
        // ran on the build before.
        release.push(
          await timedHil(
            [
              'report',
              'release',
              '--history',
              location,
              ...boards.flatMap((b) => ['-b', b]),
              '--build',
              `night-${nights - 1}`,
            ],
            [0, 1],
          ),
        );
        add.push((await timedHil(['history', 'add', run, '--history', location])).s);
      }
      const ms = (xs: { s: number; mb: number }[]) =>
        `${f(median(xs.map((x) => x.s)))} s, ${Math.round(Math.max(...xs.map((x) => x.mb)))} MB`;
      console.log(
        `  ${engine.padEnd(8)} hil report regressions, a night added since: ${ms(regressions)} (target < 1 s and < 200 MB)`,
      );
      console.log(
        `  ${engine.padEnd(8)} hil report release --build, 20 boards:       ${ms(release)} (target < 1 s and < 200 MB)`,
      );
      console.log(`  ${engine.padEnd(8)} hil history add, one run:                    ${f(median(add))} s`);
    }
    // What recording costs a run: the embedded store queues the run's records as a file.
    const times: Record<string, number[]> = { none: [], embedded: [] };
    let n = 0;
    for (let i = 0; i < rounds; i++) {
      for (const kind of i % 2 ? ['embedded', 'none'] : ['none', 'embedded']) {
        const args = ['run', '-b', 'qemu-virt-aarch64', '-s', hello, '--out', path.join(dir, `run-${++n}`)];
        times[kind].push(
          (await timedHil(kind === 'none' ? [...args, '--no-history'] : [...args, '--history', engines.pglite])).s,
        );
      }
    }
    const added = (median(times.embedded) - median(times.none)) * 1000;
    console.log(
      `  hil run of the hello case: --no-history ${f(median(times.none))} s, recorded into the embedded store ${f(median(times.embedded))} s: ${added.toFixed(0)} ms added (target <= 50 ms)`,
    );
  } finally {
    pg.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
