// Rockchip's USB protocol (RK3568 2207:350a, RK3588 2207:350b), the host side, written from
// rkdeveloptool (rockchip-linux/rkdeveloptool: RKComm.cpp, RKBoot.cpp, RKDevice.cpp,
// crc.cpp); byte for byte what it sends:
//   - maskrom: the loader file's 0x471 entries (DDR init), then its 0x472 entries (usbplug),
//     each as vendor control requests (bmRequestType 0x40, bRequest 0x0C, wValue 0, wIndex
//     0x471/0x472) in pieces of 4096 bytes, the whole followed by its CRC-CCITT (0xffff
//     start, big endian); a size of 4095 mod 4096 gets one zero byte first, a size of 4094
//     mod 4096 a 1-byte zero request after; each entry's delay is waited after it;
//   - loader mode (the usbplug running, or U-Boot's `rockusb`): bulk-only commands, a 31-byte
//     CBW ("USBC", a tag, the transfer length, direction, LUN, command length 6 or 10, and
//     the command block: opcode, subcode, big-endian LBA, big-endian sector count), the data
//     phase, then a 13-byte CSW ("USBS", the same tag, residue, status 0 = good);
//   - loader files (*_loader_*.bin): a "BOOT" or "LDR " header listing the 0x471, 0x472 and
//     loader entries (57-byte records: size, type, a UTF-16 name, offset, size, delay), the
//     whole file followed by Rockchip's CRC-32 (polynomial 0x04C10DB7, not zlib's).
import { LabError } from '../errors.js';
import type { UsbLink } from './usb.js';

export { ROCKCHIP_VID } from '../config/usb.js';
/** Maskrom and loader-mode product ids of the boards the lab has. */
export const ROCKCHIP_PIDS: Record<string, number> = { rk3568: 0x350a, rk3588: 0x350b };

/** CRC-CCITT as rkdeveloptool's CRC_CCITT: polynomial 0x1021, start 0xffff, MSB first
 * (its CRC_16 is the same from 0). */
export function crcCcitt(data: Uint8Array, start = 0xffff): number {
  let crc = start;
  for (const b of data) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

const CRC32_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c10db7 : c << 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** Rockchip's CRC-32 of loader files (crc.cpp's CRC_32: polynomial 0x04C10DB7, start 0). */
export function rkCrc32(data: Uint8Array): number {
  let acc = 0;
  for (const b of data) acc = ((acc << 8) ^ CRC32_TABLE[((acc >>> 24) ^ b) & 0xff]!) >>> 0;
  return acc;
}

/** rkdeveloptool's P_RC4 (fixed key), applied to one 512-byte sector of a loader written to flash. */
export function rc4Sector(buf: Buffer): Buffer {
  const key = [124, 78, 3, 4, 85, 5, 9, 7, 45, 44, 123, 56, 23, 13, 23, 17];
  const S = Array.from({ length: 256 }, (_, i) => i);
  for (let i = 0, j = 0; i < 256; i++) {
    j = (j + S[i]! + key[i & 15]!) & 255;
    [S[i], S[j]] = [S[j]!, S[i]!];
  }
  const out = Buffer.from(buf);
  for (let x = 0, i = 0, j = 0; x < out.length; x++) {
    i = (i + 1) & 255;
    j = (j + S[i]!) & 255;
    [S[i], S[j]] = [S[j]!, S[i]!];
    out[x]! ^= S[(S[i]! + S[j]!) & 255]!;
  }
  return out;
}

export interface LoaderEntry {
  kind: 0x471 | 0x472 | 'loader';
  name: string;
  data: Buffer;
  /** Milliseconds to wait after sending it. */
  delayMs: number;
}

export interface LoaderFile {
  tag: 'BOOT' | 'LDR ';
  version: number;
  /** The chip code the loader is for (rkdeveloptool's emSupportChip). */
  chip: number;
  released: string;
  rc4: boolean;
  signed: boolean;
  entries: LoaderEntry[];
}

