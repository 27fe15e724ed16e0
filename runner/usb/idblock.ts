// rkdeveloptool's `ul` (upgrade_loader and MakeIDBlockData in its main.cpp): the loader
// file's FlashData (DDR init) and FlashBoot (the next stage) made into an ID block, the boot
// ROM's own format, and written at sector 64 of the board's storage, so the board boots from
// it without a separate idbloader.img. Byte for byte as rkdeveloptool makes it:
//   - the classic block: four 512-byte sectors, then FlashData and FlashBoot each padded to
//     2 KiB. Sector 0 (RK28_IDB_SEC0): tag 0x0FF0AA55, the RC4 flag, the data's offset (4
//     sectors, twice), its size and the data-and-code size in sectors at bytes 506/508.
//     Sector 1: reserved blocks 0xC, disk 0 size 0xFFFF, chip tag "RK28". Sector 2: "VC",
//     the CRC-16 of sectors 0, 1 and 3 (CRC_16: polynomial 0x1021, start 0), Rockchip's
//     CRC-32 of the data and code, "CRC". Sector 3: zeros. Sectors 0, 2 and 3 are RC4'd;
//     the data and code too (each whole sector) when the file's RC4 flag says so;
//   - the newer block, for loader files with a FlashHead entry (the board must say it takes
//     one: READ_CAPABILITY, byte 1 bit 0): FlashHead, FlashData and FlashBoot, each padded
//     to 2 KiB, RC4'd sector by sector when the file's RC4 flag says so.
import { LabError } from '../errors.js';
import { crcCcitt, type LoaderFile, rc4Sector, rkCrc32, type RockUsb, SECTOR } from './rockusb.js';

/** Where the boot ROM looks for the ID block (sector 64, 32 KiB in). */
export const IDBLOCK_LBA = 64;

/** rkdeveloptool's CRC_16: polynomial 0x1021, start 0, MSB first (CRC-16/XMODEM). */
export const crc16 = (data: Uint8Array) => crcCcitt(data, 0);

const sectorsOf = (bytes: number) => Math.ceil(bytes / 2048) * (2048 / SECTOR);

/** P_RC4 on each whole sector of `buf`, in place (a tail shorter than a sector is left). */
function rc4Sectors(buf: Buffer, bytes: number): void {
  for (let i = 0; i < Math.floor(bytes / SECTOR); i++)
    rc4Sector(buf.subarray(i * SECTOR, (i + 1) * SECTOR)).copy(buf, i * SECTOR);
}

function entry(l: LoaderFile, name: string): Buffer | undefined {
  const e = l.entries.find((x) => x.kind === 'loader' && x.name === name);
  return e && Buffer.from(e.data); // a copy: the RC4 steps work in place
}

export interface IdBlock {
  data: Buffer;
  /** The newer layout (FlashHead first), which the board must say it takes. */
  withHead: boolean;
}

/** The ID block rkdeveloptool's `ul` writes for loader file `l`. */
export function makeIdBlock(l: LoaderFile, name = 'the loader file'): IdBlock {
  const code = entry(l, 'FlashBoot');
  const data = entry(l, 'FlashData');
  if (!code || !data)
    throw new LabError(
      'usb',
      `${name} has no ${code ? 'FlashData' : 'FlashBoot'} entry: it cannot be written as an ID block`,
    );
  // rkdeveloptool's Rc4DisableFlag, passed on as MakeIDBlockData's rc4Flag.
  const rc4Flag = !l.rc4;
  const dataSec = sectorsOf(data.length);
  const bootSec = sectorsOf(code.length);
  const head = entry(l, 'FlashHead');
  if (head) {
    const headSec = sectorsOf(head.length);
    const out = Buffer.alloc((headSec + dataSec + bootSec) * SECTOR);
    if (rc4Flag) for (const b of [head, data, code]) rc4Sectors(b, b.length);
    head.copy(out, 0);
    data.copy(out, headSec * SECTOR);
    code.copy(out, (headSec + dataSec) * SECTOR);
    return { data: out, withHead: true };
  }
  const sec0 = Buffer.alloc(SECTOR);
  sec0.writeUInt32LE(0x0ff0aa55, 0);
  sec0.writeUInt32LE(rc4Flag ? 1 : 0, 8);
  sec0.writeUInt16LE(4, 12); // usBootCode1Offset
  sec0.writeUInt16LE(4, 14); // usBootCode2Offset
  sec0.writeUInt16LE(dataSec, 506); // usBootDataSize
  sec0.writeUInt16LE(dataSec + bootSec, 508); // usBootCodeSize
  const sec1 = Buffer.alloc(SECTOR);
  sec1.writeUInt16LE(0xc, 0); // usSysReservedBlock
  sec1.writeUInt16LE(0xffff, 2); // usDisk0Size
  sec1.writeUInt32LE(0x38324b52, 10); // uiChipTag "RK28"
  const sec3 = Buffer.alloc(SECTOR);
  const sec2 = Buffer.alloc(SECTOR);
  sec2.write('VC', 491, 'latin1'); // szVcTag[3], after usInfoSize, 16 bytes of chip info, 473 reserved
  sec2.writeUInt16LE(crc16(sec0), 494);
  sec2.writeUInt16LE(crc16(sec1), 496);
  sec2.write('CRC', 506, 'latin1'); // szCrcTag[4]
  sec2.writeUInt16LE(crc16(sec3), 510);
  const out = Buffer.alloc((4 + dataSec + bootSec) * SECTOR);
  sec0.copy(out, 0);
  sec1.copy(out, SECTOR);
  sec3.copy(out, 3 * SECTOR);
  if (rc4Flag) {
    rc4Sectors(data, data.length);
    rc4Sectors(code, code.length);
  }
  data.copy(out, 4 * SECTOR);
  code.copy(out, (4 + dataSec) * SECTOR);
  sec2.writeUInt32LE(rkCrc32(out.subarray(4 * SECTOR, (4 + dataSec + bootSec) * SECTOR)), 498); // uiBootCodeCrc
  sec2.copy(out, 2 * SECTOR);
  for (const i of [0, 2, 3]) rc4Sector(out.subarray(i * SECTOR, (i + 1) * SECTOR)).copy(out, i * SECTOR);
  return { data: out, withHead: false };
}

/** The newer block only goes to a board that says it takes one (READ_CAPABILITY byte 1 bit 0),
 * as rkdeveloptool's `ul` asks before writing. */
export async function checkIdBlockTaken(rk: RockUsb, idb: IdBlock, name: string): Promise<void> {
  if (!idb.withHead) return;
  const cap = await rk.readCapability();
  if (!(cap[1]! & 1))
    throw new LabError(
      'usb',
      `${rk.link.name}: the board cannot take the newer ID block ${name} makes (READ_CAPABILITY byte 1 bit 0 is clear)`,
    );
}
