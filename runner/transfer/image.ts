// A host image about to be loaded: its path, size and CRC-32 (zlib's polynomial, the one
// U-Boot's `crc32` prints), computed once while the plan is validated, before power-on.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';

export interface HostImage {
  /** What the image is for: loaded to boot (kernel, initrd, dtb), or deployed to storage. */
  role: 'kernel' | 'initrd' | 'dtb' | 'guest' | 'raw';
  path: string;
  size: number;
  crc32: number;
}

const known = new Map<string, { size: number; crc32: number }>();

/** Size and CRC-32 of a host file, remembered while the file is unchanged. */
export function hostImage(role: HostImage['role'], file: string): HostImage {
  const abs = path.resolve(file);
  const st = statSync(abs);
  const key = `${abs}:${st.size}:${st.mtimeMs}`;
  let sum = known.get(key);
  if (!sum) {
    const bytes = readFileSync(abs);
    sum = { size: bytes.length, crc32: crc32(bytes) >>> 0 };
    known.set(key, sum);
  }
  return { role, path: abs, ...sum };
}

const digests = new Map<string, string>();

/** SHA-256 of a file, remembered while the file is unchanged: what history records as
 * the image's identity (last good and first bad runs name images by it). */
export function imageDigest(file: string): string {
  const abs = path.resolve(file);
  const st = statSync(abs);
  const key = `${abs}:${st.size}:${st.mtimeMs}`;
  let d = digests.get(key);
  if (!d) {
    d = createHash('sha256').update(readFileSync(abs)).digest('hex');
    digests.set(key, d);
  }
  return d;
}

export const hex = (n: number) => `0x${n.toString(16)}`;
export const crcHex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');

export type LoadMethod = 'tftp' | 'ymodem';

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

/** Loads one image into the board's RAM at a U-Boot address expression. */
export interface Loader {
  readonly method: LoadMethod;
  load(img: HostImage, addr: string): Promise<TransferFigures>;
  cleanup(): void;
}

export function figures(img: HostImage, method: LoadMethod, movingS: number, totalS: number, verified: boolean, retries: number): TransferFigures {
  return {
    image: img.path, role: img.role, method, bytes: img.size, seconds: totalS,
    bytes_per_s: Math.round(img.size / Math.max(movingS, 1e-6)), retries, crc32: crcHex(img.crc32), verified,
  };
}
