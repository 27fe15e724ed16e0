// What a lab person having a bad day tries: odd file names, absurd limits, a history store
// someone edited, two runs at once, a runner killed with SIGKILL, secrets typed at a
// prompt. Each: the right verdict and exit code, nothing lost or overwritten, nothing
// left running, nothing secret written.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  closeSync,
  ftruncateSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  alive,
  checkNoQemuLeft,
  deriveToml,
  helloCaseWith,
  helloImage,
  hil,
  hilBin,
  pidsOf,
  root,
  runUntilUBoot,
  tmpDir,
  virtualBoard,
  watchRun,
  until,
} from '../helpers.js';

const linuxShell = path.join(root, 'suites', 'virtual-board', 'linux-shell.toml');

describe('a bad day in the lab: what a person tries', function () {
  checkNoQemuLeft();

  it('an image whose name has a quote, a space and a $ loads by TFTP and by YMODEM', async () => {
    const dir = tmpDir();
    const odd = path.join(dir, "it's a $HOME image");
    copyFileSync(helloImage, odd);
    for (const method of ['tftp', 'ymodem']) {
      const r = await hil([
        'run',
        '--board',
        'qemu-virt-aarch64',
        '--suite',
        helloCaseWith((d) => {
          d.images.kernel = odd;
          d.load_method = method;
          delete d.qemu_case;
        }),
      ]);
      assert.equal(r.exitCode, 0, r.stdout + r.stderr);
      assert.equal(r.results.cases[0].transfers[0].method, method);
    }
  });

  it('a case timeout of 35 days is a long limit, not one that fires at once', async () => {
    const r = await hil([
      'run',
      '--board',
      'qemu-virt-aarch64',
      '--suite',
      helloCaseWith((d) => (d.timeout = 3_024_000)),
    ]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
  });

  it('[timeouts] load bounds a YMODEM load: cut short, it is a lab error in the load phase', async () => {
    const dir = tmpDir();
    const big = path.join(dir, 'big.bin');
    writeFileSync(big, Buffer.alloc(256 * 1024, 0x5a));
    const board = deriveToml(virtualBoard, (d) => (d.timeouts.load = 2));
    const r = await hil([
      'run',
      '--board',
      board,
      '--suite',
      helloCaseWith((d) => {
        d.images.initrd = big;
        d.load_method = 'ymodem';
      }),
    ]);
    assert.equal(r.exitCode, 2, r.stdout + r.stderr);
    const c = r.results.cases[0];
    assert.equal(c.verdict, 'error');
    assert.equal(c.phase, 'load');
    assert.equal(c.reason, 'load: the initrd big.bin was not loaded by ymodem ([timeouts] load) within 2 s');
  });

  it("an image over U-Boot's 2 GiB is refused before the board is powered", async () => {
    const huge = path.join(tmpDir(), 'huge.Image');
    const fd = openSync(huge, 'w');
    ftruncateSync(fd, 2 ** 31 + 4096); // sparse: no disk is used
    closeSync(fd);
    const r = await hil([
      'run',
      '--board',
      'qemu-virt-aarch64',
      '--suite',
      helloCaseWith((d) => (d.images.kernel = huge)),
      '--dry-run',
    ]);
    assert.equal(r.exitCode, 3);
    assert.match(
      r.stdout + r.stderr,
      /images\.kernel: .*huge\.Image is 2147487744 bytes: U-Boot loads at most 2 GiB - 1 in one go/,
    );
  });

  it('an --out or --history that cannot be written: one line, exit 3, the board never powered', async () => {
    const r = await hil([
      'run',
      '--board',
      'qemu-virt-aarch64',
      '--suite',
      helloCaseWith(),
      '--history',
      '/proc/hil/history',
    ]);
    assert.equal(r.exitCode, 3);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(
      r.stderr,
      /^hil: cannot write the history \/proc\/hil\/history: .* \(give --history a folder you can write, or --no-history\)/,
    );
  });

  it('two cases whose names differ only in characters a folder cannot hold keep two transcripts', async () => {
    const dir = tmpDir();
    helloCaseWith((d) => (d.success_regex = ['^Hello, world!']), dir);
    for (const name of ['hello world.toml', 'hello/world.toml']) {
      mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
      copyFileSync(path.join(dir, 'hello.toml'), path.join(dir, name));
    }
    const r = await hil(['run', '--board', 'qemu-virt-aarch64', '--suite', dir]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const folders = r.results.cases.map((c: any) => c.transcript);
    assert.equal(new Set(folders).size, 3, folders.join(', '));
    for (const c of r.results.cases) assert.ok(statSync(path.join(r.out, c.transcript, 'console.log')).size > 0);
  });

  it('two runs started in the same second each get a folder of their own', async () => {
    const lab = tmpDir('hil-lab-');
    const theCase = helloCaseWith();
    const runs = await Promise.all(
      [1, 2].map(() =>
        execa(
          'node',
          [hilBin, '--lab', lab, 'run', '--board', 'qemu-virt-aarch64', '--suite', theCase, '--no-history'],
          { cwd: root, reject: false },
        ),
      ),
    );
    const folders = readdirSync(path.join(lab, 'reports'));
    for (const f of folders) watchRun(path.join(lab, 'reports', f));
    assert.deepEqual(
      runs.map((r) => r.exitCode),
      [0, 0],
      runs.map((r) => r.stdout).join('\n'),
    );
    assert.equal(folders.length, 2, folders.join(', '));
    for (const f of folders)
      assert.equal(JSON.parse(readFileSync(path.join(lab, 'reports', f, 'results.json'), 'utf8')).verdict, 'pass');
  });

  it("a control character in a failing case's last lines leaves junit.xml well-formed", async () => {
    const theCase = deriveToml(linuxShell, (d) => {
      d.shell_init_cmd = String.raw`printf 'bad \001\033[0m byte\nERROR: vcpu 2 \013 went away\n'`;
      d.fail_regex = ['ERROR: vcpu'];
      for (const k of ['kernel', 'initrd'] as const)
        d.images[k] = path.join(root, 'fixtures/linux/out', k === 'kernel' ? 'Image' : 'initramfs.cpio.gz');
      delete d.qemu_case;
    });
    const r = await hil(['run', '--board', 'qemu-virt-aarch64', '--suite', theCase]);
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    const junit = readFileSync(path.join(r.out, 'junit.xml'), 'utf8');
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(junit, /[\x00-\x08\x0b\x0c\x0e-\x1f]/, 'no character XML 1.0 forbids');
    assert.match(junit, /bad \\x01 byte/);
    assert.match(
      junit,
      /<failure type="fail" message="failure pattern &quot;ERROR: vcpu&quot; matched: ERROR: vcpu 2 \\x0b went away"/,
    );
  });

  it('a runner killed with SIGKILL takes QEMU with it; its TFTP folder is cleaned by the next run', async () => {
    const out = tmpDir('hil-out-');
    const { proc } = await runUntilUBoot(['--board', 'qemu-virt-aarch64', '--suite', linuxShell, '--no-history'], out);
    const [qemu] = pidsOf(out);
    assert.ok(qemu && alive(qemu), 'QEMU runs');
    const mark = `hil-tftp-${os.hostname().replace(/[^A-Za-z0-9-]+/g, '_')}.${proc.pid}-`;
    proc.kill('SIGKILL');
    await proc;
    await until(() => !alive(qemu), 'QEMU to end with its killed parent');
    assert.ok(!alive(qemu), 'the kernel ended QEMU with its parent (setpriv --pdeathsig)');
    const left = () => readdirSync(os.tmpdir()).filter((f) => f.startsWith(mark));
    assert.equal(left().length, 1, 'the killed runner left its TFTP folder');
    const r = await hil(['run', '--board', 'qemu-virt-aarch64', '--suite', helloCaseWith()]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.deepEqual(left(), [], 'the next run removed it');
    assert.match(r.stdout, /removed hil-tftp-.*: the TFTP folder of a runner that was killed/);
  });

  it("a spec in a lab repository outside the runner's checkout runs, importing axvisor-hil/spec", async () => {
    const lab = tmpDir('hil-lab-');
    const spec = path.join(lab, 'suites', 'mine', 'hello.spec.mts');
    mkdirSync(path.dirname(spec), { recursive: true });
    writeFileSync(
      spec,
      [
        "import { useBoard } from 'axvisor-hil/spec';",
        "describe('hello from a lab', () => {",
        '  const board = useBoard();',
        "  it('boots the bare-metal image', async () => {",
        `    await board.boot({ kernel: ${JSON.stringify(helloImage)} });`,
        '    await board.expect(/^hil-hello: bare-metal guest done/);',
        '  });',
        '});',
        '',
      ].join('\n'),
    );
    const r = await hil([
      '--lab',
      lab,
      'run',
      '--board',
      'qemu-virt-aarch64',
      '--suite',
      'mine',
      '--out',
      tmpDir('hil-out-'),
    ]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.equal(r.results.cases[0].verdict, 'pass');
    // The same as .spec.ts in a lab with no ES module package: said before the board is on.
    copyFileSync(spec, spec.replace(/\.mts$/, '.ts'));
    const ts = await hil(['--lab', lab, 'run', '--board', 'qemu-virt-aarch64', '--suite', 'mine']);
    assert.equal(ts.exitCode, 3, ts.stdout + ts.stderr);
    assert.match(
      ts.stderr,
      /hello\.spec\.ts: a \.spec\.ts is read as CommonJS here \(no package\.json above it says "type": "module"\), so it cannot import axvisor-hil\/spec: name it \.spec\.mts/,
    );
  });

  it('a secret typed at U-Boot (${secret:NAME}) is masked in the transcripts and written nowhere', async () => {
    const pin = 'pin-5t7x9q';
    const theCase = helloCaseWith((d) => (d.uboot_cmd = ['setenv lab_pin ${secret:LAB_PIN}', 'printenv lab_pin']));
    const r = await hil(['run', '--board', 'qemu-virt-aarch64', '--suite', theCase], {
      env: { ...process.env, LAB_PIN: pin },
    });
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const leaks = spawnSync('grep', ['-rl', pin, r.out], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    assert.deepEqual(
      leaks,
      [],
      'not in console.log, console.timed.log, power.log, results, JUnit, Allure, the history',
    );
    assert.ok(!r.stdout.includes(pin) && !r.stderr.includes(pin));
    const c = r.results.cases[0];
    const raw = readFileSync(path.join(r.out, c.transcript, 'console.log'), 'latin1');
    assert.match(raw, /lab_pin=\*{10}\r?\n/, 'masked with as many characters');
    assert.equal(
      statSync(path.join(r.out, c.transcript, 'console.log')).size,
      c.console_bytes,
      'the transcript keeps its byte count',
    );
    assert.ok(existsSync(path.join(r.out, 'junit.xml')));
  });
});
