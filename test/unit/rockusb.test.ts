// Rockchip's USB protocol, the host side, against a model of the board written from
// rkdeveloptool (fixtures/usb/rockchip-device.ts), byte for byte: CRCs against catalogue
// and bitwise values, the maskrom padding rules, CBW fields as rkdeveloptool's structs lay
// them out, a loader file's header and entries; and the USB layer's choice of device.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  makeLoader,
  RockchipDeviceModel,
  rkCrc32Bitwise,
  writeLoaderFile,
} from '../../fixtures/usb/rockchip-device.js';
import {
  crcCcitt,
  downloadBoot,
  encodeCbw,
  maskromPieces,
  OP,
  parseLoader,
  rc4Sector,
  RockUsb,
  rkCrc32,
} from '../../runner/usb/rockusb.js';
import { boardUsbSchema, flashImage, recoverOverUsb } from '../../runner/usb/flash.js';
import { crc16, makeIdBlock } from '../../runner/usb/idblock.js';
import { pick, requireUsbBus } from '../../runner/usb/usb.js';
import { corpusRoot } from '../corpus/corpus.js';
import { tmpDir } from '../helpers.js';

describe('rockusb: checksums and the maskrom padding rules', () => {
  it('CRC-CCITT is CRC-16/CCITT-FALSE (check value 0x29B1); the loader CRC-32 is polynomial 0x04C10DB7', () => {
    assert.equal(crcCcitt(Buffer.from('123456789')), 0x29b1);
    const data = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 37) & 255));
    assert.equal(rkCrc32(data), rkCrc32Bitwise(data));
    assert.notEqual(rkCrc32(Buffer.from('123456789')), 0xcbf43926, "not zlib's CRC-32 (its check value)");
  });

  it('sends 4096-byte pieces, the CRC last, big endian; pads 4095 by one byte; ends 4094 with a 1-byte request', () => {
    const lengths = (n: number) => {
      const { pieces, pend } = maskromPieces(Buffer.alloc(n, 0xab));
      return { sizes: pieces.map((p) => p.length), pend };
    };
    assert.deepEqual(lengths(1000), { sizes: [1002], pend: false });
    assert.deepEqual(lengths(4096), { sizes: [4096, 2], pend: false });
    assert.deepEqual(lengths(4095), { sizes: [4096, 2], pend: false }, '4095 + a zero byte + CRC');
    assert.deepEqual(lengths(4094), { sizes: [4096], pend: true }, 'CRC fills the piece: a 1-byte request ends it');
    assert.deepEqual(lengths(8190), { sizes: [4096, 4096], pend: true });
    const { pieces } = maskromPieces(Buffer.from('123456789'));
    assert.deepEqual([...pieces[0]!.subarray(9)], [0x29, 0xb1]);
    const padded = maskromPieces(Buffer.alloc(4095, 1)).pieces;
    assert.equal(padded[0]![4095], 0, 'the pad byte is zero, and counted in the CRC');
  });

  it("RC4 is rkdeveloptool's P_RC4, the same as OpenSSL's RC4 with its fixed key, per sector", () => {
    const sector = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 13) & 255));
    const key = '7c4e0304550509072d2c7b38170d1711'; // P_RC4's key: 124,78,3,4,85,5,9,7,45,44,123,56,23,13,23,17
    const openssl = execFileSync('openssl', ['enc', '-rc4', '-K', key, '-provider', 'legacy', '-provider', 'default'], {
      input: sector,
    });
    assert.deepEqual(rc4Sector(sector), openssl);
    assert.deepEqual(rc4Sector(rc4Sector(sector)), sector, 'its own inverse');
  });
});

