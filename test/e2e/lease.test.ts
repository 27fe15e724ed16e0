// Leases on the virtual board made a shared one (`lease = true`, as a board wired to the
// lab is by default): one run at a time, across processes; a busy board waits or is a lab
// error naming its holder; a killed holder's lease is broken with a note, a live one never.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import {
  checkNoQemuLeft,
  deriveToml,
  hil,
  hilBin,
  root,
  runUntilUBoot,
  tmpDir,
  virtualBoard,
  watchRun,
  until,
} from '../helpers.js';

const linuxShell = path.join(root, 'suites', 'virtual-board', 'linux-shell.toml');

describe('board leases', function () {
  checkNoQemuLeft();
  let leases: string;
  let board: string;
  let env: NodeJS.ProcessEnv;

  beforeEach(() => {
    leases = tmpDir('hil-leases-');
    env = { ...process.env, HIL_LEASE_DIR: leases };
    board = deriveToml(virtualBoard, (d) => (d.lease = true));
  });

  const start = (out: string, ...more: string[]) => {
    watchRun(out);
    return execa(
      'node',
      [hilBin, 'run', '--board', board, '--suite', linuxShell, '--no-history', '--out', out, ...more],
      { cwd: root, reject: false, env },
    );
  };

  it('two runs race for one board: one runs, the other is a lab error naming the holder, its board never powered', async () => {
    const outs = [tmpDir('hil-out-'), tmpDir('hil-out-')];
    const procs = outs.map((o) => start(o));
    const runs = await Promise.all(procs);
    const codes = runs.map((r) => r.exitCode);
    assert.deepEqual([...codes].sort(), [0, 2], runs.map((r) => r.stdout + r.stderr).join('\n---\n'));
    const loser = codes.indexOf(2);
    const winner = 1 - loser;
    assert.match(
      runs[loser].stderr,
      new RegExp(
        `^hil: lease: board qemu-virt-aarch64 is held by run ${outs[winner].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(pid ${procs[winner].pid} on [^)]+\\) since [\\d-]+ [\\d:]+: wait for it \\(--wait 10m\\), or see \`hil lab status\`; the board was not powered \\(results: .*\\)\\n?$`,
      ),
    );
    const results = JSON.parse(readFileSync(path.join(outs[loser], 'results.json'), 'utf8'));
    assert.equal(results.verdict, 'error');
    assert.equal(results.exit_code, 2);
    assert.deepEqual(
      readdirSync(outs[loser]).filter((f) => f !== 'results.json'),
      [],
      'no case ran: no transcript, no power.log',
    );
    assert.deepEqual(readdirSync(leases), [], 'the winner gave the board back');
  });

  it('with --wait, the second run waits for the board and runs after the first', async () => {
    const outs = [tmpDir('hil-out-'), tmpDir('hil-out-')];
    const first = start(outs[0]);
    // The second asks once the first holds the board.
    await until(() => readdirSync(leases).length > 0, 'the first run to hold the board');
    const second = start(outs[1], '--wait', '2m');
    const [a, b] = await Promise.all([first, second]);
    assert.deepEqual([a.exitCode, b.exitCode], [0, 0], b.stdout + b.stderr);
    assert.match(
      b.stdout,
      /board qemu-virt-aarch64 is held by run .* \(pid \d+ on [^)]+\) since .*; waiting up to 120 s/,
    );
    const r = outs.map((o) => JSON.parse(readFileSync(path.join(o, 'results.json'), 'utf8')));
    assert.ok(
      r[1].cases[0].started >= r[0].finished,
      `the second started ${r[1].cases[0].started}, after the first finished ${r[0].finished}`,
    );
  });

  it('`hil lab status` shows who holds the board; a killed holder is seen gone, and its lease broken with a note by the next run', async () => {
    const out = tmpDir('hil-out-');
    const { proc } = await runUntilUBoot(['--board', board, '--suite', linuxShell, '--no-history'], out, { env });
    const held = await hil(['lab', 'status'], { env });
    assert.match(
      held.stdout,
      new RegExp(
        `^qemu-virt-aarch64 +held by run ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, pid ${proc.pid} on .*; alive, heartbeat \\d+ s ago$`,
        'm',
      ),
    );
    proc.kill('SIGKILL');
    await proc;
    const gone = await hil(['lab', 'status'], { env });
    assert.match(
      gone.stdout,
      new RegExp(`HOLDER GONE: its process ${proc.pid} is not running; the next run breaks the lease`),
    );
    const next = await hil(['run', '--board', board, '--suite', linuxShell, '--no-history'], { env });
    assert.equal(next.exitCode, 0, next.stdout + next.stderr);
    assert.match(
      next.stdout,
      new RegExp(
        `broke the lease of board qemu-virt-aarch64: it was held by run .* \\(pid ${proc.pid} on .*\\) since .*, and its process ${proc.pid} is not running`,
      ),
    );
    assert.ok(existsSync(path.join(leases, 'qemu-virt-aarch64.broken')), 'the broken lease is kept beside');
    assert.equal(
      (await hil(['lab', 'status'], { env })).stdout.split('\n')[0],
      `no board is held (leases in ${leases})`,
    );
  });
});
