// The console lost in the middle of a run, against real peers: Debian's ser2net in front of
// the virtual board's pty (killed, and restarted), and the line simulator's serial port
// vanishing while the guest prints (fixtures/line-sim/fault-line.ts). A console lost for
// good ends the case at once as a lab error naming the console and the phase (not a
// timeout against the hypervisor), the board switched off and the case run again where
// `retries` allow; a console back within [console] reattach_timeout is reattached and the
// run goes on, the transcript marking the gap. Also here: a board gone silent after the
// hand-off (the case's boot_silence, the timeout's last line) and a console flood (the
// runner's memory stays bounded while console.log keeps every byte).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { FaultLine } from '../../fixtures/line-sim/fault-line.js';
import { type Ser2net, startSer2net } from '../../fixtures/ser2net.js';
import {
  checkNoQemuLeft,
  deriveToml,
  helloCaseWith,
  hil,
  hilBin,
  pidsOf,
  root,
  tmpDir,
  virtualBoard,
  watchRun,
} from '../helpers.js';

const linuxShell = path.join(root, 'suites', 'virtual-board', 'linux-shell.toml');
const LINUX_TIMEOUT = 120; // linux-shell.toml's timeout

/** Resolves when `file` holds `pattern` (the transcript is written as the bytes arrive). */
async function seen(file: string, pattern: RegExp, run?: Promise<unknown>): Promise<void> {
  let ended = false;
  void run?.finally(() => (ended = true));
  for (;;) {
    if (existsSync(file) && pattern.test(readFileSync(file, 'latin1'))) return;
    if (ended) throw new Error(`the run ended before ${file} showed ${pattern}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts `hil run` in the background (its QEMU watched by checkNoQemuLeft). */
function startRun(board: string, theCase: string, out: string) {
  watchRun(out);
  return execa('node', [hilBin, 'run', '--board', board, '--suite', theCase, '--out', out, '--no-history'], {
    cwd: root,
    reject: false,
    timeout: 170_000,
    env: { HIL_LEASE_DIR: tmpDir('hil-leases-') },
  });
}

/** ser2net started again with the configuration (and port) startSer2net wrote in `dir`. */
function ser2netAgain(dir: string): { proc: ChildProcess; stop: () => Promise<void> } {
  const proc = spawn(
    'ser2net',
    ['-n', '-u', '-c', path.join(dir, 'ser2net.yaml'), '-P', path.join(dir, 'ser2net-2.pid')],
    { stdio: 'ignore' },
  );
  return {
    proc,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    },
  };
}

const results = (out: string) => JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));

/** console.log holds every byte the runner read; the timed transcript's text. */
function transcript(out: string, c: any): string {
  assert.equal(
    statSync(path.join(out, c.transcript, 'console.log')).size,
    c.console_bytes,
    'console.log holds every byte read',
  );
  return readFileSync(path.join(out, c.transcript, 'console.timed.log'), 'utf8');
}

describe('the console lost in the middle of a run', function () {
  checkNoQemuLeft();

  describe('through ser2net (Debian ser2net 4 in front of the virtual board)', () => {
    let dir: string;
    let s2n: Ser2net;
    let again: { stop: () => Promise<void> } | undefined;
    const boardWith = (telnet: boolean, change: (d: any) => void = () => {}) =>
      deriveToml(
        virtualBoard,
        (d) => {
          d.console = telnet
            ? { kind: 'rfc2217', host: '127.0.0.1', port: s2n.port, baud: 115200 }
            : { kind: 'tcp', host: '127.0.0.1', port: s2n.port };
          d.power.pty_link = s2n.link;
          change(d);
        },
        dir,
      );

    afterEach(async () => {
      await again?.stop();
      again = undefined;
      await s2n?.stop();
    });

    it('ser2net killed while the Linux guest prints: a lab error in the guest phase naming the console, at once, the board off', async () => {
      dir = tmpDir('hil-lost-');
      s2n = await startSer2net(dir, false);
      const out = tmpDir('hil-out-');
      const run = startRun(boardWith(false), linuxShell, out);
      await seen(path.join(out, 'linux-shell', 'console.log'), /Booting Linux on physical CPU/, run);
      await s2n.stop(); // the lab host's console server ends: the connection drops
      const r = await run;
      assert.equal(r.exitCode, 2, String(r.stdout));
      const c = results(out).cases[0];
      assert.equal(c.verdict, 'error');
      assert.equal(c.phase, 'guest');
      assert.match(
        c.reason,
        /^guest: the console connection tcp:127\.0\.0\.1:\d+ went away \(closed by the other end\)$/,
      );
      assert.ok(
        c.phases.guest < LINUX_TIMEOUT / 4,
        `ended at once, not after the case's ${LINUX_TIMEOUT} s: ${c.phases.guest} s`,
      );
      const timed = transcript(out, c);
      assert.match(
        readFileSync(path.join(out, c.transcript, 'console.log'), 'latin1'),
        /Booting Linux on physical CPU/,
        'what came before the loss is kept',
      );
      assert.match(
        timed,
        /## the console connection tcp:.* went away \(closed by the other end\)\n(.*\n)*.*## power off/,
        'then the board was switched off',
      );
      assert.ok(!existsSync(s2n.link), "QEMU is gone, and its pty's link with it");
    });

    it('with retries = 1 the case runs again, and passes once ser2net is back', async () => {
      dir = tmpDir('hil-lost-');
      s2n = await startSer2net(dir, false);
      const out = tmpDir('hil-out-');
      const theCase = deriveToml(linuxShell, (d) => {
        d.retries = 1;
        for (const k of ['kernel', 'initrd'] as const)
          d.images[k] = path.join(root, 'fixtures/linux/out', k === 'kernel' ? 'Image' : 'initramfs.cpio.gz');
        d.qemu_case = path.join(root, 'suites', 'virtual-board', 'qemu', 'linux-shell.toml');
      });
      // The second attempt's console waits for ser2net (it refuses meanwhile) up to connect_timeout.
      const run = startRun(
        boardWith(false, (d) => (d.console.connect_timeout = 60)),
        theCase,
        out,
      );
      // Listening from the start: the runner can say it runs the case again while ser2net is
      // still being stopped (a busy machine), before a listener attached after the stop.
      let said = '';
      run.stdout!.on('data', (d: Buffer) => (said += String(d)));
      const retrying = new Promise<void>((resolve, reject) => {
        run.stdout!.on('data', () => {
          if (/lab error on attempt 1; running it again \(1 more allowed\)/.test(said)) resolve();
        });
        void run.finally(() => reject(new Error('the run ended without a second attempt')));
      });
      retrying.catch(() => undefined); // awaited below; not unhandled while `seen` waits
      await seen(path.join(out, 'linux-shell', 'console.log'), /Booting Linux on physical CPU/, run);
      await s2n.stop();
      // systemd restarts ser2net: here, once the runner said it runs the case again.
      await retrying;
      again = ser2netAgain(dir);
      const r = await run;
      assert.equal(r.exitCode, 0, String(r.stdout));
      const c = results(out).cases[0];
      assert.equal(c.verdict, 'pass');
      assert.equal(c.attempt, 2);
      assert.deepEqual(
        c.attempts.map((a: any) => [a.attempt, a.verdict, a.phase]),
        [[1, 'error', 'guest']],
      );
      assert.match(c.attempts[0].reason, /^guest: the console connection tcp:127\.0\.0\.1:\d+ went away/);
      assert.ok(c.attempts[0].phases.guest < LINUX_TIMEOUT / 4);
      assert.notEqual(c.attempts[0].transcript, c.transcript, 'each attempt keeps its transcript');
      assert.match(String(r.stdout), /PASS \([\d.]+ s\), on attempt 2 after 1 lab error\(s\)/);
    });

    it('ser2net restarted within reattach_timeout (RFC 2217): the console is reattached, the run passes, the transcript marks the gap', async () => {
      dir = tmpDir('hil-lost-');
      s2n = await startSer2net(dir, true);
      const out = tmpDir('hil-out-');
      const run = startRun(
        boardWith(true, (d) => (d.console.reattach_timeout = 60)),
        linuxShell,
        out,
      );
      const timedLog = path.join(out, 'linux-shell', 'console.timed.log');
      await seen(path.join(out, 'linux-shell', 'console.log'), /Booting Linux on physical CPU/, run);
      // The guest is held while its console is away (QEMU stopped), so the gap loses none of
      // what the case decides on, however long the restart takes on a busy machine.
      const [qemu] = pidsOf(out);
      process.kill(qemu, 'SIGSTOP');
      try {
        await s2n.stop();
        again = ser2netAgain(dir);
        await seen(timedLog, /## the console connection rfc2217:.* is back after/, run);
      } finally {
        process.kill(qemu, 'SIGCONT');
      }
      const r = await run;
      assert.equal(r.exitCode, 0, String(r.stdout));
      const c = results(out).cases[0];
      assert.equal(c.verdict, 'pass');
      assert.equal(c.matched.line, 'guest test pass!');
      const timed = transcript(out, c);
      assert.match(
        timed,
        /## the console connection rfc2217:127\.0\.0\.1:\d+ went away \(closed by the other end\); waiting up to 60 s for it to come back\n/,
      );
      assert.match(
        timed,
        /## the console connection rfc2217:127\.0\.0\.1:\d+ is back after ([\d.]+) s: reconnected \(the console was gone \1 s: what the board printed meanwhile is not in the transcript\)\n/,
      );
    });
  });

  describe('a serial port that vanishes while the guest prints (the line simulator)', () => {
    /** A run of the Linux shell case, its console a serial port through the line simulator;
     * `during` acts once the kernel prints, with the line and the run's output folder. */
    async function throughLine(
      board: (d: any) => void,
      during: (line: FaultLine, out: string, run: Promise<unknown>) => Promise<void>,
    ) {
      const dir = tmpDir('hil-vanish-');
      const hostLink = path.join(dir, 'ttyUSB-board');
      const boardLink = path.join(dir, 'qemu-pty');
      const line = await FaultLine.start(hostLink, boardLink, {});
      try {
        const boardFile = deriveToml(
          virtualBoard,
          (d) => {
            d.console = { kind: 'serial', port: hostLink, baud: 115200 };
            d.power.pty_link = boardLink;
            board(d);
          },
          dir,
        );
        const out = tmpDir('hil-out-');
        const run = startRun(boardFile, linuxShell, out);
        await seen(path.join(out, 'linux-shell', 'console.log'), /Booting Linux on physical CPU/, run);
        await during(line, out, run);
        const r = await run;
        return { r, out, c: results(out).cases[0], stats: line.stats };
      } finally {
        await line.close();
      }
    }

    it('back within reattach_timeout: reopened, the run passes, the gap marked', async () => {
      const { r, out, c, stats } = await throughLine(
        (d) => (d.console.reattach_timeout = 30),
        async (line, out, run) => {
          // The guest is held while the adapter is away (QEMU stopped), so the gap loses none
          // of what the case decides on, however long the reopening takes on a busy machine.
          const [qemu] = pidsOf(out);
          process.kill(qemu, 'SIGSTOP');
          try {
            void line.vanish(1500);
            await seen(path.join(out, 'linux-shell', 'console.timed.log'), /## serial port .* is back after/, run);
          } finally {
            process.kill(qemu, 'SIGCONT');
          }
        },
      );
      assert.equal(r.exitCode, 0, String(r.stdout));
      assert.equal(stats.vanished, 1);
      assert.equal(c.matched.line, 'guest test pass!');
      const timed = transcript(out, c);
      assert.match(
        timed,
        /Booting Linux on physical CPU(.*\n)*.*## serial port .*ttyUSB-board went away \(.*\); waiting up to 30 s for it to come back\n/,
      );
      assert.match(
        timed,
        /## serial port .*ttyUSB-board is back after [\d.]+ s: reopened \(the console was gone [\d.]+ s/,
      );
      assert.match(timed, /is back after (.*\n)*.*\] guest test pass!/, 'and the guest was heard after it');
    });

    it('not back within reattach_timeout: a lab error in the guest phase naming the port, the board off', async () => {
      const { r, out, c } = await throughLine(
        (d) => (d.console.reattach_timeout = 1),
        async (line) => void line.vanish(600_000),
      );
      assert.equal(r.exitCode, 2, String(r.stdout));
      assert.equal(c.verdict, 'error');
      assert.equal(c.phase, 'guest');
      assert.match(c.reason, /^guest: serial port .*ttyUSB-board went away \(.*\) and did not come back within 1 s$/);
      assert.ok(c.phases.guest < LINUX_TIMEOUT / 4, `not the case's ${LINUX_TIMEOUT} s: ${c.phases.guest} s`);
      assert.match(transcript(out, c), /did not come back within 1 s\n(.*\n)*.*## power off/);
    });
  });
});

