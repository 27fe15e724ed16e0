// After every load, whatever the method: U-Boot's `crc32` over the loaded bytes against the
// host's CRC-32. A mismatch is a lab error (a bad cable, a stale TFTP cache, a dropped byte
// that slipped through), never a guest failure.
import path from 'node:path';
import { LabError } from '../errors.js';
import type { UBoot } from '../uboot/driver.js';
import { crcHex, hex, type HostImage } from './image.js';

/** The CRC-32 U-Boot computes over `size` bytes at `addr`, as 8 hex digits. */
export async function boardCrc(
  uboot: UBoot,
  addr: string,
  size: number,
  phase: string,
  timeoutS: number,
): Promise<string> {
  const out = await uboot.run(`crc32 ${addr} ${hex(size)}`, { phase, timeoutS });
  const crc = out.output.map((l) => /==>\s*([0-9a-fA-F]{8})/.exec(l)).find(Boolean);
  if (!crc) throw new LabError(phase, `crc32 printed no checksum: ${out.output.join(' | ')}`);
  return crc[1].toLowerCase();
}

export async function verifyLoad(uboot: UBoot, img: HostImage, addr: string, timeoutS: number): Promise<void> {
  const crc = await boardCrc(uboot, addr, img.size, 'load', timeoutS);
  if (crc !== crcHex(img.crc32)) {
    throw new LabError(
      'load',
      `CRC mismatch for the ${img.role} ${path.basename(img.path)}: board ${crc}, host ${crcHex(img.crc32)} (the ` +
        `image was corrupted on the way; check the line or the network, and the server's folder)`,
    );
  }
}
