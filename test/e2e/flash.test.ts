// `hil flash` as a user runs it, on a machine like the ones the tests run on: one with no
// USB bus. It must say so (and what to do), not report an empty device list as a missing
// board; a board file without [usb] and a bad --lba are configuration errors.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeLoader, writeLoaderFile } from '../../fixtures/usb/rockchip-device.js';
import { Lease } from '../../runner/lab/lease.js';
import { parseLoader } from '../../runner/usb/rockusb.js';
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
    if (existsSync('/dev/bus/usb'))
      assert.match(
        r.stderr,
        /hil flash: roc-rk3568-pc \(USB 2207:350a\): no roc-rk3568-pc board \(2207:350a\) on this host's USB/,
      );
    else
      assert.match(
        r.stderr,
        /^hil flash: roc-rk3568-pc \(USB 2207:350a\): this host has no USB bus \(\/dev\/bus\/usb is missing\): run on the lab host the boards' USB cables are plugged into/m,
      );
  });

  it('a board without [usb], a --lba that is no sector, a missing or empty file are told before anything is touched (exit 3)', async () => {
    const noUsb = deriveToml(path.join(root, 'boards', 'qemu-virt-aarch64.toml'), () => {});
    const r = await hil(['flash', '--board', noUsb, '--image', image()]);
    assert.equal(r.exitCode, 3);
    assert.match(r.stderr, /board qemu-virt-aarch64 has no \[usb\] table: give its vid\/pid/);
    const withUsb = deriveToml(noUsb, (d) => (d.usb = { pid: 0x350a }));
    const bad = await hil(['flash', '--board', withUsb, '--image', image(), '--lba', 'sixty-four']);
    assert.equal(bad.exitCode, 3);
    assert.match(bad.stderr, /--lba sixty-four: give a sector number/);
    // Files that are not there, or empty, are told before the board is touched.
    const missing = await hil(['flash', '--board', withUsb, '--image', '/no/such/u-boot.itb', '--lba', '64']);
    assert.equal(missing.exitCode, 3, missing.stderr);
    assert.match(missing.stderr, /--image \/no\/such\/u-boot\.itb: no such file/);
    const empty = path.join(tmpDir(), 'empty.img');
    writeFileSync(empty, '');
    const none = await hil([
      'flash',
      '--board',
      path.join(root, 'boards', 'qemu-virt-aarch64-fastboot.toml'),
      '--image',
      empty,
      '--partition',
      '0:1',
    ]);
    assert.equal(none.exitCode, 3, none.stderr);
    assert.match(none.stderr, /--image .*empty\.img is empty: nothing to flash/);
    assert.doesNotMatch(none.stdout, /U-Boot prompt/, 'the board was not powered');
    const noLoader = await hil(['flash', '--board', withUsb, '--image', image(), '--loader', '/no/loader.bin']);
    assert.equal(noLoader.exitCode, 3);
    assert.match(noLoader.stderr, /--loader \/no\/loader\.bin: no such file/);
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
    assert.match(
      r.stderr,
      /^hil flash: roc-rk3568-pc: this host has no USB bus \(\/dev\/bus\/usb is missing\).*; the board was not powered$/m,
    );
    assert.equal(existsSync(powered), false, 'no power command ran');
  });

  it('--write-loader: the loader written as an ID block at sector 64, from maskrom, on the board model as the USB backend', async () => {
    const dir = tmpDir();
    const log = path.join(dir, 'usb.json');
    const loader = writeLoaderFile(Buffer.alloc(3000, 1), Buffer.alloc(5000, 2), 'rk356x_spl_loader.bin');
    const withLoaderEntries = path.join(dir, 'rk356x_spl_loader.bin');
    const l = parseLoader(readFileSync(loader));
    writeFileSync(
      withLoaderEntries,
      makeLoader({
        entries: [
          ...l.entries.map((e) => ({ kind: e.kind, name: e.name, data: e.data })),
          { kind: 'loader' as const, name: 'FlashData', data: Buffer.alloc(4096, 3) },
          { kind: 'loader' as const, name: 'FlashBoot', data: Buffer.alloc(8192, 4) },
        ],
      }),
    );
    const board = deriveToml(path.join(root, 'boards', 'qemu-virt-aarch64.toml'), (d) => (d.usb = { pid: 0x350a }));
    const env = { HIL_USB_BACKEND: path.join(root, 'fixtures', 'usb', 'backend.mjs'), HIL_USB_MODEL_LOG: log };
    const r = await hil(['flash', '--board', board, '--loader', withLoaderEntries, '--write-loader'], { env });
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /flashed 14336 bytes to qemu-virt-aarch64 \(USB 2207:350a\): the loader \(ID block\) at sector 64, in/,
    );
    const seen = JSON.parse(readFileSync(log, 'utf8'));
    assert.deepEqual(
      seen.writes,
      [{ lba: 64, sectors: 4 + 8 + 16 }],
      'four header sectors, then FlashData and FlashBoot',
    );
    assert.deepEqual(seen.violations, []);
    const none = await hil(['flash', '--board', board]);
    assert.equal(none.exitCode, 3);
    assert.match(none.stderr, /give --image \(and --lba or --partition\), or --write-loader to write only the loader/);
  });

  it('a lab board another run holds is not flashed: the holder named, exit 2, nothing touched', async () => {
    const leases = tmpDir('hil-leases-');
    const held = await Lease.acquire('roc-rk3568-pc', { run: 'nightly-run-42', waitS: 0, log: () => {}, dir: leases });
    try {
      const r = await hil(['flash', '--board', 'roc-rk3568-pc', '--image', image(), '--lba', '0x4000'], {
        env: { HIL_LEASE_DIR: leases },
      });
      assert.equal(r.exitCode, 2, r.stdout + r.stderr);
      assert.match(r.stderr, /^hil flash: roc-rk3568-pc: .*held by run nightly-run-42.*; nothing was written$/m);
      assert.doesNotMatch(r.stderr + r.stdout, /USB bus|no roc-rk3568-pc board/, 'the USB was not even looked at');
    } finally {
      await held.release();
    }
  });
});
