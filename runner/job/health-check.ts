// The health check (runner/lab/health.ts keeps what it finds): the board powered, U-Boot
// reached, its version and a few variables read, the board powered off, as a run of its own
// in a `health-check` folder with the transcript and power.log. Its one action runs after
// the job's power and U-Boot actions (on-board.ts), with its own timeout like every action.
import type { Board } from '../config/board.js';
import { LabError } from '../errors.js';
import { leaseStoreOf } from '../lab/lease.js';
import { type Health, writeHealth } from '../lab/health.js';
import type { Action } from './action.js';

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
export async function checkBoard(
  board: Board,
  o: { outDir: string; signal: AbortSignal; log: (m: string) => void },
): Promise<Health> {
  const { onBoard } = await import('./on-board.js');
  const { result: r, run } = await onBoard(board, 'health-check', [readUBoot], o);
  const at = new Date().toISOString();
  const h: Health =
    r.verdict === 'pass'
      ? {
          board: board.name,
          state: 'good',
          at,
          uboot_version: run.state.health?.version,
          env: run.state.health?.env,
          run: o.outDir,
        }
      : { board: board.name, state: 'bad', at, reason: `${r.phase ?? 'check'}: ${r.reason}`, run: o.outDir };
  // Stopped by Ctrl-C, the check says nothing about the board.
  if (!o.signal.aborted) await writeHealth(h, leaseStoreOf(board));
  return h;
}
