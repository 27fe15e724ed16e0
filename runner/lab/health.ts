// Health checks, by LAVA's rule: a board is checked before it gets work when nobody knows
// whether it is well. `hil lab check` powers a board, reaches U-Boot, reads its version and
// environment, and powers it off; it is a run of its own (a `health-check` folder with the
// transcript and power.log). A board that fails its check is bad: `hil run` refuses it and
// `hil matrix` leaves it out, until a check passes again. A lab error in a normal run makes
// the board unknown, and the next `hil run` checks it before its cases.
//
// Health is kept for the boards that hold leases (those the lab wires; a virtual board that
// each run starts afresh has nothing to keep), one file per board beside the leases:
// <lease folder>/<board>.health.json, written whole and renamed into place.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { Board } from '../config/board.js';
import { writeWhole } from '../config/paths.js';
import { LabError } from '../errors.js';
import type { Action } from '../job/action.js';
import { labFile, leaseDir } from './lease.js';
import { driver } from '../drivers/registry.js';

export type HealthState = 'good' | 'bad' | 'unknown';

export interface Health {
  board: string;
  state: HealthState;
  /** When it was last set. */
  at: string;
  /** Why it is bad or unknown. */
  reason?: string;
  /** From the last check that passed: U-Boot's version line and a few of its variables. */
  uboot_version?: string;
  env?: Record<string, string>;
  /** The run folder of the check, or of the run that made the board unknown. */
  run?: string;
}

export function readHealth(board: string, dir = leaseDir()): Health | undefined {
  try {
    return JSON.parse(readFileSync(labFile(dir, board, 'health.json'), 'utf8'));
  } catch {
    return undefined; // never checked
  }
}

export function writeHealth(h: Health, dir = leaseDir()): void {
  writeWhole(labFile(dir, h.board, 'health.json'), `${JSON.stringify(h, null, 1)}\n`);
}

/** Every board's health record in the folder. */
export function allHealth(dir = leaseDir()): Health[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.health.json'))
    .sort()
    .map((f) => readHealth(f.slice(0, -'.health.json'.length), dir))
    .filter((h): h is Health => h !== undefined);
}

/** Whether the runner keeps a lease, and so health, for this board: not for a virtual board
 * each run starts afresh, nor for one a pool hands out (the pool arbitrates it). */
export const isLabBoard = (b: Board) => b.lease ?? !(b.power.kind === 'qemu' || driver('power', b.power.kind)?.arbitrates);

/** The U-Boot variables a health record keeps: what tells a board's setup at a glance. */
const KEPT = ['bootcmd', 'bootdelay', 'ipaddr', 'serverip', 'ethaddr', 'fdtfile', 'board', 'soc'];

/** The check's own action, after power and U-Boot: U-Boot's version and environment. */
const readUBoot: Action = {
  name: 'health',
  description: "read U-Boot's version and environment",
  onTimeout: 'error',
  waitingFor: 'U-Boot did not answer version or printenv',
  applies: () => true,
  timeoutS: (run) => 2 * (run.session.board.timeouts.command + run.session.board.timeouts.prompt),
  async run(run) {
    const u = run.session.uboot;
    const version = (await u.run('version', { phase: 'health' })).output.find((l) => /U-Boot/.test(l))?.trim();
    if (!version) throw new LabError('health', 'U-Boot answered `version` without a version line');
    const env: Record<string, string> = {};
    for (const l of (await u.run('printenv', { phase: 'health' })).output) {
      const m = /^([A-Za-z0-9_.-]+)=(.*)$/.exec(l.trim());
      if (m && KEPT.includes(m[1])) env[m[1]] = m[2];
    }
    run.state.health = { version, env };
    run.session.log(`healthy: ${version}`);
  },
};

/** Checks the board (its lease already held) into `outDir`/health-check, records its
 * health, and returns it. */
export async function checkBoard(board: Board, o: { outDir: string; signal: AbortSignal; log: (m: string) => void }): Promise<Health> {
  const { onBoard } = await import('../job/on-board.js');
  const { result: r, run } = await onBoard(board, 'health-check', [readUBoot], o);
  const at = new Date().toISOString();
  const h: Health =
    r.verdict === 'pass'
      ? { board: board.name, state: 'good', at, uboot_version: run.state.health?.version, env: run.state.health?.env, run: o.outDir }
      : { board: board.name, state: 'bad', at, reason: `${r.phase ?? 'check'}: ${r.reason}`, run: o.outDir };
  // Stopped by Ctrl-C, the check says nothing about the board.
  if (!o.signal.aborted) writeHealth(h);
  return h;
}