describe('a board gone silent after the hand-off', function () {
  checkNoQemuLeft();

  it('boot_silence: the hello guest printing its two lines and then nothing ends as a timeout after boot_silence, naming its last line', async () => {
    const r = await hil([
      'run',
      '--board',
      'qemu-virt-aarch64',
      '--suite',
      helloCaseWith((d) => Object.assign(d, { success_regex: ['^never printed$'], boot_silence: 3 })),
    ]);
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    const c = r.results.cases[0];
    assert.equal(c.verdict, 'timeout');
    assert.equal(c.phase, 'guest');
    assert.equal(c.reason, 'guest: no output for 3 s after "hil-hello: bare-metal guest done" (the last line)');
    assert.ok(
      c.phases.guest >= 2.5 && c.phases.guest < 60 / 2,
      `ended by the silence, not the case's 60 s: ${c.phases.guest} s`,
    );
  });

  it('boot_silence with nothing after "Starting kernel": a timeout in the boot phase naming the hand-off line', async () => {
    const dir = tmpDir('hil-silent-');
    const hostLink = path.join(dir, 'ttyUSB-board');
    const boardLink = path.join(dir, 'qemu-pty');
    const line = await FaultLine.start(hostLink, boardLink, { silentAfterHandoff: true });
    try {
      const board = deriveToml(
        virtualBoard,
        (d) => {
          d.console = { kind: 'serial', port: hostLink, baud: 115200 };
          d.power.pty_link = boardLink;
        },
        dir,
      );
      const r = await hil(['run', '--board', board, '--suite', helloCaseWith((d) => (d.boot_silence = 2))]);
      assert.equal(r.exitCode, 1, r.stdout + r.stderr);
      const c = r.results.cases[0];
      assert.equal(c.verdict, 'timeout');
      assert.equal(c.phase, 'boot');
      assert.match(c.reason, /^boot: no output for 2 s after "Starting kernel \.\.\." \(the last line\)$/);
      assert.ok(c.phases.guest < 30 / 2, `not the board's first_output (30 s): ${c.phases.guest} s`);
    } finally {
      await line.close();
    }
  });

  it('a boot_silence not shorter than the timeout is refused before the board is touched', async () => {
    const r = await hil([
      'run',
      '--board',
      'qemu-virt-aarch64',
      '--suite',
      helloCaseWith((d) => (d.boot_silence = 60)),
    ]);
    assert.equal(r.exitCode, 3, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /boot_silence: 60 s is not shorter than the case's timeout \(60 s\): it could never end the case first/,
    );
  });
});

