// Bad input and a failing lab: one line that says what is wrong, the right exit code, the
// transcript kept, the board powered off, no process left behind.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { SerialPort } from 'serialport';
import {
  checkNoQemuLeft,
  deriveToml,
  helloCaseWith,
  helloImage,
  hil,
  runUntilUBoot,
  tmpDir,
  virtualBoard,
} from '../helpers.js';

/** A QEMU with its UART on a pty, as the virtual board has: a real pty a real owner can hold. */
async function ptyQemu(): Promise<{ pty: string; stop: () => Promise<void> }> {
  const q = spawn('qemu-system-aarch64', [
    '-M',
    'virt',
    '-display',
    'none',
    '-nic',
    'none',
    '-chardev',
    'pty,id=s0',
    '-serial',
    'chardev:s0',
    '-S',
    '-monitor',
    'none',
  ]);
  let out = '';
  const pty = await new Promise<string>((resolve, reject) => {
    q.stdout.on('data', (d: Buffer) => {
      out += d;
      const m = /\/dev\/pts\/\d+/.exec(out);
      if (m) resolve(m[0]);
    });
    q.once('exit', () => reject(new Error(`qemu exited: ${out}`)));
  });
  const stop = async () => {
    q.kill('SIGKILL');
    await new Promise((r) => q.once('exit', r));
  };
  return { pty, stop };
}

const oneLine = (s: string) => s.trim().split('\n').length === 1;

