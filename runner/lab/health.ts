// Health checks, by LAVA's rule: a board is checked before it gets work when nobody knows
// whether it is well. `hil lab check` powers a board, reaches U-Boot, reads its version and
// environment, and powers it off; it is a run of its own (a `health-check` folder with the
// transcript and power.log). A board that fails its check is bad: `hil run` refuses it and
// `hil matrix` leaves it out, until a check passes again. A lab error in a normal run makes
// the board unknown, and the next `hil run` checks it before its cases.
//
// Health is kept for the boards that hold leases (those the lab wires; a virtual board that
// each run starts afresh has nothing to keep), one file per board beside the leases:
// <lease folder>/<board>.health.json, written whole and renamed into place. A record that
// cannot be read (cut short, another shape) says nothing about the board: it is unknown,
// so the board is checked before its next run, and the record is kept aside
// (<board>.health.json.unreadable) when the check writes a new one.
import { existsSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
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

/** What is wrong with a health record's content, or undefined when it is one. */
export function healthProblem(x: unknown): string | undefined {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return `it holds ${Array.isArray(x) ? 'a list' : x === null ? 'null' : `a ${typeof x}`}, not a health record`;
  const h = x as Record<string, unknown>;
  const wrong: string[] = [];
  if (typeof h.board !== 'string') wrong.push(h.board === undefined ? 'no board' : 'board is not a string');
  if (!['good', 'bad', 'unknown'].includes(h.state as string)) wrong.push(h.state === undefined ? 'no state' : `state ${JSON.stringify(h.state)} is none of good, bad, unknown`);
  if (typeof h.at !== 'string' || Number.isNaN(Date.parse(h.at))) wrong.push(h.at === undefined ? 'no at (when it was set)' : 'at is not a time');
  for (const k of ['reason', 'uboot_version', 'run'] as const) if (h[k] !== undefined && typeof h[k] !== 'string') wrong.push(`${k} is not a string`);
  if (h.env !== undefined && (typeof h.env !== 'object' || h.env === null || Array.isArray(h.env))) wrong.push('env is not a table');
  return wrong.length ? wrong.join('; ') : undefined;
}

/** A board's health: undefined when it was never checked; `unknown` (with `unreadable`
 * saying why) when its record cannot be read, which is not the same as never checked. */
export function readHealth(board: string, dir = leaseDir()): (Health & { unreadable?: string }) | undefined {
  const file = labFile(dir, board, 'health.json');
  let text: string;
  let at: string;
  try {
    at = statSync(file).mtime.toISOString();
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined; // never checked
    return unreadable(board, file, new Date().toISOString(), `cannot be read (${code ?? (e as Error).message})`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return unreadable(board, file, at, text.trim() ? `is not JSON, cut short or damaged (${(e as Error).message})` : 'is empty');
  }
  const problem = healthProblem(doc);
  return problem ? unreadable(board, file, at, `is not a health record: ${problem}`) : (doc as Health);
}

const unreadable = (board: string, file: string, at: string, why: string): Health & { unreadable: string } => ({
  board,
  state: 'unknown',
  at,
  reason: `its health record ${file} ${why}; it is checked again before its next run`,
  unreadable: why,
});

export function writeHealth(h: Health, dir = leaseDir()): void {
  const file = labFile(dir, h.board, 'health.json');
  // An unreadable record is kept for whoever wants to know what it was, not overwritten.
  if (readHealth(h.board, dir)?.unreadable) {
    try {
      renameSync(file, `${file}.unreadable`);
    } catch {
      // gone meanwhile
    }
  }
  writeWhole(file, `${JSON.stringify(h, null, 1)}\n`);
}

/** Every board's health record in the folder (an unreadable one as unknown). */
export function allHealth(dir = leaseDir()): Health[] {
  if (!existsSync(dir)) return [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
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
