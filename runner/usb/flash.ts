// `hil flash`: write an image to a Rockchip board's storage over USB, as a lab person does
// with `rkdeveloptool db LOADER; rkdeveloptool wl LBA IMAGE; rkdeveloptool rd` when a bad
// build left the board without a working U-Boot. From maskrom, the loader file's DDR init
// and usbplug go first; then, in loader mode: the storage chosen, the image written in
// whole sectors, read back and compared, and the board reset.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { LabError } from '../errors.js';
import { checkIdBlockTaken, IDBLOCK_LBA, makeIdBlock } from './idblock.js';
import { downloadBoot, parseLoader, RockUsb, SECTOR } from './rockusb.js';
import type { boardUsbSchema } from '../config/usb.js';
import type { UsbLink } from './usb.js';

export { boardUsbSchema } from '../config/usb.js';

export interface FlashOptions {
  /** The image to write at `lba` (none when only the loader is written). */
  image?: string;
  lba: number;
  /** Write the loader itself at sector 64 as an ID block first (rkdeveloptool's `ul`). */
  writeLoader?: boolean;
  loader?: string;
  storage?: number;
  /** Read the image back and compare (default yes). */
  verify?: boolean;
  log: (msg: string) => void;
  /** For the maskrom step's delays (the tests pass one that does not wait). */
  sleep?: (ms: number) => Promise<void>;
  /** Reset the board at the end (default yes; no when more images follow). */
  reset?: boolean;
}

/** Flashes through `connect`, called again after maskrom (the board comes back in loader mode). */
export async function flashImage(
  connect: () => Promise<UsbLink>,
  o: FlashOptions,
): Promise<{ bytes: number; seconds: number }> {
  const image = o.image ? readFileSync(o.image) : undefined;
  if (image && !image.length) throw new LabError('usb', `${o.image} is empty: nothing to flash`);
  if (o.writeLoader && !o.loader)
    throw new LabError('usb', 'writing the loader needs the loader file (--loader, or [usb] loader)');
  const loader = o.loader ? parseLoader(readFileSync(o.loader), path.basename(o.loader)) : undefined;
  let link = await connect();
  if (loader) {
    o.log(
      `${link.name}: maskrom: sending ${loader.entries
        .filter((e) => e.kind !== 'loader')
        .map((e) => e.name)
        .join(', ')}`,
    );
    await downloadBoot(link, loader, { sleep: o.sleep, log: o.log });
    await link.close();
    link = await connect();
  }
  const t0 = performance.now();
  try {
    const rk = new RockUsb(link);
    await rk.testUnitReady();
    const chip = await rk.chipInfo();
    o.log(`${link.name}: loader mode, chip ${chip.chip}`);
    if (o.storage !== undefined) await rk.changeStorage(o.storage);
    const { sectors } = await rk.flashInfo();
    const writes: { what: string; lba: number; data: Buffer }[] = [];
    if (o.writeLoader) {
      const idb = makeIdBlock(loader!, path.basename(o.loader!));
      await checkIdBlockTaken(rk, idb, path.basename(o.loader!));
      writes.push({ what: `${path.basename(o.loader!)} as an ID block`, lba: IDBLOCK_LBA, data: idb.data });
    }
    if (image) writes.push({ what: path.basename(o.image!), lba: o.lba, data: image });
    let bytes = 0;
    for (const w of writes) {
      const need = Math.ceil(w.data.length / SECTOR);
      if (sectors && w.lba + need > sectors)
        throw new LabError('usb', `${w.what} needs sectors ${w.lba}..${w.lba + need - 1}, the storage has ${sectors}`);
      await rk.writeLba(w.lba, w.data, {
        progress: (n) => n === w.data.length && o.log(`wrote ${w.what}, ${n} bytes at sector ${w.lba}`),
      });
      if (o.verify !== false) await readBack(rk, w);
      bytes += w.data.length;
    }
    if (o.verify !== false) o.log('read back: the same');
    const seconds = (performance.now() - t0) / 1000;
    if (o.reset !== false) await rk.reset();
    return { bytes, seconds };
  } finally {
    await link.close();
  }
}

/** Reads a write back, 128 sectors a command, and compares. */
async function readBack(rk: RockUsb, w: { what: string; lba: number; data: Buffer }): Promise<void> {
  const need = Math.ceil(w.data.length / SECTOR);
  for (let s = 0; s < need; s += 128) {
    const n = Math.min(128, need - s);
    const back = await rk.readLba(w.lba + s, n);
    const want = w.data.subarray(s * SECTOR, Math.min(w.data.length, (s + n) * SECTOR));
    if (!back.subarray(0, want.length).equals(want))
      throw new LabError(
        'usb',
        `read back differs from ${w.what} in sectors ${w.lba + s}..${w.lba + s + n - 1}: the write did not hold`,
      );
  }
}

/**
 * Recovers a board's firmware over USB: the maskrom command (if any), the loader, then each
 * `recover` image at its sector, the board reset after the last. Lab errors name the step.
 */
export async function recoverOverUsb(
  board: { name: string; file: string; usb?: z.infer<typeof boardUsbSchema>; timeouts: { power: number } },
  o: { log: (msg: string) => void },
): Promise<void> {
  const u = board.usb!;
  const { openUsb } = await import('./usb.js');
  if (u.maskrom_cmd) {
    const { runCommand } = await import('../remote/command.js');
    const r = await runCommand(u.maskrom_cmd, board.timeouts.power, { HIL_BOARD: board.name });
    if (r.timedOut || r.code !== 0)
      throw new LabError(
        'usb',
        `the maskrom command failed (${r.timedOut ? 'timed out' : `exit ${r.code}`}): ${u.maskrom_cmd}`,
      );
  }
  const at = (f: string) => path.resolve(path.dirname(board.file), f);
  // The loader ID block (if asked) goes with the first image: one maskrom download serves all.
  const images: { image?: string; lba: number }[] = u.recover?.length ? u.recover : u.write_loader ? [{ lba: 0 }] : [];
  for (const [i, img] of images.entries()) {
    await flashImage(() => openUsb({ vid: u.vid, pid: u.pid, path: u.usb_path }, `${board.name} board`), {
      image: img.image && at(img.image),
      lba: img.lba,
      loader: i === 0 && u.loader ? at(u.loader) : undefined,
      writeLoader: i === 0 && u.write_loader,
      storage: u.storage,
      reset: i === images.length - 1,
      log: o.log,
    });
  }
}