describe('bad input and lab failures', function () {
  const qemu = checkNoQemuLeft();

  describe('found before the board is touched (exit 3)', () => {
    it('an unknown board', async () => {
      const r = await hil(['run', '--board', 'rk9999', '--suite', 'virtual-board']);
      assert.equal(r.exitCode, 3);
      assert.ok(oneLine(r.stderr), r.stderr);
      assert.match(r.stderr, /^hil: unknown board "rk9999": known boards are .*qemu-virt-aarch64/);
    });

    it('a build name that is no name (HIL_BUILD holding a log), before the board is powered', async () => {
      const r = await hil(['run', '--board', 'qemu-virt-aarch64', '--suite', helloCaseWith()], {
        env: { HIL_BUILD: 'line one\nline two' },
      });
      assert.equal(r.exitCode, 3);
      assert.ok(oneLine(r.stderr), r.stderr);
      assert.match(
        r.stderr,
        /^hil: HIL_BUILD "line one\\nline two": give a build name or commit of 1 to 200 printable characters/,
      );
      assert.deepEqual(await qemu.started(), []);
    });

    it('an unknown suite', async () => {
      const r = await hil(['run', '--board', 'qemu-virt-aarch64', '--suite', 'nightly-typo']);
      assert.equal(r.exitCode, 3);
      assert.match(r.stderr, /^hil: unknown suite "nightly-typo": known suites are .*virtual-board/);
    });

    it('a malformed case TOML, naming file, line and column', async () => {
      const dir = tmpDir();
      writeFileSync(path.join(dir, 'broken.toml'), 'success_regex = ["x"\ntimeout = 3\n');
      const r = await hil(['run', '--board', 'qemu-virt-aarch64', '--suite', dir]);
      assert.equal(r.exitCode, 3);
      assert.ok(oneLine(r.stderr), r.stderr);
      assert.match(r.stderr, /broken\.toml:\d+:\d+: malformed TOML/);
      assert.equal(r.results, undefined, 'nothing ran');
    });

    it("a pattern Rust rejects, with Rust's reason", async () => {
      const r = await hil([
        'run',
        '--board',
        'qemu-virt-aarch64',
        '--suite',
        helloCaseWith((d) => (d.success_regex = ['(?<=Hello) world'])),
      ]);
      assert.equal(r.exitCode, 3);
      assert.ok(oneLine(r.stderr), r.stderr);
      assert.match(
        r.stderr,
        /hello\.toml: success_regex\[0\]: pattern "\(\?<=Hello\) world" is not a valid Rust regex: look-around, including look-ahead and look-behind, is not supported/,
      );
    });

    it('an empty image, found before the board is powered', async () => {
      const empty = path.join(tmpDir(), 'Image');
      writeFileSync(empty, '');
      const r = await hil([
        'run',
        '--board',
        'qemu-virt-aarch64',
        '--suite',
        helloCaseWith((d) => (d.images.kernel = empty)),
        '--dry-run',
      ]);
      assert.equal(r.exitCode, 3);
      assert.match(r.stdout + r.stderr, /images\.kernel: .*Image is empty: a zero-byte image cannot boot/);
    });

    it('an output folder that holds a run already, or cannot be written: nothing overwritten, one line', async () => {
      const out = tmpDir('hil-out-');
      writeFileSync(path.join(out, 'results.json'), '{"keep": true}\n');
      const r = await hil(['run', '--board', 'qemu-virt-aarch64', '--suite', helloCaseWith(), '--out', out]);
      assert.equal(r.exitCode, 3);
      assert.match(r.stderr, /already holds a run's results: give --out a new folder \(nothing was overwritten\)/);
      assert.equal(readFileSync(path.join(out, 'results.json'), 'utf8'), '{"keep": true}\n');
      const r2 = await hil([
        'run',
        '--board',
        'qemu-virt-aarch64',
        '--suite',
        helloCaseWith(),
        '--out',
        '/proc/hil-cannot-write',
      ]);
      assert.equal(r2.exitCode, 3);
      assert.ok(oneLine(r2.stderr), r2.stderr);
      assert.match(r2.stderr, /^hil: cannot write the output folder \/proc\/hil-cannot-write: /);
    });

    it('a missing image, with how to get it', async () => {
      const r = await hil([
        'run',
        '--board',
        'qemu-virt-aarch64',
        '--suite',
        helloCaseWith((d) => (d.images.kernel = '/nonexistent/Image')),
      ]);
      assert.equal(r.exitCode, 3);
      assert.match(
        r.stderr,
        /images\.kernel: image \/nonexistent\/Image does not exist; build the image or fix the path/,
      );
    });

    it('a case for another board', async () => {
      const r = await hil([
        'run',
        '--board',
        'qemu-virt-aarch64',
        '--suite',
        helloCaseWith((d) => (d.board_type = 'ROC-RK3568-PC')),
      ]);
      assert.equal(r.exitCode, 3);
      assert.match(r.stderr, /board_type "ROC-RK3568-PC" does not match board qemu-virt-aarch64/);
    });

    it('bad usage', async () => {
      const r = await hil(['run', '--board', 'qemu-virt-aarch64']);
      assert.equal(r.exitCode, 3);
      assert.match(r.stderr, /required option '-s, --suite/);
    });
  });

  describe('the lab fails (exit 2, verdict error)', () => {
    it('a board that never shows a U-Boot prompt: error, transcript kept, QEMU ended', async () => {
      // A "firmware" that prints a line and hangs: the hello image as the board's BIOS.
      const board = deriveToml(virtualBoard, (d) => {
        d.power.args[d.power.args.indexOf('-bios') + 1] = helloImage;
        d.timeouts.uboot = 3;
      });
      const r = await hil(['run', '--board', board, '--suite', helloCaseWith()]);
      assert.equal(r.exitCode, 2, r.stdout);
      const c = r.results.cases[0];
      assert.equal(c.verdict, 'error');
      assert.match(c.reason, /^uboot: no U-Boot prompt "=>" .* within 3 s$/);
      assert.equal(c.phase, 'uboot');
      assert.ok(c.last_lines.includes('Hello, world!'), 'the reason comes with the last lines printed');
      assert.match(readFileSync(path.join(r.out, c.transcript, 'console.log'), 'utf8'), /Hello, world!/);
      assert.match(
        readFileSync(path.join(r.out, 'junit.xml'), 'utf8'),
        /<error type="lab-error" message="uboot: no U-Boot prompt/,
      );
    });

    it("QEMU arguments QEMU refuses: QEMU's own words, not a console that is missing", async () => {
      const board = deriveToml(virtualBoard, (d) => d.power.args.push('-device', 'no-such-device-hil'));
      const r = await hil(['run', '--board', board, '--suite', helloCaseWith()]);
      assert.equal(r.exitCode, 2, r.stdout);
      const c = r.results.cases[0];
      assert.equal(c.phase, 'power');
      assert.match(
        c.reason,
        /qemu-system-aarch64 exited at start \(exit 1\): qemu-system-aarch64: -device no-such-device-hil: .*\(see power\.log; check the \[power\] args of the board file\)/,
      );
    });

    it('U-Boot lacking a command the case needs', async () => {
      const r = await hil([
        'run',
        '--board',
        'qemu-virt-aarch64',
        '--suite',
        helloCaseWith((d) => (d.uboot_cmd = ['bootz ${kernel_addr_r}'])),
      ]);
      assert.equal(r.exitCode, 2, r.stdout);
      assert.match(
        r.results.cases[0].reason,
        /this U-Boot has no command "bootz": enable it in U-Boot's configuration/,
      );
    });

    it("a U-Boot command that fails names the command and U-Boot's words", async () => {
      const board = deriveToml(virtualBoard, (d) => (d.uboot.init_cmds = ['setenv hil_x 1', 'test 1 -eq 2']));
      const r = await hil(['run', '--board', board, '--suite', helloCaseWith()]);
      assert.equal(r.exitCode, 2, r.stdout);
      assert.equal(r.results.cases[0].reason, 'U-Boot command "test 1 -eq 2" failed (exit 1)');
      assert.equal(r.results.cases[0].phase, 'uboot');
    });

    describe('with a shell-powered board', () => {
      const shellBoard = (port: string, log: string) => {
        const dir = tmpDir();
        const file = path.join(dir, 'lab-board.toml');
        writeFileSync(
          file,
          [
            'name = "lab-board"',
            `[console]\nkind = "serial"\nport = "${port}"\nappear_timeout = 0.5`,
            `[power]\nkind = "shell"\nreset = "echo reset >> ${log}"\noff = "echo off >> ${log}"`,
            `[load.tftp]\ndir = "${dir}"\nboard_ip = "10.0.2.15"\nserver_ip = "10.0.2.2"`,
          ].join('\n'),
        );
        return file;
      };

      it('a serial port that does not exist: error naming it, board powered off', async () => {
        const log = path.join(tmpDir(), 'power-calls');
        const r = await hil([
          'run',
          '--board',
          shellBoard('/dev/ttyHIL-missing', log),
          '--suite',
          helloCaseWith((d) => delete d.board_type),
        ]);
        assert.equal(r.exitCode, 2, r.stdout);
        assert.match(
          r.results.cases[0].reason,
          /^serial port \/dev\/ttyHIL-missing does not exist \(waited 0\.5 s\): check the USB-serial cable/,
        );
        assert.equal(readFileSync(log, 'utf8'), 'off\n', 'never powered on, but powered off');
      });

      it("a serial port another program holds: error saying so, and the board, someone else's, is left alone", async () => {
        // A real pty held by a real owner, opened with a lock.
        const { pty, stop } = await ptyQemu();
        const holder = new SerialPort({ path: pty, baudRate: 115200, lock: true, autoOpen: false });
        await new Promise<void>((res, rej) => holder.open((e) => (e ? rej(e) : res())));
        try {
          const log = path.join(tmpDir(), 'power-calls');
          const r = await hil([
            'run',
            '--board',
            shellBoard(pty, log),
            '--suite',
            helloCaseWith((d) => delete d.board_type),
          ]);
          assert.equal(r.exitCode, 2, r.stdout);
          assert.match(
            r.results.cases[0].reason,
            new RegExp(`^serial port ${pty} is busy: another program holds it \\(find it with \`fuser`),
          );
          assert.equal(existsSync(log), false, 'neither reset nor switched off under the run that holds it');
        } finally {
          await new Promise((res) => holder.close(res));
          await stop();
        }
      });

      it('a power command that leaves a child holding its output does not hang the run; a secret in it is written nowhere', async () => {
        const log = path.join(tmpDir(), 'power-calls');
        const board = shellBoard('/dev/ttyHIL-missing', log).replace(/$/, '');
        const text = readFileSync(board, 'utf8').replace(
          `off = "echo off >> ${log}"`,
          `off = "sleep 300 & echo off \${env:PDU_TOKEN} >> ${log}"`,
        );
        writeFileSync(board, text);
        const t0 = performance.now();
        const r = await hil(['run', '--board', board, '--suite', helloCaseWith((d) => delete d.board_type)], {
          env: { ...process.env, PDU_TOKEN: 'tok-8f3a91c2' },
        });
        assert.ok(performance.now() - t0 < 30_000, 'the run ends long before the background child would');
        assert.equal(r.exitCode, 2, r.stdout);
        assert.match(readFileSync(log, 'utf8'), /^off tok-8f3a91c2$/m, 'the command did run with the secret');
        const { spawnSync } = await import('node:child_process');
        const leaks = spawnSync('grep', ['-rl', 'tok-8f3a91c2', r.out], { encoding: 'utf8' })
          .stdout.split('\n')
          .filter(Boolean);
        assert.deepEqual(leaks, [], 'not in power.log, results.json, junit.xml, allure-results, the history');
        assert.ok(!r.stdout.includes('tok-8f3a91c2') && !r.stderr.includes('tok-8f3a91c2'));
      });

      it('a token the shell reads itself ($PDU_TOKEN, not ${env:PDU_TOKEN}) and prints back is masked everywhere too', async () => {
        const board = shellBoard('/dev/ttyHIL-missing', path.join(tmpDir(), 'power-calls'));
        writeFileSync(
          board,
          readFileSync(board, 'utf8').replace(/^off = .*$/m, 'off = "echo relay answered for $PDU_TOKEN"'),
        );
        const r = await hil(['run', '--board', board, '--suite', helloCaseWith((d) => delete d.board_type)], {
          env: { ...process.env, PDU_TOKEN: 'tok-77c1d0e5' },
        });
        assert.equal(r.exitCode, 2, r.stdout);
        const { spawnSync } = await import('node:child_process');
        const powerLogs = spawnSync('grep', ['-rl', 'relay answered for', r.out], { encoding: 'utf8' })
          .stdout.split('\n')
          .filter(Boolean);
        assert.ok(powerLogs.length > 0, 'the power command ran and its output was kept');
        const leaks = spawnSync('grep', ['-rl', 'tok-77c1d0e5', r.out], { encoding: 'utf8' })
          .stdout.split('\n')
          .filter(Boolean);
        assert.deepEqual(leaks, [], 'masked in power.log and everything else');
      });
    });
  });

  it('Ctrl-C in the middle of a run: board off, no QEMU left, results and transcript kept', async () => {
    const out = tmpDir('hil-out-');
    // Interrupt while the kernel is loading: QEMU is running and U-Boot is busy.
    const { proc } = await runUntilUBoot(
      ['--board', 'qemu-virt-aarch64', '--suite', 'virtual-board/linux-shell.toml'],
      out,
    );
    assert.ok((await qemu.started()).length > 0, 'a QEMU was running when Ctrl-C came');
    proc.kill('SIGINT');
    const r = await proc;
    assert.equal(r.exitCode, 130, String(r.stdout) + String(r.stderr));
    assert.deepEqual(await qemu.started(), []);
    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    assert.equal(results.verdict, 'error');
    assert.equal(results.exit_code, 130, 'results.json says how the run ended');
    assert.equal(results.interrupted, 'interrupted by SIGINT');
    assert.match(results.cases[0].reason, /interrupted by SIGINT/);
    const transcript = path.join(out, results.cases[0].transcript, 'console.log');
    assert.ok(existsSync(transcript) && /U-Boot 2023/.test(readFileSync(transcript, 'utf8')));
  });
});
