// A bad day in the lab, over whole runs (fixtures/line-sim/fault-line.ts between the runner
// and the virtual board's pty, the console a serial port as on a real board): characters
// lost or changed while typing to U-Boot, the console attached after the countdown,
// kernel-log lines breaking into the shell prompt and a command's output, a board silent
// after U-Boot, the USB-serial adapter vanishing at power-on; and retries of lab errors.
// Each test checks the verdict, the phase, that console.log holds every byte the runner
// read, and that nothing it started is left running.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { FaultLine, type FaultPlan } from '../../fixtures/line-sim/fault-line.js';
import { checkNoQemuLeft, deriveToml, helloCaseWith, hil, root, tmpDir, virtualBoard } from '../helpers.js';

/** A run of `theCase` through a faulty line; the board's console is the line's far end. */
async function throughFaults(plan: FaultPlan, theCase: string, board: (d: any) => void = () => {}) {
  const dir = tmpDir('hil-faults-');
  const hostLink = path.join(dir, 'ttyUSB-board');
  const boardLink = path.join(dir, 'qemu-pty');
  const line = await FaultLine.start(hostLink, boardLink, plan);
  try {
    const boardFile = deriveToml(
      virtualBoard,
      (d) => {
        d.console = { kind: 'serial', port: hostLink, baud: 115200, reappear_timeout: 5 };
        d.power.pty_link = boardLink;
        board(d);
      },
      dir,
    );
    const r = await hil(['run', '--board', boardFile, '--suite', theCase]);
    return { r, stats: line.stats };
  } finally {
    await line.close();
  }
}

/** Every byte the runner read of a case is in its console.log. */
function transcriptComplete(out: string, c: any): string {
  const file = path.join(out, c.transcript, 'console.log');
  assert.equal(typeof c.console_bytes, 'number');
  assert.equal(statSync(file).size, c.console_bytes, 'console.log holds every byte read');
  return readFileSync(path.join(out, c.transcript, 'console.timed.log'), 'utf8');
}

const linuxShell = path.join(root, 'suites', 'virtual-board', 'linux-shell.toml');

