// Lab state read defensively (runner/lab/lease.ts, runner/lab/health.ts): a lease or a
// health record of another shape (an older runner's, a hand-written one, one cut short) is
// named and judged, never crashed on; a lease folder that is a file is said at once, never
// spun on; a corrupt health record is "unknown", so the board is checked first.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { kindOf } from '../../runner/errors.js';
import { healthProblem, readHealth, writeHealth } from '../../runner/lab/health.js';
import { FolderStore, holderProblem, Lease, leaseStates, vetted } from '../../runner/lab/lease.js';
import { tmpDir } from '../helpers.js';

/** The start time of a process, as lease.ts reads it. */
const startOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
};

/** A lease as this runner writes it, held by this (live) test process. */
const liveHolder = (board: string) => ({
  board,
  run: 'reports/a-run',
  pid: process.pid,
  pid_start: startOf(process.pid),
  host: os.hostname(),
  since: new Date().toISOString(),
  token: 'tok',
});

const aged = (file: string, s: number) => {
  const t = new Date(Date.now() - s * 1000);
  utimesSync(file, t, t);
};

describe('lab state read defensively', () => {
  describe('leases', () => {
    it('names what is wrong with a lease of another shape', () => {
      assert.equal(holderProblem(liveHolder('b')), undefined);
      assert.equal(holderProblem({}), 'no board, run, pid, pid_start, host, since, token');
      assert.equal(holderProblem({ ...liveHolder('b'), pid: '4711' }), 'pid is not a number');
      assert.equal(holderProblem({ ...liveHolder('b'), since: 'yesterday' }), 'since is not a time');
      // An older runner's lease: what it had, without what this one adds.
      assert.equal(
        holderProblem({ board: 'b', pid: 4711, host: 'lab-1', started: '2026-01-01' }),
        'no run, pid_start, since, token',
      );
      assert.equal(holderProblem([1, 2]), 'it holds a list, not a lease');
      assert.equal(holderProblem(null), 'it holds null, not a lease');
      assert.equal(holderProblem('held'), 'it holds a string, not a lease');
      assert.deepEqual(vetted({ holder: {}, ageMs: 5 }), {
        ageMs: 5,
        problem: 'no board, run, pid, pid_start, host, since, token',
      });
      assert.match(vetted({ ageMs: 5, unreadable: 'not JSON' }).problem!, /not readable JSON/);
    });

    it('a fresh lease of another shape holds the board: the refusal names the file and what is wrong', async () => {
      const dir = tmpDir('hil-leases-');
      writeFileSync(path.join(dir, 'b1.lease'), '{}\n');
      await assert.rejects(
        Lease.acquire('b1', { run: 'r', waitS: 0, log: () => {}, dir }),
        (e: Error) =>
          kindOf(e) === 'lab' &&
          /^board b1 is held by a lease this runner cannot read \(b1\.lease in .*: no board, run, pid, pid_start, host, since, token\), its heartbeat \d+ s old: .*remove the file$/.test(
            e.message,
          ),
      );
      const [state] = await leaseStates(new FolderStore(dir));
      assert.deepEqual(
        [state.board, state.holder, state.gone, state.problem],
        ['b1', undefined, undefined, 'no board, run, pid, pid_start, host, since, token'],
      );
    });

    it('a stale lease of another shape is broken with a note and kept as .broken; the board is taken', async () => {
      const dir = tmpDir('hil-leases-');
      const file = path.join(dir, 'b2.lease');
      writeFileSync(file, JSON.stringify({ board: 'b2', pid: 1, host: 'old-runner' }));
      aged(file, 120);
      const notes: string[] = [];
      const lease = await Lease.acquire('b2', { run: 'r', waitS: 0, log: (m) => notes.push(m), dir });
      assert.match(
        notes.join('\n'),
        /^broke the lease of board b2: it was held by a lease this runner cannot read \(b2\.lease in .*: no run, pid_start, since, token\), and no heartbeat for 120 s/m,
      );
      assert.ok(existsSync(path.join(dir, 'b2.broken')), 'nothing lost: the old lease kept beside');
      assert.equal(JSON.parse(readFileSync(file, 'utf8')).token, lease.holder.token, 'the board is ours now');
      await lease.release();
      assert.ok(!existsSync(file));
    });

    it('a lease that is not JSON at all is judged by its heartbeat, and `lab status` reads a folder of every kind', async () => {
      const dir = tmpDir('hil-leases-');
      writeFileSync(path.join(dir, 'half.lease'), '{"board": "half", "ru');
      writeFileSync(path.join(dir, 'list.lease'), '[]');
      writeFileSync(path.join(dir, 'good.lease'), JSON.stringify(liveHolder('good')));
      aged(path.join(dir, 'half.lease'), 60);
      const states = await leaseStates(new FolderStore(dir));
      assert.deepEqual(
        states.map((s) => [s.board, s.gone ?? '', s.problem?.replace(/ \(.*\)/, '') ?? '']),
        [
          ['good', '', ''],
          ['half', 'no heartbeat for 60 s', 'it is not readable JSON: being written, or damaged'],
          ['list', '', 'it holds a list, not a lease'],
        ],
      );
    });

    it('a lease folder that is a file is a configuration error at once, not a loop', async () => {
      const file = path.join(tmpDir(), 'not-a-folder');
      writeFileSync(file, '');
      for (const dir of [file, path.join(file, 'below')]) {
        await assert.rejects(
          Lease.acquire('b3', { run: 'r', waitS: 60, log: () => {}, dir }),
          (e: Error) =>
            kindOf(e) === 'config' && e.message.includes(file) && /set HIL_LEASE_DIR to a folder/.test(e.message),
        );
      }
      await assert.rejects(leaseStates(new FolderStore(file)), (e: Error) => kindOf(e) === 'config');
    });
  });

  describe('health records', () => {
    const good = { board: 'b', state: 'good', at: '2026-12-01T10:00:00.000Z', uboot_version: 'U-Boot 2023.01' };

    it('names what is wrong with a record of another shape', () => {
      assert.equal(healthProblem(good), undefined);
      assert.equal(healthProblem({}), 'no board; no state; no at (when it was set)');
      assert.equal(healthProblem({ ...good, state: 'ok' }), 'state "ok" is none of good, bad, unknown');
      assert.equal(healthProblem({ ...good, env: 'bootcmd=x' }), 'env is not a table');
    });

    it('never checked is no record; a record cut short or of another shape is unknown, never "never checked"', async () => {
      const dir = tmpDir('hil-leases-');
      assert.equal(await readHealth('b', dir), undefined, 'no record: never checked');
      const file = path.join(dir, 'b.health.json');
      writeFileSync(file, JSON.stringify({ ...good, state: 'bad', reason: 'uboot: no prompt' }).slice(0, 30));
      const cut = (await readHealth('b', dir))!;
      assert.equal(cut.state, 'unknown');
      assert.match(
        cut.reason!,
        new RegExp(
          `^its health record ${file} is not JSON, cut short or damaged \\(.*\\); it is checked again before its next run$`,
        ),
      );
      writeFileSync(file, JSON.stringify({ status: 'bad' }));
      assert.match((await readHealth('b', dir))!.reason!, /is not a health record: no board; no state; no at/);
      writeFileSync(file, '');
      assert.match((await readHealth('b', dir))!.reason!, /is empty/);
    });

    it('a new record keeps the unreadable one aside', async () => {
      const dir = tmpDir('hil-leases-');
      const file = path.join(dir, 'b.health.json');
      writeFileSync(file, '{"board": "b", "sta');
      await writeHealth({ board: 'b', state: 'good', at: new Date().toISOString() }, dir);
      assert.equal((await readHealth('b', dir))?.state, 'good');
      assert.equal(readFileSync(`${file}.unreadable`, 'utf8'), '{"board": "b", "sta');
    });
  });
});
