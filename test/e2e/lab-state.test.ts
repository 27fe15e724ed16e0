// The lab as it really runs: lab state that is not what this runner wrote, settings that
// are wrong, a Ctrl-C at an awkward moment, a board simulator a power command starts, and
// the real TGOSKits files. Each ends right through the real CLI: the exit code, one line on
// stderr saying what is wrong and what to do, results.json where there was an output
// folder, and nothing left running.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import {
  checkNoQemuLeft,
  deriveToml,
  helloCaseWith,
  helloImage,
  hil,
  hilBin,
  root,
  runUntilUBoot,
  tmpDir,
  virtualBoard,
  watchRun,
} from '../helpers.js';

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const corpus = path.join(root, 'test', 'corpus', 'tgoskits');
const runConfig = path.join(corpus, '.github', 'workflows', 'uboot.toml');
const axvisorNormal = path.join(corpus, 'test-suit', 'axvisor', 'normal');
/** What TGOSKits' board CI sets for ostool's run config. */
const ciEnv = {
  BOARD_COMM_UART_DEV: '/dev/ttyHIL-none',
  BOARD_COMM_UART_BAUD: '1500000',
  BOARD_POWER_RESET: 'true',
  BOARD_POWER_OFF: 'true',
  BOARD_DTB: helloImage,
  TFTP_DIR: tmpDir(),
  BOARD_COMM_NET_IFACE: 'lo',
};

/** One line on stderr, and it is `re`. */
function oneLine(stderr: string, re: RegExp): void {
  assert.equal(stderr.trimEnd().split('\n').length, 1, `one line on stderr, not:\n${stderr}`);
  assert.match(stderr.trimEnd(), re);
}

/** The virtual board made a lab board: it takes a lease and keeps its health. */
const labBoard = (change: (d: any) => void = () => {}) =>
  deriveToml(virtualBoard, (d) => {
    d.lease = true;
    change(d);
  });