describe('rockusb: loader files', () => {
  const ddr = Buffer.alloc(5000, 0x11);
  const plug = Buffer.alloc(4094, 0x22);
  const file = makeLoader({
    entries: [
      { kind: 0x471, name: 'rk3568_ddr_1560MHz', data: ddr, delayMs: 1 },
      { kind: 0x472, name: 'rk356x_usbplug', data: plug },
      { kind: 'loader', name: 'FlashData', data: ddr },
      { kind: 'loader', name: 'FlashBoot', data: Buffer.alloc(300, 0x33) },
    ],
  });

  it('reads the header and the three tables of entries, with names, data and delays', () => {
    const l = parseLoader(file);
    assert.equal(l.tag, 'BOOT');
    assert.equal(l.released, '2026-12-02 03:04:05');
    assert.equal(l.rc4, true);
    assert.deepEqual(
      l.entries.map((e) => [e.kind, e.name, e.data.length, e.delayMs]),
      [
        [0x471, 'rk3568_ddr_1560MHz', 5000, 1],
        [0x472, 'rk356x_usbplug', 4094, 0],
        ['loader', 'FlashData', 5000, 0],
        ['loader', 'FlashBoot', 300, 0],
      ],
    );
    assert.deepEqual(l.entries[0]!.data, ddr);
  });

  it('refuses a damaged file, a cut one and one that is not a loader, saying which', () => {
    const damaged = Buffer.from(file);
    damaged[200]! ^= 1;
    assert.throws(
      () => parseLoader(damaged, 'rk3568.bin'),
      /rk3568\.bin is not a Rockchip loader file: its CRC-32 is 0x[0-9a-f]+, its bytes give 0x[0-9a-f]+/,
    );
    assert.throws(() => parseLoader(file.subarray(0, 50)), /50 bytes is too short/);
    assert.throws(() => parseLoader(Buffer.concat([Buffer.from('MZ\0\0'), file.subarray(4)])), /starts with "MZ/);
  });

  it('maskrom download into the board model: both blobs arrive whole (CRC checked there), delays kept, the board in loader mode', async () => {
    const board = new RockchipDeviceModel();
    const slept: number[] = [];
    await downloadBoot(board, parseLoader(file), { sleep: async (ms) => void slept.push(ms) });
    assert.deepEqual(board.violations, []);
    assert.deepEqual(
      board.blobs.map((b) => [b.index, b.data.length]),
      [
        [0x471, 5000],
        [0x472, 4094],
      ],
    );
    assert.deepEqual(board.blobs[0]!.data, ddr);
    assert.deepEqual(slept, [1, 1000]);
    assert.equal(board.mode, 'loader');
  });

  it('a blob whose CRC the board refuses is a lab error naming the step', async () => {
    const board = new RockchipDeviceModel();
    const broken = { ...parseLoader(file) };
    const link = {
      ...board,
      name: board.name,
      controlOut: async (r: number, v: number, i: number, d: Buffer) =>
        board.controlOut(r, v, i, i === 0x471 ? Buffer.from(d).fill(0, 0, 1) : d),
    };
    await assert.rejects(
      downloadBoot(link as never, broken, { sleep: async () => {} }),
      /maskrom download of rk3568_ddr_1560MHz \(0x471, 5000 bytes\): LIBUSB_ERROR_PIPE \(blob 0x471: CRC-CCITT/,
    );
  });
});

describe("rockusb: Rockchip's own loader file (rkbin's rk1806_loader_v1.04.105.bin, test/corpus/rkbin)", () => {
  const real = readFileSync(path.join(corpusRoot, 'rkbin', 'img', 'rk1x', 'rk1806_loader_v1.04.105.bin'));

  it('parses it as rkdeveloptool does: its CRC-32 holds, signed, RC4 off, the usbplug after two DDR-stage blobs', () => {
    const l = parseLoader(real, 'rk1806_loader_v1.04.105.bin');
    assert.equal(l.tag, 'BOOT');
    assert.equal(l.released, '2019-12-10 10:51:35');
    assert.equal(l.signed, true, "sign flag 'S'");
    assert.equal(l.rc4, false, 'ucRc4Flag set: RC4 off');
    assert.deepEqual(
      l.entries.map((e) => [e.kind, e.name, e.data.length, e.delayMs]),
      [
        [0x471, 'UsbDataVRL.bin', 2048, 1],
        [0x471, 'rk1808_ddr_933MHz_v', 24576, 1],
        [0x472, 'rk1808_usbplug_v1.0', 118784, 0],
        ['loader', 'FlashData', 26624, 0],
        ['loader', 'FlashBoot', 116736, 0],
      ],
    );
    // The bitwise CRC of the fixture agrees with the file's own, as the runner's table one does.
    assert.equal(rkCrc32Bitwise(real.subarray(0, real.length - 4)), real.readUInt32LE(real.length - 4));
    const damaged = Buffer.from(real);
    damaged[0x1000]! ^= 0x80;
    assert.throws(() => parseLoader(damaged, 'rk1806.bin'), /rk1806\.bin is not a Rockchip loader file: its CRC-32 is/);
  });

  it('downloads it into the board model from maskrom: the three blobs whole, 4096-byte pieces CRC-checked there, the delays kept', async () => {
    const board = new RockchipDeviceModel();
    const slept: number[] = [];
    const l = parseLoader(real);
    await downloadBoot(board, l, { sleep: async (ms) => void slept.push(ms) });
    assert.deepEqual(board.violations, []);
    assert.deepEqual(
      board.blobs.map((b) => [b.index, b.data.length]),
      [
        [0x471, 2048],
        [0x471, 24576],
        [0x472, 118784],
      ],
    );
    for (const [i, e] of l.entries.filter((x) => x.kind !== 'loader').entries())
      assert.deepEqual(board.blobs[i]!.data, e.data, e.name);
    assert.deepEqual(slept.slice(0, 2), [1, 1]);
    assert.equal(board.mode, 'loader');
  });
});

describe('rockusb: loader-mode commands', () => {
  it('lays out CBWs as rkdeveloptool does: signature, tag, length, direction, command length, big-endian LBA and count', () => {
    const cbw = encodeCbw({
      tag: 0x11223344,
      opcode: OP.WRITE_LBA,
      lba: 0x40,
      sectors: 0x80,
      transferLength: 0x80 * 512,
    });
    assert.equal(
      cbw.toString('hex'),
      [
        '55534243',
        '44332211',
        '00000100',
        '00',
        '00',
        '0a',
        '15',
        '00',
        '00000040',
        '00',
        '0080',
        '00000000000000',
      ].join(''),
    );
    const tur = encodeCbw({ tag: 1, opcode: OP.TEST_UNIT_READY, transferLength: 0 });
    assert.equal(tur.subarray(12, 16).toString('hex'), '80000600');
  });

  it('talks to a board in loader mode: chip and flash info, write, read back, erase, storage, reset; no CBW the board finds wrong', async () => {
    const board = new RockchipDeviceModel({ mode: 'loader', sectors: 4096 });
    const rk = new RockUsb(board);
    await rk.testUnitReady();
    assert.equal((await rk.chipInfo()).chip, '3568');
    assert.equal((await rk.flashInfo()).sectors, 4096);
    const image = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) & 255));
    const seen: number[] = [];
    await rk.writeLba(0x40, image, { progress: (n) => seen.push(n) });
    assert.equal(seen.at(-1), image.length);
    const back = await rk.readLba(0x40, Math.ceil(image.length / 512));
    assert.deepEqual(back.subarray(0, image.length), image);
    assert.ok(
      back.subarray(image.length).every((b) => b === 0),
      'the last sector is padded with zeros',
    );
    await rk.eraseLba(0x40, 1);
    assert.ok((await rk.readLba(0x40, 1)).every((b) => b === 0xff));
    await rk.changeStorage(1);
    await rk.reset();
    assert.equal(board.resets, 1);
    assert.deepEqual(board.violations, []);
    await assert.rejects(rk.changeStorage(7), /CHANGE_STORAGE: the board reported failure \(CSW status 1\)/);
  });

  it('a board still in maskrom answers no command: the error says so', async () => {
    const rk = new RockUsb(new RockchipDeviceModel({ mode: 'maskrom' }));
    await assert.rejects(
      rk.testUnitReady(),
      /TEST_UNIT_READY: LIBUSB_ERROR_PIPE \(a maskrom board has no bulk endpoints in use\)/,
    );
  });
});