/** Reads a Rockchip loader file; a wrong tag or CRC is an error that says which. */
export function parseLoader(file: Buffer, name = 'loader'): LoaderFile {
  const bad = (why: string) => new LabError('usb', `${name} is not a Rockchip loader file: ${why}`);
  if (file.length < 106) throw bad(`${file.length} bytes is too short for its header`);
  const tag = file.toString('latin1', 0, 4);
  if (tag !== 'BOOT' && tag !== 'LDR ')
    throw bad(`it starts with "${file.toString('latin1', 0, 4)}", not "BOOT" or "LDR "`);
  const stored = file.readUInt32LE(file.length - 4);
  const crc = rkCrc32(file.subarray(0, file.length - 4));
  if (stored !== crc)
    throw bad(
      `its CRC-32 is 0x${stored.toString(16)}, its bytes give 0x${crc.toString(16)} (a damaged or cut download?)`,
    );
  const h = {
    version: file.readUInt32LE(6),
    year: file.readUInt16LE(14),
    time: [...file.subarray(16, 21)],
    chip: file.readUInt32LE(21),
  };
  const tables: [LoaderEntry['kind'], number][] = [
    [0x471, 25],
    [0x472, 31],
    ['loader', 37],
  ];
  const entries: LoaderEntry[] = [];
  for (const [kind, at] of tables) {
    const count = file[at]!;
    const offset = file.readUInt32LE(at + 1);
    const size = file[at + 5]!;
    for (let i = 0; i < count; i++) {
      const e = offset + i * size;
      if (e + 57 > file.length)
        throw bad(`entry ${i} of table ${kind === 'loader' ? 'loader' : `0x${kind.toString(16)}`} lies past the end`);
      const nameRaw = file.subarray(e + 5, e + 45).toString('utf16le');
      const dataOffset = file.readUInt32LE(e + 45);
      const dataSize = file.readUInt32LE(e + 49);
      if (dataOffset + dataSize > file.length - 4)
        throw bad(`the data of ${nameRaw.replace(/\0.*$/, '')} lies past the end`);
      entries.push({
        kind,
        name: nameRaw.replace(/\0.*$/s, ''),
        data: file.subarray(dataOffset, dataOffset + dataSize),
        delayMs: file.readUInt32LE(e + 53),
      });
    }
  }
  const [mo, d, hh, mm, ss] = h.time;
  const p = (n: number) => String(n).padStart(2, '0');
  return {
    tag,
    version: h.version,
    chip: h.chip,
    released: `${h.year}-${p(mo!)}-${p(d!)} ${p(hh!)}:${p(mm!)}:${p(ss!)}`,
    rc4: file[44] === 0, // ucRc4Flag set means RC4 is off
    signed: file[43] === 0x53, // 'S'
    entries,
  };
}

/** What rkdeveloptool sends for one maskrom entry: its pieces, and whether a 1-byte request follows. */
export function maskromPieces(data: Buffer): { pieces: Buffer[]; pend: boolean } {
  let size = data.length;
  let pend = false;
  if (size % 4096 === 4095) size++;
  else if (size % 4096 === 4094) pend = true;
  const body = Buffer.alloc(size + 2);
  data.copy(body);
  const crc = crcCcitt(body.subarray(0, size));
  body[size] = crc >> 8;
  body[size + 1] = crc & 0xff;
  const pieces: Buffer[] = [];
  for (let o = 0; o < body.length; o += 4096) pieces.push(body.subarray(o, Math.min(o + 4096, body.length)));
  return { pieces, pend };
}