/** A lease as this runner writes it, held by this test's own (live) process. */
function liveLease(dir: string, board: string): string {
  const stat = readFileSync(`/proc/${process.pid}/stat`, 'utf8');
  const holder = {
    board,
    run: 'reports/the-other-run',
    pid: process.pid,
    pid_start: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19],
    host: os.hostname(),
    since: new Date().toISOString(),
    token: 'the-other-run',
  };
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${board}.lease`);
  writeFileSync(file, JSON.stringify(holder));
  return file;
}

/** Resolves when `proc` prints a line matching `re` (its output is still read after). */
function printed(proc: ResultPromise, re: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    proc.stdout!.on('data', (d: Buffer) => {
      seen += d.toString();
      if (re.test(seen)) resolve();
    });
    proc.then(() => reject(new Error(`it ended before printing ${re}:\n${seen}`)), reject);
  });
}

/** Whether a process runs (a zombie nobody reaps has ended). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

/** Waits until none of `pids` runs; fails after `maxS` (a bound, not the decision). */
async function ended(pids: number[], maxS = 30): Promise<void> {
  const until = Date.now() + maxS * 1000;
  while (pids.some(running)) {
    if (Date.now() > until) assert.fail(`still running: ${pids.filter(running).join(', ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the lab as it really runs', function () {
  checkNoQemuLeft();

  describe('lab state this runner did not write', () => {
    it('HIL_LEASE_DIR naming a file: one line, exit 3, results.json; never a spin', async () => {
      const file = path.join(tmpDir(), 'leases');
      writeFileSync(file, 'not a folder\n');
      const env = { ...process.env, HIL_LEASE_DIR: file };
      const told = new RegExp(
        `^hil: the lease folder ${esc(file)} is not a folder \\(HIL_LEASE_DIR\\): set HIL_LEASE_DIR to a folder \\(made if missing\\), or remove that file`,
      );
      const r = await hil(['run', '--board', labBoard(), '--suite', helloCaseWith(), '--no-history'], { env });
      assert.equal(r.exitCode, 3, r.stdout + r.stderr);
      oneLine(r.stderr, new RegExp(`${told.source}; the board was not powered \\(results: .*results\\.json\\)$`));
      assert.deepEqual([r.results.verdict, r.results.exit_code], ['error', 3]);
      assert.deepEqual(readdirSync(r.out), ['results.json'], 'the board never powered: no transcript, no power.log');
      const status = await hil(['lab', 'status'], { env });
      assert.equal(status.exitCode, 3, status.stdout + status.stderr);
      oneLine(status.stderr, told);
      const out = tmpDir('hil-out-');
      const check = await hil(['lab', 'check', '--board', labBoard(), '--out', out], { env });
      assert.equal(check.exitCode, 3, check.stdout + check.stderr);
      oneLine(
        check.stderr,
        new RegExp(
          `^hil: qemu-virt-aarch64: not checked: the lease folder ${esc(file)} is not a folder \\(HIL_LEASE_DIR\\): .* \\(results: .*\\)$`,
        ),
      );
      assert.equal(JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')).exit_code, 3);
      assert.equal(readFileSync(file, 'utf8'), 'not a folder\n', 'the file left as it was');
    });

    it("a lease of another shape ({}, an older runner's) is named, not a runner bug: refused while fresh, broken with a note once stale", async () => {
      const leases = tmpDir('hil-leases-');
      const env = { ...process.env, HIL_LEASE_DIR: leases };
      const file = path.join(leases, 'qemu-virt-aarch64.lease');
      writeFileSync(file, '{}\n');
      const board = labBoard();
      const r = await hil(['run', '--board', board, '--suite', helloCaseWith(), '--no-history'], { env });
      assert.equal(r.exitCode, 2, r.stdout + r.stderr);
      oneLine(
        r.stderr,
        new RegExp(
          `^hil: lease: board qemu-virt-aarch64 is held by a lease this runner cannot read \\(qemu-virt-aarch64\\.lease in ${esc(leases)}: no board, run, pid, pid_start, host, since, token\\), its heartbeat \\d+ s old: .*if no run holds the board, remove the file; the board was not powered \\(results: .*\\)$`,
        ),
      );
      assert.deepEqual([r.results.exit_code, readdirSync(r.out)], [2, ['results.json']]);
      const status = await hil(['lab', 'status'], { env });
      assert.equal(status.exitCode, 0, status.stderr);
      assert.match(
        status.stdout,
        new RegExp(
          `^qemu-virt-aarch64 +held by a lease this runner cannot read \\(qemu-virt-aarch64\\.lease in ${esc(leases)}: no board, run, pid, pid_start, host, since, token\\); heartbeat \\d+ s ago`,
          'm',
        ),
      );
      // An older runner's lease, its holder gone long ago: broken, kept, and the run goes on.
      writeFileSync(
        file,
        JSON.stringify({ board: 'qemu-virt-aarch64', pid: 4711, host: 'lab-host-0', started: '2026-01-01T00:00:00Z' }),
      );
      const old = new Date(Date.now() - 120_000);
      utimesSync(file, old, old);
      const next = await hil(['run', '--board', board, '--suite', helloCaseWith(), '--no-history'], { env });
      assert.equal(next.exitCode, 0, next.stdout + next.stderr);
      assert.match(
        next.stdout,
        /broke the lease of board qemu-virt-aarch64: it was held by a lease this runner cannot read \(.*: no run, pid_start, since, token\), and no heartbeat for 1\d\d s/,
      );
      assert.match(
        readFileSync(path.join(leases, 'qemu-virt-aarch64.broken'), 'utf8'),
        /lab-host-0/,
        'nothing lost: the old lease kept beside',
      );
      assert.ok(!existsSync(file), 'the board given back');
    });

    it('a health record cut short is "unknown", not "never checked": the BAD board is checked first and not given the run', async () => {
      const leases = tmpDir('hil-leases-');
      const env = { ...process.env, HIL_LEASE_DIR: leases };
      const record = path.join(leases, 'qemu-virt-aarch64.health.json');
      const cut = JSON.stringify({
        board: 'qemu-virt-aarch64',
        state: 'bad',
        at: new Date().toISOString(),
        reason: 'uboot: no prompt',
      }).slice(0, 40);
      writeFileSync(record, cut);
      const bad = labBoard((d) => {
        d.uboot.prompt = 'no-such-prompt> ';
        d.uboot.attempts = 1;
        d.timeouts.uboot = 3;
      });
      const r = await hil(['run', '--board', bad, '--suite', helloCaseWith(), '--no-history'], { env });
      assert.equal(r.exitCode, 2, r.stdout + r.stderr);
      assert.match(
        r.stdout,
        new RegExp(
          `board qemu-virt-aarch64 is of unknown health \\(its health record ${esc(record)} is not JSON, cut short or damaged .*\\): checking it first`,
        ),
      );
      oneLine(
        r.stderr,
        /^hil: board qemu-virt-aarch64 failed its health check \(uboot: .*\); its cases were not run \(results: .*\)$/,
      );
      assert.deepEqual(
        r.results.cases.map((c: any) => [c.name, c.verdict]),
        [['health-check', 'error']],
        'the check ran, the case did not',
      );
      assert.equal(r.results.exit_code, 2);
      assert.equal(JSON.parse(readFileSync(record, 'utf8')).state, 'bad', 'its health known now');
      assert.equal(readFileSync(`${record}.unreadable`, 'utf8'), cut, 'the unreadable record kept');
      const status = await hil(['lab', 'status'], { env });
      assert.match(status.stdout, /^qemu-virt-aarch64 +health BAD since /m);
    });

    it('one board file with a TOML error: the matrix is printed without it, the file named on stderr; `hil boards` lists it INVALID', async () => {
      const lab = tmpDir('hil-lab-');
      mkdirSync(path.join(lab, 'boards'));
      writeFileSync(path.join(lab, 'boards', 'broken.toml'), 'name = "broken"\n[console\nkind = "pty"\n');
      const r = await hil(['matrix', '--suites', 'virtual-board'], { env: { ...process.env, HIL_LAB: lab } });
      assert.equal(r.exitCode, 0, r.stderr);
      const boards = JSON.parse(r.stdout).include.map((e: any) => e.board);
      assert.ok(boards.includes('qemu-virt-aarch64') && !boards.includes('broken'), boards.join(' '));
      oneLine(
        r.stderr,
        new RegExp(
          `^hil: left out of the matrix: broken: the board file does not load: ${esc(path.join(lab, 'boards', 'broken.toml'))}:2:\\d+: malformed TOML: `,
        ),
      );
      const listed = await hil(['boards'], { env: { ...process.env, HIL_LAB: lab } });
      assert.equal(listed.exitCode, 0, listed.stderr);
      assert.match(listed.stdout, /^broken +INVALID: .*broken\.toml:2:\d+: malformed TOML: /m);
      assert.match(listed.stdout, /^qemu-virt-aarch64 +QEMU virt/m, 'the other boards listed still');
    });
  });

  describe('settings that are wrong', () => {
    it('a wrong SSH key passphrase, or none for an encrypted key: one line, exit 3, before the lab host is reached', async () => {
      const dir = tmpDir();
      const key = path.join(dir, 'id_ed25519');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'right-phrase-41c9', '-f', key]);
      writeFileSync(path.join(dir, 'known_hosts'), '');
      const board = (passphrase?: string) =>
        deriveToml(labBoard(), (d) => {
          // Nothing listens there: the key is refused before any connection is tried.
          d.lab_host = {
            host: '192.0.2.1',
            user: 'lab',
            identity_file: key,
            known_hosts: path.join(dir, 'known_hosts'),
            ...(passphrase ? { passphrase } : {}),
          };
          d.power = { kind: 'ssh', reset: 'relay-ctl cycle 3', off: 'relay-ctl off 3' };
          d.console = { kind: 'tcp', host: '127.0.0.1', port: 3001, via: 'lab_host' };
        });
      const wrong = await hil([
        'run',
        '--board',
        board('wrong-phrase-77d2'),
        '--suite',
        helloCaseWith(),
        '--no-history',
      ]);
      assert.equal(wrong.exitCode, 3, wrong.stdout + wrong.stderr);
      oneLine(
        wrong.stderr,
        new RegExp(
          `^hil: \\[lab_host\\] identity_file ${esc(key)}: the passphrase does not open it \\(.*\\): fix \\[lab_host\\] passphrase \\(or the secret it names\\); the board was not powered \\(results: .*\\)$`,
        ),
      );
      assert.deepEqual([wrong.results.exit_code, readdirSync(wrong.out)], [3, ['results.json']]);
      assert.ok(!JSON.stringify(wrong).includes('wrong-phrase-77d2'), 'the passphrase is in no output');
      const none = await hil(['run', '--board', board(), '--suite', helloCaseWith(), '--no-history']);
      assert.equal(none.exitCode, 3, none.stdout + none.stderr);
      oneLine(
        none.stderr,
        /^hil: \[lab_host\] identity_file .* is encrypted and no passphrase is given: add passphrase = "\$\{secret:NAME\}" to \[lab_host\], or use the SSH agent; /,
      );
      const out = tmpDir('hil-out-');
      const check = await hil(['lab', 'check', '--board', board('wrong-phrase-77d2'), '--out', out]);
      assert.equal(check.exitCode, 3, check.stdout + check.stderr);
      oneLine(
        check.stderr,
        /^hil: qemu-virt-aarch64: not checked: \[lab_host\] identity_file .*: the passphrase does not open it/,
      );
      assert.equal(JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')).exit_code, 3);
    });

    it('--out naming an existing file: one line, exit 3, the file untouched', async () => {
      const file = path.join(tmpDir(), 'results-here');
      writeFileSync(file, 'mine\n');
      for (const args of [
        ['run', '--board', 'qemu-virt-aarch64', '--suite', helloCaseWith(), '--no-history'],
        ['lab', 'check', '--board', labBoard()],
      ]) {
        const r = await hil([...args, '--out', file]);
        assert.equal(r.exitCode, 3, r.stdout + r.stderr);
        oneLine(
          r.stderr,
          new RegExp(
            `^hil: --out ${esc(file)} is a file, not a folder: give --out a folder \\(made if missing\\), or remove that file$`,
          ),
        );
      }
      assert.equal(readFileSync(file, 'utf8'), 'mine\n');
    });
  });

  describe('Ctrl-C at an awkward moment', () => {
    it('while waiting (--wait) for a board another run holds: exit 130, results.json says so, the holder left alone', async () => {
      const leases = tmpDir('hil-leases-');
      const lease = liveLease(leases, 'qemu-virt-aarch64');
      const env = { ...process.env, HIL_LEASE_DIR: leases };
      const out = tmpDir('hil-out-');
      watchRun(out);
      const proc = execa(
        'node',
        [
          hilBin,
          'run',
          '--board',
          labBoard(),
          '--suite',
          helloCaseWith(),
          '--no-history',
          '--wait',
          '10m',
          '--out',
          out,
        ],
        {
          cwd: root,
          reject: false,
          env,
        },
      );
      await printed(proc, /board qemu-virt-aarch64 is held by run reports\/the-other-run .*; waiting up to 600 s/);
      proc.kill('SIGINT');
      const r = await proc;
      assert.equal(r.exitCode, 130, String(r.stdout) + String(r.stderr));
      oneLine(
        String(r.stderr),
        /^hil: interrupted by SIGINT while waiting for board qemu-virt-aarch64; its cases were not run, the board was not powered \(results: .*results\.json\)$/,
      );
      const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
      assert.deepEqual([results.exit_code, results.interrupted, results.cases], [130, 'interrupted by SIGINT', []]);
      assert.equal(JSON.parse(readFileSync(lease, 'utf8')).token, 'the-other-run', "the holder's lease untouched");
      // The same for a health check waiting for the board.
      const checkOut = tmpDir('hil-out-');
      const check = execa('node', [hilBin, 'lab', 'check', '--board', labBoard(), '--wait', '10m', '--out', checkOut], {
        cwd: root,
        reject: false,
        env,
      });
      await printed(check, /waiting up to 600 s/);
      check.kill('SIGTERM');
      const c = await check;
      assert.equal(c.exitCode, 130, String(c.stdout) + String(c.stderr));
      oneLine(
        String(c.stderr),
        /^hil: qemu-virt-aarch64: not checked: interrupted by SIGTERM while waiting for it \(results: .*\)$/,
      );
      assert.equal(JSON.parse(readFileSync(path.join(checkOut, 'results.json'), 'utf8')).exit_code, 130);
    });

    it('hil flash (fastboot) interrupted: exit 130, and its results.json says 130 too', async () => {
      const dir = tmpDir();
      const board = deriveToml(
        path.join(root, 'boards', 'qemu-virt-aarch64-fastboot.toml'),
        (d) => (d.power.disk = { path: path.join(dir, 'card.img'), size_mib: 64 }),
        dir,
      );
      const image = path.join(dir, 'big.img');
      writeFileSync(image, randomBytes(24 * 1024 * 1024));
      const out = tmpDir('hil-out-');
      watchRun(out);
      const proc = execa(
        'node',
        [hilBin, 'flash', '--board', board, '--image', image, '--partition', 'mmc0', '--out', out],
        {
          cwd: root,
          reject: false,
          env: { ...process.env, HIL_LEASE_DIR: tmpDir('hil-leases-') },
        },
      );
      await printed(proc, /U-Boot prompt after/);
      proc.kill('SIGINT');
      const r = await proc;
      assert.equal(r.exitCode, 130, String(r.stdout) + String(r.stderr));
      const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
      assert.deepEqual([results.exit_code, results.interrupted], [130, 'interrupted by SIGINT']);
      assert.equal(results.cases[0].verdict, 'error');
    });
  });

  describe('a board simulator a shell power command starts (Renode, an FVP, QEMU: `on` with `&`)', () => {
    /**
     * A board whose `on` starts QEMU's virtual board in the background, its UART a TCP
     * client of a bridge that joins it to our tcp console (ser2net's part), and a `sleep`
     * beside it; both write their pids to files. The bridge pairs connections in order:
     * the console connects before power-on, the simulator after.
     */
    async function simulatorBoard() {
      const dir = tmpDir('hil-sim-');
      const waiting: net.Socket[] = [];
      const bridge = net.createServer((sock) => {
        sock.on('error', () => {});
        const other = waiting.shift();
        if (!other) return void waiting.push(sock);
        other.pipe(sock).pipe(other);
        other.on('close', () => sock.destroy());
        sock.on('close', () => other.destroy());
      });
      await new Promise<void>((r) => bridge.listen(0, '127.0.0.1', r));
      const port = (bridge.address() as net.AddressInfo).port;
      const tftp = path.join(dir, 'tftp');
      mkdirSync(tftp);
      const qemu = [
        'qemu-system-aarch64 -M virt -cpu cortex-a57 -m 512 -display none -bios /usr/lib/u-boot/qemu_arm64/u-boot.bin',
        `-chardev socket,id=s0,host=127.0.0.1,port=${port} -serial chardev:s0`,
        `-netdev user,id=n0,tftp=${tftp} -device virtio-net-device,netdev=n0`,
      ].join(' ');
      const pids = { sim: path.join(dir, 'sim.pid'), sleep: path.join(dir, 'sleep.pid') };
      const board = deriveToml(
        virtualBoard,
        (d) => {
          d.name = 'sim-board';
          d.aliases = ['qemu-virt-aarch64'];
          d.console = { kind: 'tcp', host: '127.0.0.1', port };
          d.power = {
            kind: 'shell',
            // A third child says goodbye when it is stopped: what a simulator prints after
            // `on` returned goes to power.log too.
            on: `${qemu} >/dev/null 2>&1 & echo "simulator $!"; echo $! > ${pids.sim}; sleep 1000 & echo $! > ${pids.sleep}; sh -c 'trap "echo simulator stopped by SIGTERM; exit 0" TERM; while :; do sleep 1; done' &`,
            off: 'echo relay off',
          };
          d.load.methods = ['tftp'];
          d.load.tftp.dir = tftp;
          delete d.storage;
        },
        dir,
      );
      const read = () => [pids.sim, pids.sleep].map((f) => Number(readFileSync(f, 'utf8')));
      return { board, read, close: () => bridge.close() };
    }

    it('lives while the board is on, ends when it is powered off', async () => {
      const sim = await simulatorBoard();
      try {
        const out = tmpDir('hil-out-');
        const { proc } = await runUntilUBoot(['--board', sim.board, '--suite', helloCaseWith(), '--no-history'], out);
        const pids = sim.read();
        assert.deepEqual(pids.map(running), [true, true], 'the simulator and the sleep run while U-Boot answers');
        const r = await proc;
        assert.equal(r.exitCode, 0, String(r.stdout) + String(r.stderr));
        assert.deepEqual(pids.map(running), [false, false], 'both ended with the case');
        const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
        assert.equal(results.cases[0].verdict, 'pass');
        const log = readFileSync(path.join(out, results.cases[0].transcript, 'power.log'), 'utf8');
        assert.match(
          log,
          /# what it left running is kept until the board is powered off\n[\s\S]*\$ echo relay off\nrelay off\n\[exit 0\]\n(?:.*\n)*simulator stopped by SIGTERM\n# ended what the power-on command left running\n$/,
        );
      } finally {
        sim.close();
      }
    });

    it('a kill -9 of hil takes it along', async () => {
      const sim = await simulatorBoard();
      try {
        const { proc } = await runUntilUBoot(
          ['--board', sim.board, '--suite', helloCaseWith(), '--no-history'],
          tmpDir('hil-out-'),
        );
        const pids = sim.read();
        assert.deepEqual(pids.map(running), [true, true]);
        proc.kill('SIGKILL');
        await proc;
        await ended(pids);
      } finally {
        sim.close();
      }
    });
  });

  it('hil lab check --out: the check goes there, results.json with it', async () => {
    const out = path.join(tmpDir(), 'check');
    const r = await hil(['lab', 'check', '--board', labBoard(), '--out', out], {
      env: { ...process.env, HIL_LEASE_DIR: tmpDir('hil-leases-') },
    });
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^qemu-virt-aarch64: GOOD: U-Boot 20\\d\\d\\.\\d\\d.* \\(${esc(out)}\\)$`, 'm'));
    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    assert.deepEqual([results.verdict, results.exit_code, results.cases[0].name], ['pass', 0, 'health-check']);
    assert.match(readFileSync(path.join(out, 'health-check', 'console.log'), 'latin1'), /U-Boot 20\d\d\.\d\d/);
  });

  describe('the real TGOSKits files', () => {
    const env = { ...process.env, ...ciEnv };

    it("a run config given as --board with a folder of several boards' cases is refused, naming them; with one board's folder it plans", async () => {
      for (const extra of [['--dry-run'], ['--no-history']]) {
        const r = await hil(['run', '--board', runConfig, '--suite', axvisorNormal, '--image', helloImage, ...extra], {
          env,
        });
        assert.equal(r.exitCode, 3, r.stdout + r.stderr);
        oneLine(
          r.stderr,
          /^hil: .*uboot\.toml is an ostool run config, which names no board, and suite .*normal has cases for 5 boards \(Asus-nuc15-x86_64-vmx, OrangePi-5-Plus, PhytiumPi, RDK-S100, ROC-RK3568-PC\): give the suite folder of one board, or make the run config a board file that names it \(hil board import .* --name NAME --alias BOARD_TYPE\)$/,
        );
      }
      const one = await hil(
        [
          'run',
          '--board',
          runConfig,
          '--suite',
          path.join(axvisorNormal, 'board-orangepi-5-plus'),
          '--image',
          helloImage,
          '--dry-run',
        ],
        { env },
      );
      assert.equal(one.exitCode, 0, one.stdout + one.stderr);
      assert.match(one.stdout, /^plan valid: 2 case\(s\) of board-orangepi-5-plus on orangepi-5-plus$/m);
    });

    it('board import: --name X.toml writes X.toml; --alias gives the board_type its cases name; without one it says how; no doubled commas', async () => {
      const lab = tmpDir('hil-lab-');
      const labEnv = { ...env, HIL_LAB: lab };
      const withAlias = await hil(
        ['board', 'import', runConfig, '--name', 'rk3568-lab-1.toml', '--alias', 'ROC-RK3568-PC'],
        { env: labEnv },
      );
      assert.equal(withAlias.exitCode, 0, withAlias.stderr);
      assert.deepEqual(readdirSync(path.join(lab, 'boards')), ['rk3568-lab-1.toml']);
      assert.match(
        withAlias.stdout,
        /^wrote boards\/rk3568-lab-1\.toml \(board rk3568-lab-1, aliases ROC-RK3568-PC\)$|^wrote .*rk3568-lab-1\.toml \(board rk3568-lab-1, aliases ROC-RK3568-PC\)$/m,
      );
      const planned = await hil(
        ['run', '--board', 'rk3568-lab-1', '--suite', axvisorNormal, '--image', helloImage, '--dry-run'],
        { env: labEnv },
      );
      assert.equal(planned.exitCode, 0, planned.stdout + planned.stderr);
      assert.match(planned.stdout, /^plan valid: 1 case\(s\) of normal on rk3568-lab-1$/m);
      assert.match(planned.stdout, /^ {2}case smoke\/roc-rk3568-pc-linux /m);

      const bare = await hil(['board', 'import', runConfig, '--name', 'rk3568-lab-2'], { env: labEnv });
      assert.equal(bare.exitCode, 0, bare.stderr);
      assert.match(
        bare.stdout,
        /^note: board rk3568-lab-2 has no aliases, so only cases whose board_type is "rk3568-lab-2" run on it; give the board_type its cases name with --alias /m,
      );
      const refused = await hil(
        ['run', '--board', 'rk3568-lab-2', '--suite', axvisorNormal, '--image', helloImage, '--dry-run'],
        { env: labEnv },
      );
      assert.equal(refused.exitCode, 3, refused.stdout + refused.stderr);
      oneLine(
        refused.stderr,
        /^hil: suite .*normal has no case for board rk3568-lab-2: 6 case\(s\) are for other boards \(Asus-nuc15-x86_64-vmx, OrangePi-5-Plus, PhytiumPi, RDK-S100, ROC-RK3568-PC\); if one of them is this board, add its board_type to aliases in .*rk3568-lab-2\.toml$/,
      );
      assert.ok(!refused.stderr.includes(',,'));
    });
  });
});
