// `hil flash --partition NAME`: an image written to a partition of the board's storage
// through its working U-Boot, with fastboot (as a lab person does with `fastboot flash NAME
// IMG` after typing `fastboot usb 0`): power on, U-Boot's prompt, then the fastboot load
// method's own transport ([load.fastboot]: UDP or USB) to download, erase if asked, flash,
// and back to the prompt; the board is powered off at the end. It is a run of its own: a
// folder with the transcript, power.log and results.json.
import path from 'node:path';
import type { Board } from '../config/board.js';
import { FastbootLoader } from '../drivers/load/fastboot.js';
import type { Action } from '../job/action.js';
import type { CaseResult } from '../model/results.js';

export interface PartitionFlash {
  image: string;
  partition: string;
  erase: boolean;
}

export interface Flashed {
  bytes: number;
  seconds: number;
  /** What U-Boot said it wrote (whole blocks), where it says it. */
  wrote?: number;
}

function flashAction(f: PartitionFlash, done: (r: Flashed) => void): Action {
  return {
    name: 'flash',
    description: `write ${path.basename(f.image)} to partition ${f.partition} with fastboot`,
    onTimeout: 'error',
    waitingFor: 'the image was not written',
    applies: () => true,
    // Sending at the slowest fastboot rate seen (UDP, ~9 MB/s) and writing take less than a
    // load's timeout per 64 MiB; the prompt and the partition's lookup add a command's.
    timeoutS: (run) => {
      const b = run.session.board;
      return b.timeouts.load * 2 + b.timeouts.command + b.timeouts.prompt;
    },
    async run(run) {
      const loader = run.session.loader('fastboot');
      if (!(loader instanceof FastbootLoader)) throw new Error('the fastboot load method is not the fastboot loader');
      const r = await loader.flash(f.image, f.partition, { erase: f.erase });
      run.session.log(
        `flashed ${r.bytes} bytes to partition ${f.partition} in ${r.seconds.toFixed(1)} s (${(r.bytes / 1e6 / r.seconds).toFixed(1)} MB/s)${r.wrote !== undefined ? `; U-Boot wrote ${r.wrote} bytes` : ''}`,
      );
      done(r);
    },
  };
}

/** Flashes `f` on `board` (its lease already held), into `outDir`. */
export async function flashPartition(
  board: Board,
  f: PartitionFlash,
  o: { outDir: string; signal: AbortSignal; log: (m: string) => void },
): Promise<{ result: CaseResult; flashed?: Flashed }> {
  const { onBoard } = await import('../job/on-board.js');
  let flashed: Flashed | undefined;
  const { result } = await onBoard(board, 'flash', [flashAction(f, (r) => (flashed = r))], o);
  return { result, flashed };
}
