// A host image about to be loaded: its path, size and CRC-32 (zlib's polynomial, the one
// U-Boot's `crc32` prints), computed once while the plan is validated, before power-on.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';

export interface HostImage {
  /** What the image is for: loaded to boot (kernel, initrd, dtb), or deployed to storage. */
  role: 'kernel' | 'initrd' | 'dtb' | 'fit' | 'guest' | 'ramdisk' | 'firmware' | 'raw';
  path: string;
  size: number;
  crc32: number;
}

interface Sums {
  size: number;
  crc32: number;
  sha256: string;
}
const known = new Map<string, Sums>();

const keyOf = (abs: string) => {
  const st = statSync(abs);
  return `${abs}:${st.size}:${st.mtimeMs}`;
};

/** A file's size, CRC-32 and SHA-256, from one read, remembered while the file is unchanged
 * (the same image is loaded, recorded in the history and checked against a baseline). Read
 * in 1 MiB pieces: a 28 MB kernel sums in about 35 ms, where reading it whole into one
 * buffer first takes four times as long. */
function sums(file: string): Sums {
  const abs = path.resolve(file);
  const key = keyOf(abs);
  let s = known.get(key);
  if (!s) {
    const fd = openSync(abs, 'r');
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      const sha = createHash('sha256');
      let crc = 0;
      let size = 0;
      for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) {
        const piece = buf.subarray(0, n);
        crc = crc32(piece, crc);
        sha.update(piece);
        size += n;
      }
      s = { size, crc32: crc >>> 0, sha256: sha.digest('hex') };
    } finally {
      closeSync(fd);
    }
    known.set(key, s);
  }
  return s;
}

/** Size and CRC-32 of a host file. */
export function hostImage(role: HostImage['role'], file: string): HostImage {
  const { size, crc32 } = sums(file);
  return { role, path: path.resolve(file), size, crc32 };
}

/** SHA-256 of a file: what history records as the image's identity (last good and first
 * bad runs name images by it). */
export const imageDigest = (file: string): string => sums(file).sha256;

export const hex = (n: number) => `0x${n.toString(16)}`;
export const crcHex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');

/** A load method's name, as the driver registry knows it (tftp, ymodem...). */
export type LoadMethod = string;

/** What a load cost and whether it was verified: goes into results.json. */
export interface TransferFigures {
  image: string;
  role: HostImage['role'];
  method: LoadMethod;
  bytes: number;
  /** The whole load, verification included. */
  seconds: number;
  /** Bytes per second while the bytes moved (verification excluded). */
  bytes_per_s: number;
  /** Blocks or packets sent again. */
  retries: number;
  crc32: string;
  verified: boolean;
  /** Methods tried first that failed for this image, with why. */
  fallback_from?: { method: LoadMethod; reason: string }[];
}

export function figures(
  img: HostImage,
  method: LoadMethod,
  movingS: number,
  totalS: number,
  verified: boolean,
  retries: number,
): TransferFigures {
  return {
    image: img.path,
    role: img.role,
    method,
    bytes: img.size,
    seconds: totalS,
    bytes_per_s: Math.round(img.size / Math.max(movingS, 1e-6)),
    retries,
    crc32: crcHex(img.crc32),
    verified,
  };
}