/** Maskrom: the DDR init (0x471) and usbplug (0x472) entries, as rkdeveloptool `db` sends them. */
export async function downloadBoot(
  link: UsbLink,
  loader: LoaderFile,
  o: { sleep?: (ms: number) => Promise<void>; log?: (msg: string) => void } = {},
): Promise<void> {
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (const kind of [0x471, 0x472] as const) {
    const of = loader.entries.filter((e) => e.kind === kind);
    if (!of.length)
      throw new LabError(
        'usb',
        `the loader has no 0x${kind.toString(16)} entry (${kind === 0x471 ? 'DDR init' : 'usbplug'}): it cannot start a board from maskrom`,
      );
    for (const e of of) {
      if (!e.data.length) continue;
      const { pieces, pend } = maskromPieces(e.data);
      const step = `maskrom download of ${e.name} (0x${kind.toString(16)}, ${e.data.length} bytes)`;
      o.log?.(step);
      for (const p of pieces) {
        const took = await link.controlOut(0x0c, 0, kind, p).catch((err: Error) => {
          throw new LabError('usb', `${link.name}: ${step}: ${err.message}`);
        });
        if (took !== p.length)
          throw new LabError('usb', `${link.name}: ${step}: the board took ${took} of ${p.length} bytes`);
      }
      if (pend) await link.controlOut(0x0c, 0, kind, Buffer.alloc(1)).catch(() => 0); // rkdeveloptool expects no bytes taken here
      if (e.delayMs) await sleep(e.delayMs);
    }
  }
  await sleep(1000); // as rkdeveloptool: the usbplug takes a moment to enumerate
}

export const OP = {
  TEST_UNIT_READY: 0x00,
  READ_FLASH_ID: 0x01,
  READ_LBA: 0x14,
  WRITE_LBA: 0x15,
  READ_FLASH_INFO: 0x1a,
  READ_CHIP_INFO: 0x1b,
  ERASE_LBA: 0x25,
  CHANGE_STORAGE: 0x2a,
  READ_STORAGE: 0x2b,
  READ_CAPABILITY: 0xaa,
  DEVICE_RESET: 0xff,
} as const;

const OP_NAMES = Object.fromEntries(Object.entries(OP).map(([k, v]) => [v, k]));
const IN_OPS = new Set<number>([
  OP.TEST_UNIT_READY,
  OP.READ_FLASH_ID,
  OP.READ_FLASH_INFO,
  OP.READ_CHIP_INFO,
  OP.READ_CAPABILITY,
  OP.READ_STORAGE,
  OP.READ_LBA,
]);
const LONG_OPS = new Set<number>([OP.READ_LBA, OP.WRITE_LBA, OP.ERASE_LBA]);

export interface Cbw {
  tag: number;
  transferLength: number;
  opcode: number;
  subcode?: number;
  lba?: number;
  sectors?: number;
  lun?: number;
}

/** InitializeCBW and the fields each command sets, as 31 bytes. */
export function encodeCbw(c: Cbw): Buffer {
  const b = Buffer.alloc(31);
  b.writeUInt32LE(0x43425355, 0); // "USBC"
  b.writeUInt32LE(c.tag >>> 0, 4);
  b.writeUInt32LE(c.transferLength, 8);
  b[12] = IN_OPS.has(c.opcode) ? 0x80 : 0x00;
  b[13] = c.lun ?? 0;
  b[14] = LONG_OPS.has(c.opcode) ? 0x0a : 0x06;
  b[15] = c.opcode;
  b[16] = c.subcode ?? 0;
  b.writeUInt32BE(c.lba ?? 0, 17);
  b.writeUInt16BE(c.sectors ?? 0, 22);
  return b;
}

export interface Csw {
  tag: number;
  residue: number;
  status: number;
}

export function decodeCsw(b: Buffer): Csw | undefined {
  if (b.length !== 13 || b.readUInt32LE(0) !== 0x53425355) return undefined; // "USBS"
  return { tag: b.readUInt32LE(4), residue: b.readUInt32LE(8), status: b[12]! };
}

export const SECTOR = 512;

/** A board in loader mode: its commands, each a CBW, its data, and a CSW that must match. */
export class RockUsb {
  private nextTag = Math.floor(Math.random() * 0xffffffff);

  constructor(readonly link: UsbLink) {}

