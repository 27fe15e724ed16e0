// The three virtual-board suites, run for real: Debian's U-Boot in QEMU on a pty, TFTP
// loads checked with crc32, a Linux kernel booting to a busybox shell.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { checkNoQemuLeft, hil, root } from '../helpers.js';

describe('virtual lab board (real U-Boot in QEMU)', function () {
  checkNoQemuLeft();

  it('passes the bare-metal hello, the Linux shell case and the TypeScript spec', async () => {
    const r = await hil(['run', '--board', 'qemu-virt-aarch64', '--suite', 'virtual-board']);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const res = r.results;
    assert.equal(res.verdict, 'pass');
    assert.deepEqual(res.counts, { pass: 3, fail: 0, error: 0, timeout: 0, internal: 0 });
    assert.equal(res.schema, 'axvisor-hil/results');
    assert.equal(res.version, 2);
    assert.match(res.runner.version, /^\d+\.\d+\.\d+$/);
    // No --build, no HIL_BUILD, images not built from a workspace: the build is named by them.
    assert.equal(res.build.source, 'images');
    assert.match(res.build.id, /^images:[0-9a-f]{12}$/);
    assert.match(
      r.stdout,
      new RegExp(`^build: ${res.build.id} \\(named by its images: give --build or HIL_BUILD to name it\\)$`, 'm'),
    );
    const byName = Object.fromEntries(res.cases.map((c: any) => [c.name.split(':')[0], c]));
    assert.deepEqual(Object.keys(byName).sort(), ['hello', 'linux-commands', 'linux-shell']);

    const hello = byName.hello;
    assert.equal(hello.matched.line, 'hil-hello: bare-metal guest done');
    for (const p of ['power', 'uboot', 'load', 'boot', 'guest', 'total'])
      assert.ok(hello.phases[p] > 0, `phase ${p} timed`);

    const linux = byName['linux-shell'];
    assert.equal(linux.matched.line, 'guest test pass!', "passed on the shell command's output, not its echo");
    const image = readFileSync(path.join(root, 'fixtures/linux/out/Image'));
    const kernel = linux.transfers.find((t: any) => t.role === 'kernel');
    assert.equal(kernel.bytes, image.length);
    assert.equal(kernel.crc32, (crc32(image) >>> 0).toString(16).padStart(8, '0'));
    assert.equal(kernel.verified, true);
    assert.deepEqual(
      linux.transfers.map((t: any) => t.role),
      ['kernel', 'initrd'],
    );

    const log = readFileSync(path.join(r.out, linux.transcript, 'console.log'), 'utf8');
    assert.match(log, /U-Boot 2023\.01/);
    assert.match(log, /Starting kernel/);
    assert.match(log, /^guest test pass!\r?$/m);
    assert.match(
      readFileSync(path.join(r.out, linux.transcript, 'console.timed.log'), 'utf8'),
      /^\[\s*\d+\.\d{3}\] ## shell prompt "root@hil-guest:~#" seen: typing/m,
    );

    // The committed baselines hold on a fresh machine: the fixtures build the same bytes
    // (a "stale" here means the Linux guest is no longer built reproducibly).
    assert.equal(hello.baseline.status, 'same', JSON.stringify(hello.baseline));
    assert.equal(linux.baseline.status, 'same', JSON.stringify(linux.baseline));

    const junit = readFileSync(path.join(r.out, 'junit.xml'), 'utf8');
    assert.match(junit, /<testsuite name="qemu-virt-aarch64\.virtual-board" tests="3" failures="0" errors="0"/);
  });

  it('calls the kernel without its initramfs a FAIL, through (?i)kernel panic', async () => {
    const r = await hil(['run', '--board', 'qemu-virt-aarch64', '--suite', 'virtual-board-failing']);
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    assert.equal(r.results.verdict, 'fail');
    const c = r.results.cases[0];
    assert.equal(c.verdict, 'fail');
    assert.equal(c.phase, 'guest');
    assert.match(
      c.reason,
      /^failure pattern "\(\?i\)kernel panic" matched: .*Kernel panic - not syncing: VFS: Unable to mount root fs/,
    );
    assert.ok(c.last_lines.length > 0);
    assert.match(readFileSync(path.join(r.out, 'junit.xml'), 'utf8'), /<failure type="fail" message="failure pattern/);
    assert.ok(existsSync(path.join(r.out, c.transcript, 'console.log')));
  });
});
