// Deploying images to the board's own storage through U-Boot, for guests the hypervisor
// loads from a filesystem (Axvisor's `image_location = "fs"`) and for raw images at a
// block offset (a loader, a whole-card image). Each image is loaded into RAM by the
// board's load methods (CRC-checked there), written, then read back into another
// address and checked again: what is on the card is what the host has.
import path from 'node:path';
import { LabError } from '../errors.js';
import type { UBoot } from '../uboot/driver.js';
import type { UBootStorage } from '../uboot/storage.js';
import { crcHex, type HostImage, type LoadMethod, type TransferFigures } from './image.js';
import { boardCrc } from './verify.js';

export interface DeployFigures {
  /** Where the bytes went: `virtio 0:1 /guest/arceos.bin`, or `virtio 0 blocks 64..71`. */
  target: string;
  image: string;
  /** The VM whose config names this file. */
  vm?: string;
  bytes: number;
  crc32: string;
  method: LoadMethod;
  /** Seconds: into RAM (with its check), onto the storage, read back and checked, all. */
  load_s: number;
  write_s: number;
  verify_s: number;
  seconds: number;
  verified: boolean;
}

export interface DeployTools {
  uboot: UBoot;
  storage: UBootStorage;
  /** Loads an image into RAM with the board's methods (and their fallback). */
  load: (img: HostImage, addr: string) => Promise<TransferFigures>;
  timeoutS: number;
}

const now = () => performance.now() / 1000;

async function deploy(
  t: DeployTools,
  img: HostImage,
  target: string,
  write: () => Promise<void>,
  readBack: () => Promise<void>,
  vm?: string,
): Promise<DeployFigures> {
  const t0 = now();
  await t.storage.prepare();
  const loaded = await t.load(img, t.storage.cfg.load_addr);
  const t1 = now();
  await write();
  const t2 = now();
  await readBack();
  const crc = await boardCrc(t.uboot, t.storage.cfg.readback_addr, img.size, 'deploy', t.timeoutS);
  if (crc !== crcHex(img.crc32)) {
    throw new LabError(
      'deploy',
      `${target} reads back with CRC ${crc}, the host file ${path.basename(img.path)} has ${crcHex(img.crc32)}: the write did not land intact (a worn card? check it, or write again)`,
    );
  }
  const t3 = now();
  const r = (n: number) => Math.round(n * 1000) / 1000;
  return {
    target,
    image: img.path,
    vm,
    bytes: img.size,
    crc32: crcHex(img.crc32),
    method: loaded.method,
    load_s: r(t1 - t0),
    write_s: r(t2 - t1),
    verify_s: r(t3 - t2),
    seconds: r(t3 - t0),
    verified: true,
  };
}

/** Writes a file to the FAT partition at `file` (folders created), reads it back, checks it. */
export function deployFile(t: DeployTools, img: HostImage, file: string, vm?: string): Promise<DeployFigures> {
  return deploy(
    t,
    img,
    `${t.storage.partition} ${file}`,
    async () => {
      await t.storage.makeFolders(file);
      await t.storage.fatWrite(t.storage.cfg.load_addr, file, img.size);
    },
    async () => {
      const n = await t.storage.fatLoad(t.storage.cfg.readback_addr, file);
      if (n !== img.size) throw new LabError('deploy', `${file} reads back as ${n} bytes, the image has ${img.size}`);
    },
    vm,
  );
}

/** Writes a raw image at a byte offset of the whole device (block-aligned), reads it back. */
export function writeRaw(t: DeployTools, img: HostImage, offset: number): Promise<DeployFigures> {
  const bs = t.storage.cfg.block_size;
  if (offset % bs) throw new LabError('deploy', `offset ${offset} is not a multiple of the block size ${bs}`);
  const first = offset / bs;
  const count = Math.max(1, Math.ceil(img.size / bs));
  return deploy(
    t,
    img,
    `${t.storage.device} blocks ${first}..${first + count - 1}`,
    () => t.storage.blocks('write', t.storage.cfg.load_addr, first, count),
    () => t.storage.blocks('read', t.storage.cfg.readback_addr, first, count),
  );
}
