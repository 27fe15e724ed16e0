// `hil flash --board B --image IMG [--lba N] [--loader FILE]`.
import path from 'node:path';
import { loadBoard, standInEnv } from '../config/board.js';
import { ConfigError, EXIT, kindOf } from '../errors.js';
import { flashImage } from '../usb/flash.js';
import { hex4, openUsb } from '../usb/usb.js';

const say = (msg: string) => process.stdout.write(`${msg}\n`);

export async function flash(o: { board: string; image: string; lba: string; loader?: string; verify: boolean }): Promise<number> {
  // Flashing needs only the [usb] table: the console's and power's variables may be unset.
  const board = loadBoard(o.board, { env: standInEnv(o.board).env });
  if (!board.usb) throw new ConfigError(`board ${board.name} has no [usb] table: give its vid/pid (and usb_path when two boards match) to flash it over USB`);
  const lba = Number(o.lba);
  if (!Number.isInteger(lba) || lba < 0) throw new ConfigError(`--lba ${o.lba}: give a sector number (0, 64, 0x4000)`);
  const u = board.usb;
  const loader = o.loader ?? (u.loader ? path.resolve(path.dirname(board.file), u.loader) : undefined);
  const what = `${board.name} (USB ${hex4(u.vid)}:${hex4(u.pid)})`;
  try {
    const r = await flashImage(() => openUsb({ vid: u.vid, pid: u.pid, path: u.usb_path }, `${board.name} board`), {
      image: o.image,
      lba,
      loader,
      storage: u.storage,
      verify: o.verify,
      log: say,
    });
    say(`flashed ${r.bytes} bytes to ${what} at sector ${lba} in ${r.seconds.toFixed(1)} s (${(r.bytes / 1e6 / r.seconds).toFixed(1)} MB/s)`);
    return EXIT.pass;
  } catch (e) {
    if (kindOf(e) !== 'lab') throw e;
    process.stderr.write(`hil flash: ${what}: ${(e as Error).message}\n`);
    return EXIT.error;
  }
}
