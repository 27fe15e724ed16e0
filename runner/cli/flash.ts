// `hil flash --board B --image IMG`: over USB with rockusb (`--lba N`, from maskrom with the
// board's loader file if need be), or through the board's U-Boot with fastboot
// (`--partition NAME`). A lab board's lease is held while it is written, as for a run.
import { statSync } from 'node:fs';
import path from 'node:path';
import { type Board, loadBoard, standInEnv } from '../drivers/board.js';
import { shown } from '../config/paths.js';
import { ConfigError, EXIT, kindOf } from '../errors.js';
import { interruptible, markInterrupted } from '../lifecycle/interrupt.js';
import { flashImage } from '../usb/flash.js';
import { hex4, openUsb, requireUsbBus } from '../usb/usb.js';
import { outputFolder } from '../lifecycle/10-prepare.js';
import { waitSeconds } from './run.js';

const say = (msg: string) => process.stdout.write(`${msg}\n`);

interface FlashFlags {
  board: string;
  image?: string;
  writeLoader?: boolean;
  lba?: string;
  partition?: string;
  erase?: boolean;
  loader?: string;
  verify: boolean;
  wait?: string;
  out?: string;
}

export async function flash(o: FlashFlags): Promise<number> {
  if (o.partition !== undefined && o.lba !== undefined)
    throw new ConfigError('give --lba (rockusb, over USB) or --partition (fastboot, through U-Boot), not both');
  if (o.partition === undefined && (o.erase || o.out))
    throw new ConfigError('--erase and --out go with --partition (fastboot through U-Boot)');
  if (o.partition !== undefined && o.writeLoader)
    throw new ConfigError("--write-loader is rockusb's (over USB, with --loader), not fastboot's");
  if (!o.image && !o.writeLoader)
    throw new ConfigError('give --image (and --lba or --partition), or --write-loader to write only the loader');
  if (o.partition !== undefined && !o.image) throw new ConfigError('--partition needs --image');
  if (o.image) inputFile('--image', o.image);
  if (o.loader) inputFile('--loader', o.loader);
  const waitS = waitSeconds(o.wait);
  // Rockusb needs only the [usb] table: the console's and power's variables may be unset.
  const board = o.partition !== undefined ? loadBoard(o.board) : loadBoard(o.board, { env: standInEnv(o.board).env });
  const ac = interruptible(say);
  const outDir = o.partition !== undefined ? outputFolder(o.out, { board, suite: { name: 'flash' } }) : undefined;
  const lease = await holdBoard(board, outDir, waitS, ac.signal);
  if (typeof lease === 'number') return lease;
  try {
    return o.partition !== undefined
      ? await overFastboot(board, { ...o, partition: o.partition }, outDir!, ac.signal)
      : await overRockusb(board, o);
  } finally {
    await lease?.release();
    const { LabHost } = await import('../remote/lab-host.js');
    LabHost.closeAll();
    ac.release();
  }
}

/** A file to send: there, a file, and not empty; else a config error before anything is
 * touched (exit 3). */
function inputFile(what: string, file: string): void {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(file);
  } catch {
    throw new ConfigError(`${what} ${file}: no such file`);
  }
  if (!st.isFile()) throw new ConfigError(`${what} ${file}: not a file`);
  if (!st.size) throw new ConfigError(`${what} ${file} is empty: nothing to flash`);
}

/** The board's lease when it is a lab board; an exit code when another run holds it. */
async function holdBoard(board: Board, outDir: string | undefined, waitS: number, signal: AbortSignal) {
  const { isLabBoard } = await import('../drivers/board.js');
  if (!isLabBoard(board)) return undefined;
  const { Lease, leaseStoreOf } = await import('../lab/lease.js');
  try {
    return await Lease.acquire(board.name, {
      run: outDir ? shown(outDir) : `hil flash (pid ${process.pid})`,
      waitS,
      log: say,
      signal,
      store: leaseStoreOf(board),
    });
  } catch (e) {
    const kind = signal.aborted ? 'interrupted' : kindOf(e);
    if (kind !== 'lab' && kind !== 'config' && kind !== 'interrupted') throw e;
    const why =
      kind === 'interrupted'
        ? `${(signal.reason as Error)?.message ?? 'interrupted'} while waiting for the board`
        : (e as Error).message;
    const code = kind === 'interrupted' ? EXIT.interrupted : kind === 'config' ? EXIT.config : EXIT.error;
    // A flash with an output folder leaves its results.json on every path.
    if (outDir) {
      const { newRun, settle, writeResults } = await import('../model/results.js');
      const r = newRun({ board: board.name, soc: board.soc, suite: 'flash' });
      r.reason = `${why}; nothing was written`;
      if (kind === 'interrupted') r.interrupted = (signal.reason as Error)?.message ?? 'interrupted';
      settle(r);
      r.verdict = 'error';
      r.exit_code = code;
      writeResults(outDir, r);
    }
    process.stderr.write(
      `hil flash: ${board.name}: ${why}; nothing was written${outDir ? ` (results: ${shown(path.join(outDir, 'results.json'))})` : ''}\n`,
    );
    return code;
  }
}