  private async run(c: Omit<Cbw, 'tag'>, out?: Buffer): Promise<Buffer> {
    const tag = (this.nextTag = (this.nextTag + 1) >>> 0);
    const step = `${OP_NAMES[c.opcode] ?? `opcode 0x${c.opcode.toString(16)}`}${c.lba !== undefined ? ` at sector ${c.lba}` : ''}${c.sectors ? ` (${c.sectors} sectors)` : ''}`;
    const fail = (why: string) => new LabError('usb', `${this.link.name}: ${step}: ${why}`);
    await this.link.bulkOut(encodeCbw({ ...c, tag })).catch((e: Error) => {
      throw fail(e.message);
    });
    let data = Buffer.alloc(0);
    if (out) await this.link.bulkOut(out);
    else if (c.transferLength) {
      const parts: Buffer[] = [];
      let got = 0;
      while (got < c.transferLength) {
        const p = await this.link.bulkIn(Math.max(c.transferLength - got, SECTOR));
        if (p.length === 13 && decodeCsw(p))
          throw fail(`the board answered with its status before the ${c.transferLength} bytes asked for`);
        parts.push(p);
        got += p.length;
        if (!p.length) break;
      }
      data = Buffer.concat(parts).subarray(0, c.transferLength);
    }
    const csw = decodeCsw(await this.link.bulkIn(13));
    if (!csw)
      throw fail(
        'no CSW came back ("USBS", 13 bytes): the board is not in loader mode, or the command is unknown to it',
      );
    if (csw.tag !== tag) throw fail(`the CSW answers tag ${csw.tag.toString(16)}, not ${tag.toString(16)}`);
    if (csw.status !== 0) throw fail(`the board reported failure (CSW status ${csw.status})`);
    return data;
  }

  async testUnitReady(): Promise<void> {
    await this.run({ opcode: OP.TEST_UNIT_READY, transferLength: 0 });
  }

  /** 16 bytes; the first four name the chip (reversed ASCII, e.g. "8653" for RK3568). */
  async chipInfo(): Promise<{ raw: Buffer; chip: string }> {
    const raw = await this.run({ opcode: OP.READ_CHIP_INFO, transferLength: 16 });
    return { raw, chip: Buffer.from(raw.subarray(0, 4)).reverse().toString('latin1') };
  }

  /** READ_FLASH_INFO: the storage's size in sectors (bytes 0-3, little endian) and more. */
  async flashInfo(): Promise<{ raw: Buffer; sectors: number }> {
    const raw = await this.run({ opcode: OP.READ_FLASH_INFO, transferLength: 11 });
    return { raw, sectors: raw.readUInt32LE(0) };
  }

  async readLba(lba: number, sectors: number): Promise<Buffer> {
    return this.run({ opcode: OP.READ_LBA, lba, sectors, transferLength: sectors * SECTOR });
  }

  /** Writes whole sectors (the last one padded with zeros), at most `perCommand` a command. */
  async writeLba(
    lba: number,
    data: Buffer,
    o: { perCommand?: number; progress?: (done: number) => void } = {},
  ): Promise<void> {
    const per = o.perCommand ?? 128;
    const sectors = Math.ceil(data.length / SECTOR);
    const padded = Buffer.alloc(sectors * SECTOR);
    data.copy(padded);
    for (let s = 0; s < sectors; s += per) {
      const n = Math.min(per, sectors - s);
      await this.run(
        { opcode: OP.WRITE_LBA, lba: lba + s, sectors: n, transferLength: n * SECTOR },
        padded.subarray(s * SECTOR, (s + n) * SECTOR),
      );
      o.progress?.(Math.min((s + n) * SECTOR, data.length));
    }
  }

  /** READ_CAPABILITY: 8 bytes of what the running loader can do (byte 1 bit 0: it takes the
   * newer ID block). */
  readCapability(): Promise<Buffer> {
    return this.run({ opcode: OP.READ_CAPABILITY, transferLength: 8 });
  }

  async eraseLba(lba: number, sectors: number): Promise<void> {
    await this.run({ opcode: OP.ERASE_LBA, lba, sectors, transferLength: 0 });
  }

  /** CHANGE_STORAGE: 1 eMMC, 2 SD, 9 SPI NOR (rkdeveloptool's cs numbers). */
  async changeStorage(storage: number): Promise<void> {
    await this.run({ opcode: OP.CHANGE_STORAGE, subcode: storage, transferLength: 0 });
  }

  async reset(subcode = 0): Promise<void> {
    await this.run({ opcode: OP.DEVICE_RESET, subcode, transferLength: 0 });
  }
}