describe('the USB layer', () => {
  it('tells two identical boards apart by their port path, and says what it saw when it cannot choose', () => {
    const found = [
      { vid: 0x2207, pid: 0x350a, path: '1-2.3' },
      { vid: 0x2207, pid: 0x350a, path: '1-2.4' },
      { vid: 0x0403, pid: 0x6001, path: '1-1' },
    ];
    assert.equal(pick(found, { vid: 0x2207, pid: 0x350a, path: '1-2.4' }, 'RK3568 board').path, '1-2.4');
    assert.throws(
      () => pick(found, { vid: 0x2207, pid: 0x350a }, 'RK3568 board'),
      /2 RK3568 boards \(2207:350a\) are plugged in, at 1-2\.3, 1-2\.4: say which with the board file's usb_path/,
    );
    assert.throws(
      () => pick(found, { vid: 0x2207, pid: 0x350b }, 'RK3588 board'),
      /no RK3588 board \(2207:350b\) on this host's USB: seen 2207:350a at 1-2\.3, 2207:350a at 1-2\.4, 0403:6001 at 1-1/,
    );
    assert.equal(pick(found, { vid: 0x2207, pid: [0x350a, 0x350b], path: '1-2.3' }, 'Rockchip board').pid, 0x350a);
  });

  it("loads node-usb's prebuilt libusb binding (major 2) on this Node, which lists this host's devices", async () => {
    const usb = await import('usb');
    assert.match((await import('usb/package.json', { with: { type: 'json' } })).default.version, /^2\./);
    const list = usb.getDeviceList();
    assert.ok(Array.isArray(list));
    if (!existsSync('/dev/bus/usb')) assert.equal(list.length, 0, 'no bus, no devices: hence requireUsbBus says why');
  });

  it('on a host with no USB bus, says so instead of finding nothing', () => {
    if (existsSync('/dev/bus/usb')) assert.doesNotThrow(() => requireUsbBus());
    else
      assert.throws(
        () => requireUsbBus(),
        /this host has no USB bus \(\/dev\/bus\/usb is missing\): run on the lab host/,
      );
  });
});

