// The riscv64 virtual lab board, for real: Debian's U-Boot (S-mode) on Debian's OpenSBI in
// qemu-system-riscv64, its UART on a pty; the riscv64 hello loaded over TFTP and over
// YMODEM, booted with booti, and compared with its committed QEMU baseline.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { checkNoQemuLeft, deriveToml, hil, root, tmpDir } from '../helpers.js';

const suite = path.join(root, 'suites/virtual-board-riscv64');
const image = path.join(root, 'fixtures/riscv64-hello/hello.Image');

/** hello.toml with absolute paths, changed, in a folder of its own. */
const helloWith = (change: (d: any) => void) =>
  deriveToml(path.join(suite, 'hello.toml'), (d) => {
    d.images.kernel = image;
    d.qemu_case = path.join(suite, 'qemu/qemu-riscv64.toml');
    change(d);
  });

describe('riscv64 virtual lab board (real U-Boot on OpenSBI in QEMU)', function () {
  checkNoQemuLeft();

  it('boots the riscv64 hello over TFTP with booti, and it is the same as its committed QEMU baseline', async () => {
    const r = await hil(['run', '--board', 'qemu-virt-riscv64', '--suite', 'virtual-board-riscv64']);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const c = r.results.cases[0];
    assert.equal(c.verdict, 'pass');
    assert.equal(c.matched.line, 'hil-hello: riscv64 bare-metal guest done');
    const t = c.transfers[0];
    const bytes = readFileSync(image);
    assert.deepEqual([t.role, t.method, t.bytes, t.verified], ['kernel', 'tftp', bytes.length, true]);
    assert.equal(t.crc32, (crc32(bytes) >>> 0).toString(16).padStart(8, '0'));
    const log = readFileSync(path.join(r.out, c.transcript, 'console.log'), 'latin1');
    assert.match(log, /OpenSBI v\d+\.\d+/, "Debian's OpenSBI runs first");
    assert.match(log, /U-Boot 2023\.01/);
    // booti moves a RISC-V Image to the start of RAM + its text_offset before it jumps.
    assert.match(log, /Moving Image from 0x84000000 to 0x80200000/);
    assert.match(log, /^Hello, world!\r?$/m);
    // Committed, recorded on another machine: the same bytes give the same run.
    assert.equal(c.baseline.status, 'same', JSON.stringify(c.baseline));
    assert.deepEqual(c.baseline.missing_markers, []);
    assert.deepEqual(c.baseline.new_trouble, []);
    assert.ok(c.phases.total < 60, `a riscv64 run takes seconds (${c.phases.total} s)`);
  });

  it('boots it over YMODEM (loady) too', async () => {
    const r = await hil([
      'run',
      '--board',
      'qemu-virt-riscv64',
      '--suite',
      helloWith((d) => (d.load_method = 'ymodem')),
    ]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const c = r.results.cases[0];
    assert.equal(c.transfers[0].method, 'ymodem');
    assert.equal(c.transfers[0].verified, true);
    assert.equal(c.baseline.status, 'same', JSON.stringify(c.baseline));
  });

  it('names the trap of an image without a RISC-V Image header: U-Boot refuses it, one line, a lab error', async () => {
    const r = await hil([
      'run',
      '--board',
      'qemu-virt-riscv64',
      '--suite',
      helloWith((d) => (d.images.kernel = path.join(root, 'fixtures/hello/hello.Image'))),
    ]);
    assert.equal(r.exitCode, 2, r.stdout + r.stderr);
    assert.match(
      r.results.cases[0].reason,
      /^U-Boot did not boot: "booti \$\{kernel_addr_r\} - \$\{fdtcontroladdr\}" returned to the prompt after "Bad Linux RISCV Image magic!"/,
    );
  });

  it('records and checks the riscv64 baseline under plain QEMU (OpenSBI as -bios default)', async () => {
    const store = tmpDir();
    const out = tmpDir();
    const rec = await hil([
      'baseline',
      'record',
      '--suite',
      'virtual-board-riscv64',
      '--baselines',
      store,
      '--out',
      out,
    ]);
    assert.equal(rec.exitCode, 0, rec.stdout + rec.stderr);
    const text = readFileSync(path.join(store, 'virtual-board-riscv64/qemu/qemu-riscv64.baseline'), 'utf8');
    assert.match(
      text,
      /^# command: qemu-system-riscv64 -M virt -m 512 -nographic -kernel \$\{workspace\}\/fixtures\/riscv64-hello\/hello\.Image -nic none$/m,
    );
    assert.match(text, /^\s+\d+\.\d{3} {2}hil-hello: riscv64 bare-metal guest done$/m);
    // The committed baseline, checked against a fresh run on this machine.
    const check = await hil(['baseline', 'check', '--suite', 'virtual-board-riscv64', '--out', tmpDir()]);
    assert.equal(check.exitCode, 0, check.stdout + check.stderr);
    assert.match(
      check.stdout,
      /^hello: same as the QEMU baseline \(2 marker\(s\) in order and in time; 0 other line\(s\) missing, 0 new\)$/m,
    );
  });
});
