// What the driver tests give a power driver: a board (only the keys a power driver reads),
// its case folder with power.log, and the run's signal, with no board file and no session.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Board } from '../../runner/config/board.js';
import { driver, type Power, type PowerContext } from '../../runner/drivers/registry.js';
import '../../runner/drivers/index.js';
import { tmpDir } from '../helpers.js';

export interface DriverRig {
  ctx: PowerContext;
  board: Board;
  dir: string;
  /** The run's Ctrl-C. */
  run: AbortController;
  powerLog: () => string;
  /** The power kind's driver made from `settings` (validated by its schema, as a board file's). */
  power: (kind: string, settings: Record<string, unknown>) => Power;
}

export function rig(
  o: { powerTimeout?: number; name?: string; file?: string; board?: Partial<Board> } = {},
): DriverRig {
  const dir = tmpDir('hil-drivers-');
  const board = {
    name: o.name ?? 'bench-board',
    file: o.file ?? path.join(dir, 'bench-board.toml'),
    timeouts: { power: o.powerTimeout ?? 10 },
    ...o.board,
  } as unknown as Board;
  const run = new AbortController();
  const logFile = path.join(dir, 'power.log');
  const ctx: PowerContext = {
    board,
    log: () => {},
    signal: () => run.signal,
    outDir: dir,
    logFile,
    vars: {},
    pool: { waitS: 0 },
  };
  return {
    ctx,
    board,
    dir,
    run,
    powerLog: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    power: (kind, settings) => {
      const d = driver('power', kind)!;
      return d.create(d.settings.parse(settings), ctx);
    },
  };
}

/** Whatever `p` rejects with (it must reject). */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}