describe('a bad day in the lab, over whole runs', function () {
  checkNoQemuLeft();

  it('characters dropped and changed while typing to U-Boot: caught in the echo, retyped, and the run passes', async () => {
    const { r, stats } = await throughFaults({ dropTyped: [1, 3], corruptTyped: [5] }, helloCaseWith());
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.equal(stats.dropped, 2);
    assert.equal(stats.corrupted, 1);
    const timed = transcriptComplete(r.out, r.results.cases[0]);
    assert.equal((timed.match(/did not come back intact \(attempt 1\); Ctrl-C and retype/g) ?? []).length, 3);
  });

  it('the console attached after the countdown (the prompt went by unseen): the board is reset and interrupted again', async () => {
    const { r } = await throughFaults({ lateAttachMs: 4000 }, helloCaseWith(), (d) => (d.timeouts.uboot = 5));
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const timed = transcriptComplete(r.out, r.results.cases[0]);
    assert.match(
      timed,
      /no usable U-Boot prompt \(uboot: no U-Boot prompt .* within 5 s\); resetting the board and interrupting again \(attempt 2 of 2\)/,
    );
    assert.match(timed, /## autoboot countdown seen/);
  });

  it('kernel-log lines in the shell prompt and in the command output: the case still decides on its answer', async () => {
    const { r, stats } = await throughFaults({ burst: true }, linuxShell);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.ok(stats.bursts >= 2, `bursts: ${stats.bursts}`);
    const c = r.results.cases[0];
    assert.equal(c.matched.line, 'guest test pass!');
    const timed = transcriptComplete(r.out, c);
    assert.match(
      timed,
      /root@hil-guest:~# \[ {3}42\.424242\] random: crng init done/,
      'the burst broke into the prompt line',
    );
    assert.match(
      timed,
      /pwd && echo 'guest test pass!'\n(.*\n)*.*random: crng init done\n(.*\n)*.*\] guest test pass!/,
      'and into the output',
    );
  });

  it('a board silent after U-Boot: timeout in the boot phase, with the last lines U-Boot printed', async () => {
    const { r } = await throughFaults(
      { silentAfterHandoff: true },
      helloCaseWith(),
      (d) => (d.timeouts.first_output = 3),
    );
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    const c = r.results.cases[0];
    assert.equal(c.verdict, 'timeout');
    assert.equal(c.phase, 'boot');
    assert.match(c.reason, /^boot: the guest printed nothing after the hand-off within 3 s/);
    assert.ok(
      c.last_lines.some((l: string) => /Starting kernel/.test(l)),
      c.last_lines.join('|'),
    );
    transcriptComplete(r.out, c);
  });

  it('the USB-serial adapter vanishes at power-on and comes back at the same path: the port is reopened and the run passes', async () => {
    // Gone before the countdown and back in time for it, as a re-enumerating adapter is
    // on a board with a bootdelay of a few seconds.
    const { r, stats } = await throughFaults({ vanishAtPowerOnMs: 200 }, helloCaseWith());
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.equal(stats.vanished, 1);
    const timed = transcriptComplete(r.out, r.results.cases[0]);
    assert.match(timed, /## serial port .*ttyUSB-board went away .*; waiting up to 5 s for it to come back/);
    assert.match(timed, /## serial port .*ttyUSB-board is back after [\d.]+ s: reopened/);
  });

  it('an adapter that does not come back is a lab error naming the port, and the board is off', async () => {
    const { r } = await throughFaults(
      { vanishAtPowerOnMs: 8000 },
      helloCaseWith(),
      (d) => (d.console.reappear_timeout = 1),
    );
    assert.equal(r.exitCode, 2, r.stdout + r.stderr);
    const c = r.results.cases[0];
    assert.equal(c.verdict, 'error');
    assert.equal(c.phase, 'uboot');
    assert.match(c.reason, /serial port .*ttyUSB-board went away \(.*\) and did not come back within 1 s/);
    transcriptComplete(r.out, c);
  });

  describe('retries of lab errors', () => {
    it('lab errors on the first two runs and a pass on the third: PASS, with each attempt kept once everywhere', async () => {
      const theCase = helloCaseWith((d) => (d.retries = 2));
      const { r } = await throughFaults({ lateAttachMs: 60_000, only: [1, 2] }, theCase, (d) => {
        d.timeouts.uboot = 8; // enough for the passing attempt on a busy machine
        d.uboot.attempts = 1;
      });
      assert.equal(r.exitCode, 0, r.stdout + r.stderr);
      const c = r.results.cases[0];
      assert.equal(c.verdict, 'pass');
      assert.equal(c.attempt, 3);
      assert.deepEqual(
        c.attempts.map((a: any) => [a.attempt, a.verdict, a.phase, a.attempts]),
        [
          [1, 'error', 'uboot', undefined],
          [2, 'error', 'uboot', undefined],
        ],
        'no attempt carries copies of the ones before it',
      );
      assert.notEqual(c.attempts[0].transcript, c.transcript, 'each attempt has its own transcript');
      assert.match(r.stdout, /lab error on attempt 1; running it again \(2 more allowed\)/);
      assert.match(r.stdout, /PASS \([\d.]+ s\), on attempt 3 after 2 lab error\(s\)/);
      const exported = await hil(['history', 'export', '--history', r.history]);
      const history = exported.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.deepEqual(
        history.map((h) => [h.verdict, h.attempt, h.retried]),
        [
          ['error', undefined, undefined],
          ['error', 2, undefined],
          ['pass', 3, 2],
        ],
        'only the final attempt says how many lab errors came before it',
      );
      assert.match(
        readFileSync(path.join(r.out, 'junit.xml'), 'utf8'),
        /attempt 1 of 3: error in uboot: uboot: no U-Boot prompt/,
      );
      const dir = path.join(r.out, 'allure-results');
      const results = readdirSync(dir)
        .filter((f) => f.endsWith('-result.json'))
        .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')));
      assert.deepEqual(
        results.map((x) => x.status).sort(),
        ['broken', 'broken', 'passed'],
        "Allure shows the attempts as the case's retries",
      );
      assert.equal(new Set(results.map((x) => x.historyId)).size, 1);
    });

    it('a failure is never run again, whatever the retries allow', async () => {
      const r = await hil([
        'run',
        '--board',
        'qemu-virt-aarch64',
        '--suite',
        helloCaseWith((d) => {
          d.retries = 3;
          d.fail_regex.push('^Hello, world!');
        }),
      ]);
      assert.equal(r.exitCode, 1, r.stdout + r.stderr);
      const c = r.results.cases[0];
      assert.equal(c.verdict, 'fail');
      assert.equal(c.attempts, undefined);
      assert.doesNotMatch(r.stdout, /running it again/);
    });
  });
});
