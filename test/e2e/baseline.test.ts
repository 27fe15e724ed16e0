// QEMU baselines, for real: recorded with plain QEMU (-kernel), compared with runs of the
// same guests through U-Boot on the virtual board.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkNoQemuLeft, deriveToml, helloCaseWith, helloImage, hil, root, tmpDir } from '../helpers.js';

describe('QEMU baselines', function () {
  checkNoQemuLeft();
  const baselines = tmpDir('hil-baselines-');

  before(async () => {
    const r = await hil(['baseline', 'record', '--suite', 'virtual-board', '--baselines', baselines]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
  });

  it('records a reviewable baseline: QEMU version, arguments, image digests, timed lines', () => {
    const text = readFileSync(path.join(baselines, 'virtual-board/qemu/hello.baseline'), 'utf8');
    assert.match(text, /^# qemu: QEMU emulator version \d+\.\d+/m);
    assert.match(
      text,
      /^# command: qemu-system-aarch64 -M virt .* -kernel \$\{workspace\}\/fixtures\/hello\/hello\.Image -nic none$/m,
      'no network asked for: -nic none, no ROM needed',
    );
    assert.match(text, /^# image: fixtures\/hello\/hello\.Image sha256=[0-9a-f]{64}$/m);
    assert.match(text, /^\s+\d+\.\d{3} {2}Hello, world!$/m);
    const linux = readFileSync(path.join(baselines, 'virtual-board/qemu/linux-shell.baseline'), 'utf8');
    assert.match(linux, /^\s+\d+\.\d{3} {2}guest test pass!$/m, 'the shell command was answered under QEMU too');
  });

  it('says "same" for the good guests run through U-Boot', async () => {
    for (const c of ['hello', 'linux-shell']) {
      const r = await hil([
        'run',
        '--board',
        'qemu-virt-aarch64',
        '--suite',
        `virtual-board/${c}.toml`,
        '--baselines',
        baselines,
      ]);
      assert.equal(r.exitCode, 0, r.stdout);
      const b = r.results.cases[0].baseline;
      assert.equal(b.status, 'same', `${c}: ${JSON.stringify(b)}`);
      assert.deepEqual(b.missing_markers, []);
      assert.deepEqual(b.new_trouble, []);
      assert.ok(b.markers.length >= 2 && b.markers.every((m: any) => m.board_s >= 0 && m.baseline_s >= 0));
      assert.ok(existsSync(path.join(r.out, r.results.cases[0].transcript, 'baseline.diff')));
    }
  });

  it('names the differences of a deliberately altered guest, and fails it when the case requires', async () => {
    const r = await hil(['run', '--board', 'qemu-virt-aarch64', '--suite', 'baseline-demo', '--baselines', baselines]);
    assert.equal(r.exitCode, 1, r.stdout);
    const c = r.results.cases[0];
    assert.equal(c.verdict, 'fail');
    assert.equal(
      c.reason,
      'differs from the QEMU baseline: marker "^Hello, world!" missing; new line "ERROR: vcpu 1 failed to start"',
    );
    assert.deepEqual(c.baseline.missing_markers, ['^Hello, world!']);
    const diff = readFileSync(path.join(r.out, c.transcript, 'baseline.diff'), 'utf8');
    assert.match(diff, /^# NEW TROUBLE ERROR: vcpu 1 failed to start$/m);
    assert.match(diff, /^Hello, world!\s+<$/m);
  });

  it('only reports the differences when the comparison is advisory', async () => {
    const demo = path.join(root, 'suites/baseline-demo/hello-altered.toml');
    const advisory = deriveToml(demo, (d) => {
      d.baseline = 'report';
      d.qemu_case = path.join(root, 'suites/virtual-board/qemu/hello.toml');
      d.images.kernel = path.join(root, 'fixtures/hello/hello-altered.Image');
    });
    const r = await hil(['run', '--board', 'qemu-virt-aarch64', '--suite', advisory, '--baselines', baselines]);
    assert.equal(r.exitCode, 0, r.stdout);
    assert.equal(r.results.cases[0].baseline.status, 'differs');
  });

  it('reports a missing baseline as missing, not as a failure of the board', async () => {
    const r = await hil([
      'run',
      '--board',
      'qemu-virt-aarch64',
      '--suite',
      'virtual-board/hello.toml',
      '--baselines',
      tmpDir(),
    ]);
    assert.equal(r.exitCode, 0, r.stdout);
    const b = r.results.cases[0].baseline;
    assert.equal(b.status, 'missing');
    assert.match(b.reason, /^no baseline at .*hello\.baseline: record it with `hil baseline record --qemu-case /);
  });

  it('records a QEMU case written as TGOSKits writes them: no -kernel, no machine, the built image given with --image', async () => {
    const dir = tmpDir();
    writeFileSync(
      path.join(dir, 'build-aarch64-unknown-none-softfloat.toml'),
      'target = "aarch64-unknown-none-softfloat"\nfeatures = []\nlog = "Info"\n',
    );
    mkdirSync(path.join(dir, 'smoke'));
    const qc = path.join(dir, 'smoke', 'qemu-aarch64.toml');
    writeFileSync(
      qc,
      'args = ["-nographic", "-cpu", "cortex-a57", "-m", "512"]\nsuccess_regex = ["(?m)^hil-hello: bare-metal guest done\\\\s*$"]\nfail_regex = []\nto_bin = true\nuefi = false\n',
    );
    const store = tmpDir();
    const r = await hil(['baseline', 'record', '--qemu-case', qc, '--image', helloImage, '--baselines', store]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const text = readFileSync(path.join(store, 'qemu-aarch64.baseline'), 'utf8');
    assert.match(
      text,
      /^# command: qemu-system-aarch64 -nographic -cpu cortex-a57 -m 512 -machine virt -nic none -kernel \S+hello\.Image$/m,
      'the emulator of the build target, a default machine, -kernel with the image',
    );
    assert.match(text, /^\s+\d+\.\d{3} {2}hil-hello: bare-metal guest done$/m);
    const asSuite = await hil(['run', '--board', 'qemu-virt-aarch64', '--suite', qc]);
    assert.equal(asSuite.exitCode, 3);
    assert.match(asSuite.stderr, /this is a QEMU case \(it has QEMU "args"\), not a board case/);
  });

  it('reports a baseline recorded with other images as stale', async () => {
    const dir = tmpDir();
    const image = path.join(dir, 'guest.Image');
    copyFileSync(helloImage, image);
    const qemuCase = deriveToml(
      path.join(root, 'suites/virtual-board/qemu/hello.toml'),
      (d) => {
        d.args[d.args.indexOf('-kernel') + 1] = image;
      },
      dir,
      'hello-qemu.toml',
    );
    const boardCase = helloCaseWith((d) => (d.qemu_case = qemuCase), dir);
    const store = tmpDir();
    assert.equal((await hil(['baseline', 'record', '--suite', boardCase, '--baselines', store])).exitCode, 0);
    const bytes = readFileSync(image);
    bytes[bytes.length - 1] ^= 0xff; // the guest was rebuilt since
    writeFileSync(image, bytes);
    const r = await hil(['run', '--board', 'qemu-virt-aarch64', '--suite', boardCase, '--baselines', store]);
    assert.equal(r.exitCode, 0, r.stdout);
    const b = r.results.cases[0].baseline;
    assert.equal(b.status, 'stale');
    assert.match(b.reason, /^the baseline was recorded with other images \(.*guest\.Image changed since /);
  });
});

describe('hil baseline record: every way QEMU fails is one line and an exit status', function () {
  checkNoQemuLeft();
  const dir = tmpDir('hil-baseline-fail-');
  // An arm64 Image of one instruction, `b .`: QEMU runs it, the guest says nothing.
  writeFileSync(path.join(dir, 'silent.Image'), Buffer.from([0x00, 0x00, 0x00, 0x14]));
  const qemuCase = (name: string, lines: string[]) => {
    const f = path.join(dir, `${name}.toml`);
    writeFileSync(f, `${lines.join('\n')}\nsuccess_regex = ["(?m)^hil-hello: bare-metal guest done\\\\s*$"]\n`);
    return f;
  };
  const hello = `"-kernel", "${helloImage}"`;
  const fakeQemu = (name: string, script: string) => {
    const f = path.join(dir, name);
    writeFileSync(f, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
    return f;
  };
  const record = async (file: string, env: Record<string, string> = {}) => {
    const out = tmpDir('hil-baseline-out-');
    const r = await hil(['baseline', 'record', '--qemu-case', file, '--baselines', tmpDir(), '--out', out], { env });
    const lines = r.stderr.trim().split('\n').filter(Boolean);
    assert.equal(lines.length, 1, `one line: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /runner bug/);
    return { ...r, line: lines[0] };
  };

  it('QEMU not installed: exit 2, naming the Debian package', async () => {
    // A PATH with node and nothing else: this machine has no qemu-system-riscv64.
    const bin = tmpDir('hil-path-');
    symlinkSync(process.execPath, path.join(bin, 'node'));
    const f = qemuCase('qemu-riscv64', [
      'args = ["-nographic"]',
      `kernel = "${path.join(root, 'fixtures/riscv64-hello/hello.Image')}"`,
    ]);
    const r = await record(f, { PATH: bin });
    assert.equal(r.exitCode, 2, r.line);
    assert.match(
      r.line,
      /^hil: qemu-riscv64: not recorded: qemu-system-riscv64 is not installed \(Debian's qemu-system-misc; scripts\/setup installs it\): the riscv64 QEMU case cannot run/,
    );
  });

  it('QEMU refusing its arguments: exit 2, with what QEMU said', async () => {
    const f = qemuCase('refused', [
      'qemu = "qemu-system-aarch64"',
      `args = ["-M", "virt", "-nographic", "-no-such-option", ${hello}]`,
    ]);
    const r = await record(f);
    assert.equal(r.exitCode, 2, r.line);
    assert.match(
      r.line,
      /^hil: refused: not recorded: QEMU refused to run the case \(exit status 1\): qemu-system-aarch64: -no-such-option: invalid option \(transcript in /,
    );
  });

  it('QEMU exiting at start without a word, or before the case passed: exit 2', async () => {
    const quiet = qemuCase('quiet', [
      `qemu = "${fakeQemu('qemu-system-aarch64', 'exit 0')}"`,
      'args = ["-M", "virt"]',
      `kernel = "${helloImage}"`,
    ]);
    const r = await record(quiet);
    assert.equal(r.exitCode, 2, r.line);
    assert.match(r.line, /^hil: quiet: not recorded: QEMU exited at start \(exit status 0\) without a word/);
    const early = qemuCase('early', [
      `qemu = "${fakeQemu('qemu-early', 'echo "Hello, world!"; echo "qemu: guest crashed" >&2; exit 3')}"`,
      'args = ["-M", "virt"]',
      `kernel = "${helloImage}"`,
    ]);
    const e = await record(early);
    assert.equal(e.exitCode, 2, e.line);
    assert.match(
      e.line,
      /^hil: early: not recorded: QEMU exited \(exit status 3\) before the case passed: qemu: guest crashed/,
    );
  });

  it('a guest that prints nothing: exit 2 within the case timeout, not a hang', async () => {
    const f = qemuCase('silent', [
      'qemu = "qemu-system-aarch64"',
      `args = ["-M", "virt", "-cpu", "cortex-a57", "-nographic", "-kernel", "silent.Image"]`,
      'timeout = 2',
    ]);
    const r = await record(f);
    assert.equal(r.exitCode, 2, r.line);
    assert.match(r.line, /^hil: silent: not recorded: QEMU ran, but the guest printed nothing within 2 s/);
  });

  it('a guest that fails under QEMU: exit 1; a bad case file: exit 3, before any QEMU runs', async () => {
    const altered = qemuCase('altered', [
      'qemu = "qemu-system-aarch64"',
      `args = ["-M", "virt", "-cpu", "cortex-a57", "-nographic", "-kernel", "${path.join(root, 'fixtures/hello/hello-altered.Image')}"]`,
      'fail_regex = ["^ERROR: vcpu"]',
    ]);
    const r = await record(altered);
    assert.equal(r.exitCode, 1, r.line);
    assert.match(
      r.line,
      /^hil: altered: not recorded: failure pattern "\^ERROR: vcpu" matched: ERROR: vcpu 1 failed to start/,
    );
    const bad = qemuCase('bad', ['args = ["-M", "virt"]', 'timeout = "soon"']);
    const b = await record(bad);
    assert.equal(b.exitCode, 3, b.line);
    assert.match(b.line, /^hil: .*bad\.toml: timeout: /);
  });
});

describe('QEMU baselines beyond aarch64: the x86_64 Linux guest, with and without OVMF', function () {
  checkNoQemuLeft();
  const suite = path.join(root, 'suites/linux-x86_64');

  it('records it as ostool runs x86_64: qemu-system-x86_64, q35, -kernel; with uefi = true, OVMF and the image as BOOTX64.EFI', async () => {
    const store = tmpDir();
    const plain = await hil([
      'baseline',
      'record',
      '--qemu-case',
      path.join(suite, 'qemu-x86_64.toml'),
      '--baselines',
      store,
      '--out',
      tmpDir(),
    ]);
    assert.equal(plain.exitCode, 0, plain.stdout + plain.stderr);
    const text = readFileSync(path.join(store, 'linux-x86_64/qemu-x86_64.baseline'), 'utf8');
    assert.match(
      text,
      /^# command: qemu-system-x86_64 -m 512 -nographic -kernel \$\{workspace\}\/fixtures\/linux-x86_64\/out\/bzImage .* -machine q35 -nic none$/m,
    );
    assert.match(text, /^\s+\d+\.\d{3} {2}hil-linux-guest: init reached on x86_64 with 1 cpu\(s\)$/m);
    assert.match(text, /^\s+\d+\.\d{3} {2}guest test pass!$/m);
    const uefi = await hil([
      'baseline',
      'record',
      '--qemu-case',
      path.join(suite, 'qemu-x86_64-uefi.toml'),
      '--baselines',
      store,
      '--out',
      tmpDir(),
    ]);
    assert.equal(uefi.exitCode, 0, uefi.stdout + uefi.stderr);
    const u = readFileSync(path.join(store, 'linux-x86_64/qemu-x86_64-uefi.baseline'), 'utf8');
    assert.match(
      u,
      /^# command: qemu-system-x86_64 .*-drive if=pflash,format=raw,unit=0,readonly=on,file=\/usr\/share\/OVMF\/OVMF_CODE_4M\.fd -drive if=pflash,format=raw,unit=1,file=\$\{out\}\/uefi-vars\.fd -drive format=raw,file=fat:rw:\$\{out\}\/esp$/m,
    );
    assert.doesNotMatch(u, /^# command: .*-kernel/m);
    assert.match(u, /^# image: fixtures\/linux-x86_64\/out\/linux\.efi sha256=[0-9a-f]{64}$/m);
    assert.match(u, /^\s+\d+\.\d{3} {2}EFI stub: Loaded initrd/m);
  });

  it('the committed x86_64 baselines compare "same" with a fresh run on this machine', async () => {
    for (const c of ['qemu-x86_64', 'qemu-x86_64-uefi']) {
      const r = await hil(['baseline', 'check', '--qemu-case', path.join(suite, `${c}.toml`), '--out', tmpDir()]);
      assert.equal(r.exitCode, 0, `${c}: ${r.stdout}${r.stderr}`);
      assert.match(
        r.stdout,
        new RegExp(`^${c}: same as the QEMU baseline \\(\\d marker\\(s\\) in order and in time;`, 'm'),
      );
    }
  });

  it('check says what differs, and exit 1', async () => {
    // The aarch64 hello's baseline as if it had printed another greeting, which its run does not.
    const dir = tmpDir();
    const store = tmpDir();
    const qc = deriveToml(
      path.join(root, 'suites/virtual-board/qemu/hello.toml'),
      (d) => (d.baseline_markers = ['^Hello, riscv!', '^hil-hello: bare-metal guest done']),
      dir,
      'hello.toml',
    );
    const recorded = readFileSync(path.join(root, 'fixtures/baselines/virtual-board/qemu/hello.baseline'), 'utf8');
    writeFileSync(path.join(store, 'hello.baseline'), recorded.replace('Hello, world!', 'Hello, riscv!'));
    const r = await hil(['baseline', 'check', '--qemu-case', qc, '--baselines', store, '--out', tmpDir()]);
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /^hil: hello: differs from the QEMU baseline: marker "\^Hello, riscv!" missing \(side by side in .*baseline\.diff\)$/m,
    );
  });
});
