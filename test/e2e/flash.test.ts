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

  it('--partition over fastboot on USB, on a host with no USB bus: said before the board is powered (exit 2)', async () => {
    const dir = tmpDir();
    const powered = path.join(dir, 'powered');
    const env = {
      BOARD_COMM_UART_DEV: '/dev/null',
      BOARD_COMM_UART_BAUD: '1500000',
      BOARD_POWER_RESET: `touch ${powered}`,
      BOARD_POWER_OFF: `touch ${powered}`,
      BOARD_DTB: '/dev/null',
      TFTP_DIR: dir,
      BOARD_COMM_NET_IFACE: 'lo',
    };
    const r = await hil(['flash', '--board', 'roc-rk3568-pc', '--image', image(), '--partition', 'uboot'], { env });
    if (existsSync('/dev/bus/usb')) return void assert.notEqual(r.exitCode, 0);
    assert.equal(r.exitCode, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /^hil flash: roc-rk3568-pc: this host has no USB bus \(\/dev\/bus\/usb is missing\).*; the board was not powered$/m);
    assert.equal(existsSync(powered), false, 'no power command ran');
  });
});
