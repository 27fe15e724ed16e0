// `hil flash --partition NAME`: an image written to a partition of the board's storage
// through its working U-Boot, with fastboot (as a lab person does with `fastboot flash NAME
// IMG` after typing `fastboot usb 0`): power on, U-Boot's prompt, then the fastboot load
// method's own transport ([load.fastboot]: UDP or USB) to download, erase if asked, flash,
// and back to the prompt; then the image is read back from the MMC device (`mmc read`) and
// its CRC-32 compared with the host's, and the board is powered off. It is a run of its own:
// a folder with the transcript, power.log and results.json (a deploy record with figures).
import path from 'node:path';
import type { Board } from '../config/board.js';
import { FastbootLoader } from '../drivers/load/fastboot.js';
import { LabError } from '../errors.js';
import type { Action, CaseRun } from './action.js';
import type { CaseResult } from '../model/results.js';
import type { DeployFigures } from '../transfer/deploy.js';
import { crcHex, hex, hostImage } from '../transfer/image.js';
import { boardCrc } from '../transfer/verify.js';
import { said } from '../uboot/storage.js';

export interface PartitionFlash {
  image: string;
  partition: string;
  erase: boolean;
  /** Read the image back and compare (default yes). */
  verify: boolean;
}

const BLOCK = 512;

/** Reads what was flashed back from the MMC device into RAM at the board's load address,
 * and compares its CRC-32 with the host's; false (with a note) where the start is unknown. */
async function readBack(
  run: CaseRun,
  loader: FastbootLoader,
  f: PartitionFlash,
  bytes: number,
  crc: number,
): Promise<{ verified: boolean; target: string }> {
  const s = run.session;
  const at = await loader.partitionStart(f.partition);
  if ('why' in at) {
    s.log(`not read back: ${at.why}`);
    s.transcript.note(`flash: not read back: ${at.why}`);
    return { verified: false, target: `partition ${f.partition}` };
  }
  const target = `partition ${f.partition} (mmc ${at.dev}${at.hwpart !== undefined ? ` hardware partition ${at.hwpart}` : ''} from block 0x${at.block.toString(16)})`;
  const u = s.uboot;
  const addr = s.board.load.kernel_addr;
  const blocks = Math.ceil(bytes / BLOCK);
  const t = s.board.timeouts.load;
  await u.run(`mmc dev ${at.dev}${at.hwpart !== undefined ? ` ${at.hwpart}` : ''}`, { phase: 'flash' });
  const r = await u.run(`mmc read ${addr} ${hex(at.block)} ${hex(blocks)}`, {
    phase: 'flash',
    timeoutS: t,
    allowFail: true,
  });
  if (r.status !== 0 || !r.output.some((l) => new RegExp(`${blocks} blocks read: OK`).test(l)))
    throw new LabError('flash', `reading ${f.partition} back failed: ${said(r.output)}`);
  const board = await boardCrc(u, addr, bytes, 'flash', t);
  if (board !== crcHex(crc))
    throw new LabError(
      'flash',
      `${target} read back differs from ${path.basename(f.image)}: CRC-32 ${board} on the board, ${crcHex(crc)} on the host (the write did not hold)`,
    );
  return { verified: true, target };
}

function flashAction(f: PartitionFlash, done: (r: DeployFigures) => void): Action {
  return {
    name: 'flash',
    description: `write ${path.basename(f.image)} to partition ${f.partition} with fastboot`,
    onTimeout: 'error',
    waitingFor: 'the image was not written and read back',
    applies: () => true,
    // The download and the read back a load's time each; the write (and the erase) what
    // [load.fastboot] flash_timeout allows U-Boot; the lookups a command's.
    timeoutS: (run) => {
      const b = run.session.board;
      const write = Number((b.load.settings.fastboot as { flash_timeout?: number } | undefined)?.flash_timeout ?? 300);
      return b.timeouts.load * 2 + write * (f.erase ? 2 : 1) + b.timeouts.command * 3 + b.timeouts.prompt;
    },
    async run(run) {
      const loader = run.session.loader('fastboot');
      if (!(loader instanceof FastbootLoader)) throw new Error('the fastboot load method is not the fastboot loader');
      const img = hostImage('raw', f.image);
      const r = await loader.flash(f.image, f.partition, { erase: f.erase });
      const t1 = performance.now();
      const back = f.verify
        ? await readBack(run, loader, f, r.bytes, img.crc32)
        : { verified: false, target: `partition ${f.partition}` };
      const verify_s = (performance.now() - t1) / 1000;
      const d: DeployFigures = {
        target: back.target,
        image: f.image,
        bytes: r.bytes,
        crc32: crcHex(img.crc32),
        method: 'fastboot',
        load_s: r.download_s,
        write_s: r.seconds - r.download_s,
        verify_s,
        seconds: r.seconds + verify_s,
        verified: back.verified,
      };
      run.rec.deploy(d);
      run.session.log(
        `flashed ${r.bytes} bytes to ${d.target} in ${r.seconds.toFixed(1)} s (download ` +
          `${(r.bytes / 1e6 / Math.max(r.download_s, 1e-6)).toFixed(1)} ` +
          `MB/s)${r.wrote !== undefined ? `; U-Boot wrote ${r.wrote} bytes` : ''}` +
          `${back.verified ? `; read back, CRC-32 ${d.crc32} the same` : ''}`,
      );
      done(d);
    },
  };
}

/** Flashes `f` on `board` (its lease already held), into `outDir`. */
export async function flashPartition(
  board: Board,
  f: PartitionFlash,
  o: { outDir: string; signal: AbortSignal; log: (m: string) => void },
): Promise<{ result: CaseResult; flashed?: DeployFigures }> {
  const { onBoard } = await import('./on-board.js');
  let flashed: DeployFigures | undefined;
  const { result } = await onBoard(board, 'flash', [flashAction(f, (r) => (flashed = r))], o);
  return { result, flashed };
}
