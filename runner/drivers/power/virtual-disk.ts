// The virtual lab board's SD card: a raw disk image with a DOS partition table and one
// FAT32 partition from 1 MiB on, like a card a lab prepares for a Rockchip board (the
// first MiB is where raw loaders such as idbloader.img go, at sector 64). QEMU attaches it
// as a virtio block device; U-Boot sees it as `virtio 0`, partition 1.
import { closeSync, existsSync, mkdirSync, openSync, writeSync, ftruncateSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { LabError } from '../../errors.js';

export const PARTITION_START = 2048; // sectors of 512 bytes: 1 MiB

/** Creates the disk image unless it exists; returns its path. */
export function ensureVirtualDisk(file: string, sizeMiB: number): string {
  if (existsSync(file)) return file;
  mkdirSync(path.dirname(file), { recursive: true });
  const sectors = sizeMiB * 2048;
  const fd = openSync(file, 'w');
  try {
    ftruncateSync(fd, sizeMiB * 1024 * 1024); // sparse: costs no space until written
    const mbr = Buffer.alloc(512);
    // One primary partition: not bootable, CHS fields unused (0xfe 0xff 0xff), type 0x0c
    // (FAT32 with LBA), first sector and sector count little-endian.
    const entry = mbr.subarray(446, 462);
    entry.set([0x00, 0xfe, 0xff, 0xff, 0x0c, 0xfe, 0xff, 0xff]);
    entry.writeUInt32LE(PARTITION_START, 8);
    entry.writeUInt32LE(sectors - PARTITION_START, 12);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    writeSync(fd, mbr, 0, 512, 0);
  } finally {
    closeSync(fd);
  }
  const r = spawnSync(
    'mkfs.vfat',
    ['-F', '32', '-n', 'HILSD', '--offset', String(PARTITION_START), file, String((sectors - PARTITION_START) / 2)],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) {
    const why = r.error ? r.error.message : (r.stderr || r.stdout).trim().split('\n')[0];
    throw new LabError(
      'power',
      `cannot make the virtual board's SD card ${file}: ${why} (is dosfstools installed? run scripts/setup)`,
    );
  }
  return file;
}