async function overFastboot(
  board: Board,
  o: FlashFlags & { partition: string },
  outDir: string,
  signal: AbortSignal,
): Promise<number> {
  if (!board.load.settings.fastboot && !board.load.methods.includes('fastboot'))
    throw new ConfigError(
      `board ${board.name} has no [load.fastboot] table: say how U-Boot's fastboot is reached (transport = "udp" with host, or "usb" with usb_vid/usb_pid) to flash a partition`,
    );
  if ((board.load.settings.fastboot as { transport?: string } | undefined)?.transport === 'usb') {
    // A host without USB cannot reach `fastboot usb 0`: said before the board is powered.
    try {
      requireUsbBus();
    } catch (e) {
      process.stderr.write(`hil flash: ${board.name}: ${(e as Error).message}; the board was not powered\n`);
      return EXIT.error;
    }
  }
  const { flashPartition } = await import('../job/flash-partition.js');
  const { result, flashed } = await flashPartition(
    board,
    { image: path.resolve(o.image!), partition: o.partition, erase: !!o.erase, verify: o.verify },
    { outDir, signal, log: say },
  );
  if (signal.aborted) {
    // Its results.json says what the command's exit code says.
    markInterrupted(outDir, (signal.reason as Error)?.message ?? 'interrupted');
    return EXIT.interrupted;
  }
  if (result.verdict !== 'pass' || !flashed) {
    process.stderr.write(
      `hil flash: ${board.name}: ${result.reason ?? result.verdict} (transcript: ${shown(outDir)})\n`,
    );
    return result.verdict === 'internal' ? EXIT.internal : EXIT.error;
  }
  say(
    `flashed ${flashed.bytes} bytes to ${flashed.target} of ${board.name} in ${flashed.seconds.toFixed(1)} s, ${flashed.verified ? 'read back and the same' : 'not read back'} (${shown(outDir)})`,
  );
  return EXIT.pass;
}

async function overRockusb(board: Board, o: FlashFlags): Promise<number> {
  if (!board.usb)
    throw new ConfigError(
      `board ${board.name} has no [usb] table: give its vid/pid (and usb_path when two boards match) to flash it over USB`,
    );
  const lba = Number(o.lba ?? 0);
  if (!Number.isInteger(lba) || lba < 0) throw new ConfigError(`--lba ${o.lba}: give a sector number (0, 64, 0x4000)`);
  const u = board.usb;
  const loader = o.loader ?? (u.loader ? path.resolve(path.dirname(board.file), u.loader) : undefined);
  const what = `${board.name} (USB ${hex4(u.vid)}:${hex4(u.pid)})`;
  if (o.writeLoader && !loader)
    throw new ConfigError(
      `--write-loader needs the loader file: give --loader, or loader in the [usb] table of ${board.name}`,
    );
  if (loader && !o.loader) inputFile(`the [usb] loader of ${board.name},`, loader);
  try {
    const r = await flashImage(() => openUsb({ vid: u.vid, pid: u.pid, path: u.usb_path }, `${board.name} board`), {
      image: o.image,
      lba,
      loader,
      writeLoader: o.writeLoader,
      storage: u.storage,
      verify: o.verify,
      log: say,
    });
    const parts = [
      o.writeLoader && `the loader (ID block) at sector 64`,
      o.image && `${path.basename(o.image)} at sector ${lba}`,
    ]
      .filter(Boolean)
      .join(' and ');
    say(
      `flashed ${r.bytes} bytes to ${what}: ${parts}, in ${r.seconds.toFixed(1)} s (${(r.bytes / 1e6 / r.seconds).toFixed(1)} MB/s)`,
    );
    return EXIT.pass;
  } catch (e) {
    if (kindOf(e) !== 'lab') throw e;
    process.stderr.write(`hil flash: ${what}: ${(e as Error).message}\n`);
    return EXIT.error;
  }
}
