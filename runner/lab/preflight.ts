// Preflight of a whole plan, before any hardware is touched (`hil preflight`, and the start
// of every `hil run`): each case's Axvisor side (runner/axvisor/preflight.ts) and its raw
// storage writes. Errors stop the run with exit 3 and the board never powered.
import type { Board } from '../config/board.js';
import type { Case, TomlCase } from '../config/case.js';
import { shown } from '../config/paths.js';
import { planAxvisor, type AxvisorPlan } from '../axvisor/plan.js';
import { preflight } from '../axvisor/preflight.js';
import { FindingList, type Finding } from '../axvisor/findings.js';

export interface CasePreflight {
  plan?: AxvisorPlan;
  findings: Finding[];
}

export function preflightCase(c: TomlCase, board: Board): CasePreflight {
  const where = shown(c.file);
  const own = new FindingList();
  if (c.storageWrites.length && !board.storage) {
    own.error(where, 'storage_write', `board ${board.name} has no [storage] table to write to`);
  }
  c.storageWrites.forEach((w, i) => {
    const bs = board.storage?.block_size ?? 512;
    if (w.offset % bs) own.error(where, `storage_write[${i}].offset`, `${w.offset} is not a multiple of the block size ${bs}`);
  });
  if (!c.axvisor) return { findings: own.all };
  const plan = planAxvisor(c.file, c.axvisor, { file: board.file, axvisor: board.axvisor });
  return { plan, findings: [...own.all, ...preflight(plan, board)] };
}

/** Preflight of every TOML case; the plans are kept on the results for the run. */
export function preflightCases(cases: Case[], board: Board): Map<TomlCase, CasePreflight> {
  const out = new Map<TomlCase, CasePreflight>();
  for (const c of cases) if (c.kind === 'toml') out.set(c, preflightCase(c, board));
  return out;
}

export const allFindings = (m: Map<TomlCase, CasePreflight>) => [...m.values()].flatMap((p) => p.findings);