describe('hil flash, the flow (against the board model)', () => {
  const file = () => {
    const f = path.join(tmpDir(), 'image.bin');
    writeFileSync(f, Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 11) & 255)));
    return f;
  };
  const loaderFile = () => writeLoaderFile(Buffer.alloc(4095, 1), Buffer.alloc(9000, 2), 'rk3568_spl_loader.bin');

  it('from maskrom: the loader first, then the image written at its sector, read back, and the board reset', async () => {
    const board = new RockchipDeviceModel({ mode: 'maskrom', sectors: 4096 });
    const image = file();
    const said: string[] = [];
    const r = await flashImage(async () => board, {
      image,
      lba: 64,
      loader: loaderFile(),
      storage: 1,
      log: (m) => said.push(m),
      sleep: async () => {},
    });
    assert.equal(r.bytes, 70_000);
    assert.deepEqual(
      board.blobs.map((b) => b.index),
      [0x471, 0x472],
    );
    assert.deepEqual(board.storage.subarray(64 * 512, 64 * 512 + 70_000), readFileSync(image));
    assert.equal(board.resets, 1);
    assert.deepEqual(board.violations, []);
    assert.ok(said.includes('read back: the same'));
  });

  it('a write that does not hold is caught by the read back; an image past the end of the storage is refused before writing', async () => {
    const board = new RockchipDeviceModel({ mode: 'loader', sectors: 4096 });
    const forgetful = Object.assign(Object.create(board), {
      bulkIn: async (n: number) => {
        const b = await board.bulkIn(n);
        if (n > 13) b[0] ^= 0xff; // the storage returns a flipped byte
        return b;
      },
    });
    await assert.rejects(
      flashImage(async () => forgetful, { image: file(), lba: 0, log: () => {} }),
      /read back differs from image\.bin in sectors 0\.\.127: the write did not hold/,
    );
    const small = new RockchipDeviceModel({ mode: 'loader', sectors: 100 });
    await assert.rejects(
      flashImage(async () => small, { image: file(), lba: 0, log: () => {} }),
      /image\.bin needs sectors 0\.\.136, the storage has 100/,
    );
    assert.equal(small.cbws.filter((c) => c[15] === 0x15).length, 0, 'nothing was written');
  });
});