describe('a console flood', function () {
  checkNoQemuLeft();
  // The old line engine and the baseline's lines kept every line: 339 MB of memory at 62 MB
  // read, 765 MB at 229 MB (and 1.1 GB at this flood's 100 MB here). bench/ floods 1 GB.
  const FLOOD = 100 * 1000 * 1000;
  const RSS_MAX_KB = 200 * 1024;

  it(`${FLOOD / 1e6} MB of console lines matching nothing, then the marker: a pass, console.log complete, the runner's memory bounded`, async () => {
    const dir = tmpDir('hil-flood-');
    const hostLink = path.join(dir, 'ttyUSB-board');
    const boardLink = path.join(dir, 'qemu-pty');
    const line = await FaultLine.start(hostLink, boardLink, { flood: { bytes: FLOOD, last: 'hil-flood: done' } });
    let out = '';
    try {
      const board = deriveToml(
        virtualBoard,
        (d) => {
          d.console = { kind: 'serial', port: hostLink, baud: 115200 };
          d.power.pty_link = boardLink;
        },
        dir,
      );
      // The shipped hello case, with its QEMU baseline (whose lines are kept for the comparison).
      const theCase = helloCaseWith((d) => Object.assign(d, { success_regex: ['^hil-flood: done'], timeout: 600 }));
      const hook = path.join(root, 'bench', 'maxrss-hook.mjs');
      const r = await hil(['run', '--board', board, '--suite', theCase], {
        env: { ...process.env, NODE_OPTIONS: `--import=${hook}` },
        timeout: 280_000,
      });
      out = r.out;
      assert.equal(r.exitCode, 0, r.stdout + r.stderr);
      const c = r.results.cases[0];
      assert.equal(c.matched.line, 'hil-flood: done');
      assert.equal(line.stats.flooded, FLOOD);
      assert.equal(c.console_bytes, line.stats.bytesToRunner, 'the runner read every byte the line sent');
      assert.equal(
        statSync(path.join(r.out, c.transcript, 'console.log')).size,
        line.stats.bytesToRunner,
        'and console.log holds them all',
      );
      assert.ok(
        c.warnings.some((w: string) =>
          /the QEMU baseline comparison sees its first \d+ lines and, after them, only its marker lines/.test(w),
        ),
        c.warnings.join('\n'),
      );
      const kb = Number(/maxrss (\d+)/.exec(r.stderr)?.[1]);
      assert.ok(kb > 0, r.stderr);
      assert.ok(kb < RSS_MAX_KB, `peak RSS ${Math.round(kb / 1024)} MB, at most ${RSS_MAX_KB / 1024} MB`);
    } finally {
      await line.close();
      if (out) rmSync(out, { recursive: true, force: true });
    }
  });
});
