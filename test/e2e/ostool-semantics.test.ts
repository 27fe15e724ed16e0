// ostool's meaning of a case's keys, on real U-Boot and a real Linux guest
// (suites/ostool-semantics): a prompt that never gets a newline decides the case, as
// PhytiumPi's `phytiumpi login:` does; a shell_prefix that is only part of the prompt is
// found anywhere in the output, as OrangePi's `orangepi@orangepi5plus:~` is; the guests'
// AXTEST_RESULT records and *_RESULT metric lines; a FIT image booted with bootm at the
// addresses the real cases give.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { checkNoQemuLeft, deriveToml, hil, root } from '../helpers.js';

const suite = path.join(root, 'suites', 'ostool-semantics');

describe("ostool's meaning of a case, on the virtual board", function () {
  checkNoQemuLeft();
  let r: Awaited<ReturnType<typeof hil>>;
  const byName = (n: string) => r.results.cases.find((c: any) => c.name === `qemu-virt-aarch64-${n}`);

  before(async () => {
    r = await hil(['run', '--board', 'qemu-virt-aarch64', '--suite', 'ostool-semantics']);
  });

  it('runs the four cases, named by their board files as TGOSKits names them, and passes them', () => {
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.deepEqual(
      r.results.cases.map((c: any) => c.name).sort(),
      ['contained', 'fit', 'login', 'records'].map((n) => `qemu-virt-aarch64-${n}`),
    );
  });

  it('a prompt with no newline decides the case: the line still being printed matched', () => {
    const c = byName('login');
    assert.equal(c.verdict, 'pass');
    assert.equal(c.matched.line, 'root@hil-guest:~#');
    const raw = readFileSync(path.join(r.out, c.transcript, 'console.log'), 'latin1');
    const after = raw.slice(raw.lastIndexOf('root@hil-guest:~# '));
    assert.ok(!after.includes('\n'), 'the prompt never got its newline, and the case passed on it');
  });

  it('a shell_prefix that is only part of the prompt is found, and the command typed after it', () => {
    const c = byName('contained');
    assert.equal(c.matched.line, 'test pass');
    const timed = readFileSync(path.join(r.out, c.transcript, 'console.timed.log'), 'utf8');
    assert.match(timed, /## shell prompt "root@hil-guest:~" seen: typing "pwd && echo 'test pass'"/);
    assert.match(timed, /^\[\s*[\d.]+\] \/$/m, "the command's own output (pwd)");
  });

  it("the guest's test records are sub-results, in results.json and JUnit; *_RESULT lines are metrics", () => {
    const c = byName('records');
    assert.deepEqual(
      c.records.map((x: any) => [x.case_id, x.status, x.message]),
      [
        ['hil.smoke', 'pass', 'smoke ok'],
        ['hil.optional', 'skip', 'no device'],
      ],
    );
    assert.deepEqual(c.records[0].details, { value: 1 });
    const m = Object.fromEntries(c.metrics.map((x: any) => [x.name, x.value]));
    assert.deepEqual(m, {
      'VCPU_PERF_RESULT.blocks_per_second': 365334.2,
      'VCPU_PERF_RESULT.baseline': 364822,
      'VCPU_PERF_RESULT.threshold': 328339.8,
    });
    const junit = readFileSync(path.join(r.out, 'junit.xml'), 'utf8');
    assert.match(
      junit,
      /<testcase classname="qemu-virt-aarch64\.ostool-semantics\.qemu-virt-aarch64-records" name="hil\.smoke"/,
    );
    assert.match(
      junit,
      /<testcase classname="qemu-virt-aarch64\.ostool-semantics\.qemu-virt-aarch64-records" name="hil\.optional"[^>]*>\s*<skipped/,
    );
  });

  it("a FIT image with the case's kernel_load_addr / fit_load_addr / bootm_addr, booted by bootm", () => {
    const c = byName('fit');
    assert.deepEqual(
      c.transfers.map((t: any) => [t.role, t.verified]),
      [['fit', true]],
    );
    const timed = readFileSync(path.join(r.out, c.transcript, 'console.timed.log'), 'utf8');
    assert.match(timed, /## FIT image .*image\.fit: kernel at 0x40400000, loaded at 0x42000000/);
    assert.match(timed, /=> bootm 0x42000000#conf-1 /);
    assert.match(timed, /Loading kernel from FIT Image at 42000000/);
  });

  it("a guest's failing test record fails the case, naming the test", async () => {
    const theCase = deriveToml(path.join(suite, 'board-qemu-virt-aarch64-records.toml'), (d) => {
      d.shell_init_cmd = String.raw`printf 'AXTEST_RESULT_BEGIN\n{"case_id":"hil.vcpu","status":"fail","message":"vcpu 1 did not start"}\nAXTEST_RESULT_END\nrecords done\n'`;
      for (const k of ['kernel', 'initrd'] as const)
        d.images[k] = path.join(root, 'fixtures/linux/out', k === 'kernel' ? 'Image' : 'initramfs.cpio.gz');
    });
    const f = await hil(['run', '--board', 'qemu-virt-aarch64', '--suite', theCase]);
    assert.equal(f.exitCode, 1, f.stdout + f.stderr);
    const c = f.results.cases[0];
    assert.equal(c.verdict, 'fail');
    assert.equal(c.phase, 'guest');
    assert.equal(c.reason, "the guest's test hil.vcpu reported fail: vcpu 1 did not start");
    assert.match(readFileSync(path.join(f.out, 'junit.xml'), 'utf8'), /name="hil\.vcpu"[^>]*>\s*<failure/);
  });
});