describe('rockusb: the loader written as an ID block (rkdeveloptool ul)', () => {
  const key = '7c4e0304550509072d2c7b38170d1711';
  const openRc4 = (b: Buffer) =>
    execFileSync('openssl', ['enc', '-rc4', '-K', key, '-provider', 'legacy', '-provider', 'default'], { input: b });
  /** A loader entry as boot_merger stores it (writeFile with fix): padded to 512, then to
   * 2048, and P_RC4'd 512 bytes at a time. */
  const merged = (plain: Buffer) => {
    const padded = Buffer.alloc(Math.ceil((Math.ceil(plain.length / 512) * 512) / 2048) * 2048);
    plain.copy(padded);
    return Buffer.concat(
      Array.from({ length: padded.length / 512 }, (_, i) => rc4Sector(padded.subarray(i * 512, (i + 1) * 512))),
    );
  };
  const flashData = Buffer.concat([Buffer.from('RK33'), Buffer.alloc(2996, 0x5a)]);
  const flashBoot = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7) & 255));
  const loaderOf = (extra: { kind: 'loader'; name: string; data: Buffer }[] = []) =>
    makeLoader({
      rc4Off: true, // boot_merger's default: rc4Flag 1
      entries: [
        { kind: 0x471, name: 'rk3399_ddr', data: Buffer.alloc(3000, 3) },
        { kind: 0x472, name: 'rk3399_usbplug', data: Buffer.alloc(5000, 4) },
        ...extra,
        { kind: 'loader', name: 'FlashData', data: merged(flashData) },
        { kind: 'loader', name: 'FlashBoot', data: merged(flashBoot) },
      ],
    });

  it("CRC_16 is CRC-16/XMODEM (the catalogue's check value 0x31C3)", () => {
    assert.equal(crc16(Buffer.from('123456789')), 0x31c3);
  });

  it("makes the block U-Boot's own mkimage reads as a Rockchip SD/MMC boot image, every field as rkdeveloptool sets it", () => {
    const idb = makeIdBlock(parseLoader(loaderOf())).data;
    const f = path.join(tmpDir(), 'idb.img');
    writeFileSync(f, idb);
    const listed = execFileSync('dumpimage', ['-l', f], { encoding: 'utf8' });
    assert.match(listed, /Image Type:\s+Rockchip RK33 \(SD\/MMC\) boot image/);
    assert.match(listed, /Init Data Size: 4096 bytes/);
    assert.match(listed, /Boot Data Size: 6144 bytes/);
    // Sector 0 and 2, decrypted with OpenSSL's RC4.
    const s0 = openRc4(idb.subarray(0, 512));
    assert.deepEqual(
      [
        s0.readUInt32LE(0),
        s0.readUInt32LE(8),
        s0.readUInt16LE(12),
        s0.readUInt16LE(14),
        s0.readUInt16LE(506),
        s0.readUInt16LE(508),
      ],
      [0x0ff0aa55, 1, 4, 4, 8, 20],
    );
    assert.equal(
      idb.readUInt32LE(512 + 10),
      0x38324b52,
      'sector 1 is not scrambled: its chip tag "RK28" reads plainly',
    );
    const s2 = openRc4(idb.subarray(1024, 1536));
    assert.equal(s2.toString('latin1', 491, 493), 'VC');
    assert.equal(s2.toString('latin1', 506, 509), 'CRC');
    assert.equal(s2.readUInt16LE(494), crc16(s0));
    assert.equal(s2.readUInt16LE(496), crc16(idb.subarray(512, 1024)));
    assert.equal(s2.readUInt32LE(498), rkCrc32Bitwise(idb.subarray(2048, 2048 + 20 * 512)));
    assert.deepEqual(idb.subarray(2048, 2048 + flashData.length), flashData, 'FlashData in the clear at sector 4');
    assert.deepEqual(
      idb.subarray((4 + 8) * 512, (4 + 8) * 512 + flashBoot.length),
      flashBoot,
      'FlashBoot after it, at its 2 KiB boundary',
    );
  });

  it("makes the block of rkbin's own RK1806 loader: the boot ROM's tag, its sizes, the FlashData's RSAK header in the clear", () => {
    const real = readFileSync(path.join(corpusRoot, 'rkbin', 'img', 'rk1x', 'rk1806_loader_v1.04.105.bin'));
    const idb = makeIdBlock(parseLoader(real)).data;
    assert.equal(idb.length, (4 + 52 + 228) * 512);
    const s0 = openRc4(idb.subarray(0, 512));
    assert.deepEqual(
      [s0.readUInt32LE(0), s0.readUInt32LE(8), s0.readUInt16LE(506), s0.readUInt16LE(508)],
      [0x0ff0aa55, 1, 52, 280],
    );
    assert.equal(idb.toString('latin1', 2048, 2052), 'RSAK');
  });

  it('hil flash --write-loader: from maskrom, the ID block at sector 64 and the image at its sector; the newer block only where the board says it takes one', async () => {
    const loader = path.join(tmpDir(), 'rk3399_loader.bin');
    writeFileSync(loader, loaderOf());
    const board = new RockchipDeviceModel({ mode: 'maskrom', sectors: 32768 });
    const image = path.join(tmpDir(), 'u-boot.itb');
    writeFileSync(image, Buffer.alloc(3000, 0x77));
    await flashImage(async () => board, {
      image,
      lba: 0x4000,
      loader,
      writeLoader: true,
      log: () => {},
      sleep: async () => {},
    });
    const idb = makeIdBlock(parseLoader(readFileSync(loader))).data;
    assert.deepEqual(board.storage.subarray(64 * 512, 64 * 512 + idb.length), idb);
    assert.deepEqual(board.storage.subarray(0x4000 * 512, 0x4000 * 512 + 3000), Buffer.alloc(3000, 0x77));
    assert.deepEqual(board.violations, []);
    // A loader with a FlashHead makes the newer block: refused by a board that does not take it.
    const head = Buffer.concat([Buffer.from('LDR '), Buffer.alloc(2044, 9)]);
    const newer = path.join(tmpDir(), 'rk3588_loader.bin');
    writeFileSync(newer, loaderOf([{ kind: 'loader', name: 'FlashHead', data: merged(head) }]));
    const old = new RockchipDeviceModel({ mode: 'maskrom', sectors: 32768 });
    await assert.rejects(
      flashImage(async () => old, { lba: 0, loader: newer, writeLoader: true, log: () => {}, sleep: async () => {} }),
      /the board cannot take the newer ID block rk3588_loader\.bin makes \(READ_CAPABILITY byte 1 bit 0 is clear\)/,
    );
    assert.ok(
      old.storage.subarray(64 * 512, 128 * 512).every((b) => b === 0),
      'nothing written',
    );
    const taking = new RockchipDeviceModel({ mode: 'maskrom', sectors: 32768, newIdBlock: true });
    await flashImage(async () => taking, {
      lba: 0,
      loader: newer,
      writeLoader: true,
      log: () => {},
      sleep: async () => {},
    });
    assert.deepEqual(taking.storage.subarray(64 * 512, 64 * 512 + 2048), head, 'FlashHead first, in the clear');
    assert.deepEqual(taking.storage.subarray((64 + 4) * 512, (64 + 4) * 512 + flashData.length), flashData);
  });

  it('[usb] write_loader: recovery writes the loader ID block from maskrom, with no image needed; without a loader file it is a config error', async () => {
    const loader = path.join(tmpDir(), 'rk3399_loader.bin');
    writeFileSync(loader, loaderOf());
    const log = path.join(tmpDir(), 'usb.json');
    Object.assign(process.env, {
      HIL_USB_BACKEND: path.join(corpusRoot, '..', '..', 'fixtures', 'usb', 'backend.mjs'),
      HIL_USB_MODEL_LOG: log,
    });
    try {
      const usb = boardUsbSchema.parse({ pid: 0x350a, loader, write_loader: true });
      await recoverOverUsb(
        { name: 'rk', file: path.join(tmpDir(), 'rk.toml'), usb, timeouts: { power: 10 } },
        { log: () => {} },
      );
    } finally {
      delete process.env.HIL_USB_BACKEND;
      delete process.env.HIL_USB_MODEL_LOG;
    }
    const seen = JSON.parse(readFileSync(log, 'utf8'));
    const sectors = makeIdBlock(parseLoader(readFileSync(loader))).data.length / 512;
    assert.deepEqual(seen.writes, [{ lba: 64, sectors }]);
    assert.equal(seen.resets, 1);
    assert.deepEqual(seen.violations, []);
    assert.throws(() => boardUsbSchema.parse({ pid: 0x350a, write_loader: true }), /write_loader needs loader/);
  });
});
