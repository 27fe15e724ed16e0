// `hil flash` as a user runs it, on a machine like the ones the tests run on: one with no
// USB bus. It must say so (and what to do), not report an empty device list as a missing
// board; a board file without [usb] and a bad --lba are configuration errors.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { deriveToml, hil, root, tmpDir } from '../helpers.js';

describe('hil flash', () => {
  const image = () => {
    const f = path.join(tmpDir(), 'u-boot.img');
    writeFileSync(f, Buffer.alloc(4096, 1));
    return f;
  };

  it("finds the board's USB, or says this host has none (exit 2)", async () => {
    const r = await hil(['flash', '--board', 'roc-rk3568-pc', '--image', image(), '--lba', '0x4000']);
    assert.equal(r.exitCode, 2, r.stdout + r.stderr);
    if (existsSync('/dev/bus/usb')) assert.match(r.stderr, /hil flash: roc-rk3568-pc \(USB 2207:350a\): no roc-rk3568-pc board \(2207:350a\) on this host's USB/);
    else
      assert.match(
        r.stderr,
        /^hil flash: roc-rk3568-pc \(USB 2207:350a\): this host has no USB bus \(\/dev\/bus\/usb is missing\): run on the lab host the boards' USB cables are plugged into/m,
      );
  });

  it('a board without [usb] and a --lba that is no sector are told before anything is touched (exit 3)', async () => {
    const noUsb = deriveToml(path.join(root, 'boards', 'qemu-virt-aarch64.toml'), () => {});
    const r = await hil(['flash', '--board', noUsb, '--image', image()]);
    assert.equal(r.exitCode, 3);
    assert.match(r.stderr, /board qemu-virt-aarch64 has no \[usb\] table: give its vid\/pid/);
    const withUsb = deriveToml(noUsb, (d) => (d.usb = { pid: 0x350a }));
    const bad = await hil(['flash', '--board', withUsb, '--image', image(), '--lba', 'sixty-four']);
    assert.equal(bad.exitCode, 3);
    assert.match(bad.stderr, /--lba sixty-four: give a sector number/);
  });
});
