// The other ways through a boot, on the real U-Boot: the Ctrl-C interrupt, a DTB of the
// case's own, each phase's timeout, and a failed load.
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { ensureVirtualDisk } from '../../runner/drivers/power/virtual-disk.js';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'smol-toml';
import { checkNoQemuLeft, deriveToml, helloCaseWith, helloImage, hil, root, tmpDir, virtualBoard } from '../helpers.js';

describe('boot phases on the virtual board', function () {
  checkNoQemuLeft();

  it('interrupts autoboot by sending Ctrl-C until a prompt appears', async () => {
    const board = deriveToml(virtualBoard, (d) => (d.uboot.interrupt = 'ctrl-c'));
    const r = await hil(['run', '--board', board, '--suite', helloCaseWith()]);
    assert.equal(r.exitCode, 0, r.stdout);
    const timed = readFileSync(path.join(r.out, 'hello', 'console.timed.log'), 'utf8');
    assert.match(timed, /## sending Ctrl-C until a prompt appears/);
    assert.doesNotMatch(timed, /autoboot countdown seen/);
  });

  it("loads the case's own DTB between kernel and initrd and boots Linux with it", async () => {
    const dir = tmpDir();
    // A real device tree for this machine, from QEMU itself, made with the board's own
    // arguments (with -bios the tree differs: it is the one U-Boot and the kernel expect).
    const args = (parse(readFileSync(virtualBoard, 'utf8')) as any).power.args as string[];
    const disk = ensureVirtualDisk(path.join(dir, 'sd.img'), 64);
    await execa(
      'qemu-system-aarch64',
      args.map((a) =>
        a === 'virt'
          ? `virt,dumpdtb=${path.join(dir, 'virt.dtb')}`
          : a.replace('{tftp_dir}', dir).replace('{disk}', disk),
      ),
    );
    const linux = path.join(root, 'suites', 'virtual-board', 'linux-shell.toml');
    const c = deriveToml(
      linux,
      (d) => {
        d.images = {
          kernel: path.join(root, 'fixtures/linux/out/Image'),
          initrd: path.join(root, 'fixtures/linux/out/initramfs.cpio.gz'),
          dtb: path.join(dir, 'virt.dtb'),
        };
        delete d.qemu_case; // a copy elsewhere; the baseline is not under test here
      },
      dir,
    );
    const r = await hil(['run', '--board', 'qemu-virt-aarch64', '--suite', c]);
    assert.equal(r.exitCode, 0, r.stdout);
    const res = r.results.cases[0];
    assert.deepEqual(
      res.transfers.map((t: any) => [t.role, t.verified]),
      [
        ['kernel', true],
        ['dtb', true],
        ['initrd', true],
      ],
    );
    const timed = readFileSync(path.join(r.out, res.transcript, 'console.timed.log'), 'utf8');
    assert.match(timed, /## enter: booti \$\{kernel_addr_r\} \$\{ramdisk_addr_r\}:0x[0-9a-f]+ 0x47000000/);
    assert.match(timed, /Flattened Device Tree blob at 47000000/);
  });

  it('a guest that prints nothing after the hand-off: timeout in the boot phase', async () => {
    const dir = tmpDir();
    const silent = path.join(dir, 'silent.Image');
    copyFileSync(helloImage, silent);
    const bytes = readFileSync(silent);
    bytes[bytes.indexOf('Hello')] = 0; // the message now ends before it starts
    writeFileSync(silent, bytes);
    const board = deriveToml(virtualBoard, (d) => (d.timeouts.first_output = 2));
    const r = await hil(['run', '--board', board, '--suite', helloCaseWith((d) => (d.images.kernel = silent), dir)]);
    assert.equal(r.exitCode, 1, r.stdout);
    const c = r.results.cases[0];
    assert.equal(c.verdict, 'timeout');
    assert.equal(c.phase, 'boot');
    assert.equal(c.reason, 'boot: the guest printed nothing after the hand-off within 2 s');
    assert.ok(
      c.last_lines.some((l: string) => /Starting kernel/.test(l)),
      'the last lines show where it stopped',
    );
  });

  it('a guest that never decides: timeout of the case, counted from the boot command as ostool counts it, with its last lines', async () => {
    const r = await hil([
      'run',
      '--board',
      'qemu-virt-aarch64',
      '--suite',
      helloCaseWith((d) => Object.assign(d, { success_regex: ['^never printed$'], timeout: 3 })),
    ]);
    assert.equal(r.exitCode, 1, r.stdout);
    const c = r.results.cases[0];
    assert.equal(c.verdict, 'timeout');
    assert.equal(c.phase, 'guest');
    assert.match(
      c.reason,
      /^guest: no verdict \(the case timeout, counted from the boot command, ran out\) within 3 s; last output [\d.]+ s ago: "hil-hello: bare-metal guest done"$/,
    );
    // The case's clock starts at the boot command: boot and guest together take at least its
    // 3 s (a timer never fires early; on a busy machine they may take longer), and what came
    // before it (power, U-Boot, the load) is on no clock of the case's.
    const onClock = c.phases.boot + c.phases.guest;
    assert.ok(onClock >= 2.99, `boot and guest together take the case's 3 s (took ${onClock})`);
    assert.ok(
      c.phases.power + c.phases.uboot + c.phases.load > 0 &&
        c.phases.total >= onClock + c.phases.power + c.phases.uboot + c.phases.load - 0.01,
      "power, U-Boot and the load came before the case's clock",
    );
    assert.ok(c.last_lines.includes('hil-hello: bare-metal guest done'));
  });

  it('a TFTP server without the file: lab error in the load phase, naming image and server', async () => {
    const empty = tmpDir();
    const board = deriveToml(virtualBoard, (d) => {
      d.power.args = d.power.args.map((a: string) => a.replace('{tftp_dir}', empty));
      d.load.methods = ['tftp']; // no fallback: the failure itself is under test
    });
    const r = await hil(['run', '--board', board, '--suite', helloCaseWith()]);
    assert.equal(r.exitCode, 2, r.stdout);
    const c = r.results.cases[0];
    assert.equal(c.phase, 'load');
    assert.match(
      c.reason,
      /^TFTP load of the kernel hello\.Image \(server 10\.0\.2\.2, file hil-[\w.-]+\/kernel-hello\.Image\) failed: .*File not found/,
    );
  });
});
