// The run history as a database, on both engines (PGlite in a folder, and a real
// PostgreSQL server from Debian's packages), through the `hil` commands a lab runs: runs
// recorded once however often they are added, JSON-lines histories imported with their bad
// lines told and skipped and exported back, two processes writing at once, a server that
// cannot be reached before a run or goes away during one, and a year of records.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { caseName, syntheticHistory } from '../../fixtures/history/synthetic.js';
import { freePort } from '../../fixtures/ser2net.js';
import { History, queueRecords } from '../../runner/history/store.js';
import type { HistoryRecord } from '../../runner/model/history.js';
import { ENGINES, newLocation, sharedPostgres } from '../engines.js';
import { checkNoQemuLeft, helloCaseWith, hil, hilBin, runUntilUBoot, tmpDir } from '../helpers.js';

const lines = (rs: unknown[]) => `${rs.map((r) => JSON.stringify(r)).join('\n')}\n`;
const keyOf = (r: Pick<HistoryRecord, 'board' | 'case' | 'started'>) => `${r.board} ${r.case} ${r.started}`;

async function exported(location: string): Promise<HistoryRecord[]> {
  const r = await hil(['history', 'export', '--history', location]);
  assert.equal(r.exitCode, 0, r.stderr);
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** What the derived rows say, checked against the runs themselves. */
async function consistent(location: string): Promise<void> {
  const h = await History.open(location);
  try {
    const [days] = await h.db.query<{ n: number }>('select coalesce(sum(runs), 0)::int as n from board_days');
    const [runs] = await h.db.query<{ n: number }>('select count(*)::int as n from case_runs');
    const [configs] = await h.db.query<{ n: number }>('select coalesce(sum(runs), 0)::int as n from case_configs');
    assert.equal(days.n, runs.n, 'every run counted in its night');
    assert.equal(configs.n, runs.n, 'every run counted in its configuration');
  } finally {
    await h.close();
  }
}

describe('the run history in a database', function () {
  checkNoQemuLeft();

  for (const engine of ENGINES) {
    describe(`on ${engine}`, () => {
      it('imports a JSON-lines history, telling each bad line by file and line and skipping it, and exports what it took', async () => {
        const location = await newLocation(engine);
        const good = syntheticHistory({ boards: ['roc-rk3568-pc', 'phytiumpi'], cases: 3, nights: 4 });
        const one = good[0];
        const bad = [
          '{"run_id": "cut short by a crash", "case',
          JSON.stringify({ ...one, run_id: 'y', started: 'yesterday' }),
          JSON.stringify({ ...one, run_id: 'm', started: '2026-13-45T02:00:00Z' }),
          JSON.stringify({ ...one, run_id: 'f', started: '9999-01-01T00:00:00Z' }),
          JSON.stringify({ ...one, run_id: 'n', board: undefined }),
          JSON.stringify({ ...one, run_id: 'v', verdict: 'maybe' }),
          JSON.stringify({ ...one, run_id: 'big', reason: 'x'.repeat(100_000) }),
        ];
        const file = path.join(tmpDir(), 'history.jsonl');
        // The bad lines among the good ones, at lines 3, 5, 7, ...
        const text = [...good.slice(0, 2).map((r) => JSON.stringify(r))];
        for (const [i, b] of bad.entries()) text.push(b, JSON.stringify(good[2 + i]));
        text.push(...good.slice(2 + bad.length).map((r) => JSON.stringify(r)));
        writeFileSync(file, `${text.join('\n')}\n`);
        const r = await hil(['history', 'import', file, '--history', location]);
        assert.equal(r.exitCode, 0, r.stdout + r.stderr);
        assert.match(
          r.stdout,
          new RegExp(
            `${good.length + bad.length} line\\(s\\): ${good.length} case run\\(s\\) recorded into .*, ${bad.length} bad line\\(s\\) skipped`,
          ),
        );
        const told = r.stderr.trim().split('\n');
        assert.deepEqual(
          told.map((l) => /history\.jsonl:(\d+): skipped: (.*)$/.exec(l)?.slice(1, 3).join(' ')),
          [
            '3 not JSON (cut short, or edited by hand)',
            '5 started: "yesterday" is not a time (give ISO 8601 with its zone: 2026-11-01T02:00:00Z)',
            '7 started: "2026-13-45T02:00:00Z" is not a time (give ISO 8601 with its zone: 2026-11-01T02:00:00Z)',
            '9 started: 9999-01-01T00:00:00Z is in the future',
            '11 board: Required',
            `13 verdict: Invalid enum value. Expected 'pass' | 'fail' | 'error' | 'timeout' | 'internal', received 'maybe'`,
            '15 a record of 100000+ bytes (at most 65536)'.replace('100000+', String(bad[6].length)),
          ],
        );
        const back = await exported(location);
        assert.deepEqual(back.map(keyOf).sort(), good.map(keyOf).sort(), 'every good record, and only those');
        assert.deepEqual(
          back.find((x) => x.run_id === one.run_id && x.case === one.case),
          JSON.parse(JSON.stringify(one)),
          'a record comes back as it went in',
        );
        // Imported again: nothing new, each run counts once.
        const again = await hil(['history', 'import', file, '--history', location]);
        assert.match(again.stdout, new RegExp(`: 0 case run\\(s\\) recorded into .*, ${good.length} recorded before`));
        assert.equal((await exported(location)).length, good.length);
        await consistent(location);
      });

      it('two processes writing at once lose nothing', async () => {
        const location = await newLocation(engine);
        const dir = tmpDir();
        const a = syntheticHistory({ boards: ['board-a', 'board-shared'], cases: 20, nights: 60 });
        const b = syntheticHistory({ boards: ['board-b'], cases: 20, nights: 60 }).concat(
          syntheticHistory({ boards: ['board-shared'], cases: 20, nights: 60, start: '2026-05-01T02:00:00Z' }),
        );
        writeFileSync(path.join(dir, 'a.jsonl'), lines(a));
        writeFileSync(path.join(dir, 'b.jsonl'), lines(b));
        // Each import is several transactions (2,000 records each): they interleave.
        const both = await Promise.all(
          ['a', 'b'].map((n) =>
            execa('node', [hilBin, 'history', 'import', path.join(dir, `${n}.jsonl`), '--history', location], {
              reject: false,
            }),
          ),
        );
        for (const r of both) assert.equal(r.exitCode, 0, String(r.stderr));
        const back = await exported(location);
        assert.equal(back.length, a.length + b.length);
        await consistent(location);
        const report = await hil([
          'report',
          'regressions',
          '--history',
          location,
          '-b',
          'board-shared',
          '-o',
          tmpDir(),
        ]);
        assert.match(report.stdout, /^2400 runs, 20 cases:/m, "both writers' nights of the shared board are counted");
      });
    });
  }

  it('a JSON-lines file given as the history is refused, saying how to bring it in', async () => {
    const file = path.join(tmpDir(), 'history.jsonl');
    writeFileSync(file, lines(syntheticHistory({ boards: ['b'], cases: 1, nights: 1 })));
    const r = await hil(['report', 'regressions', '--history', file]);
    assert.equal(r.exitCode, 3);
    assert.match(
      r.stderr,
      /^hil: the history .*history\.jsonl is a file, and the history is a database folder now: give --history a folder, and bring this one in with `hil history import .*history\.jsonl`$/,
    );
  });

  it('a run is queued into the embedded store whole; the next reader takes it in, and a damaged queue file is set aside, not lost', async () => {
    const location = tmpDir('hil-history-');
    const run = await hil(['run', '--board', 'qemu-virt-aarch64', '--suite', helloCaseWith(), '--history', location]);
    assert.equal(run.exitCode, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /history: 1 case\(s\) recorded into /);
    const incoming = path.join(location, 'incoming');
    assert.equal(
      readdirSync(incoming).filter((f) => f.endsWith('.json')).length,
      1,
      'the run waits in the incoming folder',
    );
    writeFileSync(path.join(incoming, '0000-damaged.json'), '[{"run_id": "cut sh');
    queueRecords(location, syntheticHistory({ boards: ['phytiumpi'], cases: 1, nights: 1 }));
    const report = await hil(['report', 'regressions', '--history', location, '-o', tmpDir()]);
    assert.equal(report.exitCode, 0, report.stderr);
    assert.match(
      report.stderr,
      /incoming\/0000-damaged\.json is not a queued run \(.*\): set aside as .*0000-damaged\.json\.bad/,
    );
    assert.match(report.stdout, /^## qemu-virt-aarch64/m);
    assert.match(report.stdout, /^## phytiumpi/m);
    assert.deepEqual(
      readdirSync(incoming).sort(),
      ['0000-damaged.json.bad'],
      'taken in, and removed once in the database',
    );
  });

  it('a history server that cannot be reached is told before the board is touched: exit 2, no QEMU started', async () => {
    const url = `postgres://postgres@127.0.0.1:${await freePort()}/nothing`;
    const out = path.join(tmpDir(), 'run');
    const r = await hil([
      'run',
      '--board',
      'qemu-virt-aarch64',
      '--suite',
      helloCaseWith(),
      '--history',
      url,
      '--out',
      out,
    ]);
    assert.equal(r.exitCode, 2, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /^hil: the history server postgres:\/\/postgres@127\.0\.0\.1:\d+\/nothing cannot be reached: connect ECONNREFUSED/,
    );
    assert.ok(!existsSync(path.join(out, 'results.json')), 'no run was started');
    assert.doesNotMatch(r.stdout, /U-Boot/);
  });

  it('a server that goes away mid-run: the verdict stands, the run is kept, and `hil history add` records it once the server is back', async () => {
    const pg = await sharedPostgres();
    const url = pg.newDatabase();
    const out = path.join(tmpDir(), 'run');
    const { proc } = await runUntilUBoot(
      ['--board', 'qemu-virt-aarch64', '--suite', helloCaseWith(), '--history', url],
      out,
    );
    pg.kill();
    let r: Awaited<typeof proc>;
    try {
      r = await proc;
    } finally {
      pg.start();
    }
    assert.equal(r.exitCode, 0, String(r.stdout) + String(r.stderr));
    assert.match(
      String(r.stdout),
      /warning: the history postgres:\/\/postgres@127\.0\.0\.1:\d+\/\w+ did not take this run \(.*\); it is kept in .*: record it later with `hil history add .*run`/,
    );
    assert.equal(JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')).verdict, 'pass');
    const add = await hil(['history', 'add', out, '--history', url]);
    assert.equal(add.exitCode, 0, add.stderr);
    assert.match(add.stdout, /: 1 case run\(s\) recorded into postgres:/);
    const back = await exported(url);
    assert.deepEqual(
      back.map((x) => [x.board, x.case, x.verdict, x.run_dir]),
      [['qemu-virt-aarch64', 'hello', 'pass', out]],
    );
  });

  it('a year of a 20-board lab: imported in one command on each engine, reported as a night of it is', async function () {
    this.timeout(900_000);
    const dir = tmpDir();
    const file = path.join(dir, 'year.jsonl');
    const all: string[] = [];
    // The year that ended last August: a record dated in the future is refused.
    for (let b = 0; b < 20; b++)
      all.push(
        lines(
          syntheticHistory({
            boards: [`board-${String(b).padStart(2, '0')}`],
            cases: 50,
            nights: 365,
            start: '2025-09-01T02:00:00Z',
          }),
        ),
      );
    writeFileSync(file, all.join(''));
    // Both engines take the year at once (one core each), then answer alike.
    const locations = await Promise.all(ENGINES.map(newLocation));
    const imports = await Promise.all(
      locations.map((location) => hil(['history', 'import', file, '--history', location], { timeout: 850_000 })),
    );
    for (const [i, engine] of ENGINES.entries()) {
      const location = locations[i];
      const imported = imports[i];
      assert.equal(imported.exitCode, 0, imported.stderr);
      assert.match(imported.stdout, /365000 line\(s\): 365000 case run\(s\) recorded/);
      const report = await hil(['report', 'regressions', '--history', location, '-b', 'board-07', '-o', tmpDir()]);
      assert.equal(report.exitCode, 0, report.stderr);
      assert.match(
        report.stdout,
        /^18250 runs, 50 cases: 1 new failures, 1 still failing, 1 fixed, 1 flaky, \d+ lab errors$/m,
        engine,
      );
      assert.match(
        report.stdout,
        /^\| case-009 \| nimbos \| fail: .* \| 2025-10-10 02:04 build \w+ \(kernel \w+\) \| 2025-10-11 02:04 build /m,
        `${engine}: a streak of 325 nights`,
      );
      const release = await hil([
        'report',
        'release',
        '--history',
        location,
        '-b',
        'board-00',
        '-b',
        'board-19',
        '--require',
        caseName(0),
      ]);
      assert.equal(release.exitCode, 1, release.stdout);
      assert.match(release.stdout, /^\| case-000 \| PASS \| PASS \|$/m);
      // The newest build is the last night's: case-003 broke there, and passed the night before.
      assert.match(release.stdout, /^# Release qualification of build \w{12}: NOT QUALIFIED$/m);
      assert.match(
        release.stdout,
        /^- board-19 \/ case-003: fail on build \w{12} \(.*\); regression: passed on build \w{12} \(2026-08-30\) \(not a required case/m,
      );
    }
  });
});
