// Release qualification: boards x cases, the latest decided verdict of each, and one
// answer. The release criteria hold when every required case passes on every listed
// board and no regression is unresolved there. A lab error decides nothing: the verdict
// that counts is the latest pass, fail or timeout (a cell with only lab errors blocks).
import { z } from 'zod';
import { readToml, validate } from '../config/toml.js';
import { shown } from '../config/paths.js';
import type { HistoryRecord } from '../model/history.js';
import type { History } from '../history/store.js';
import { analyse } from './regressions.js';

export const criteriaSchema = z
  .object({
    /** The boards the release must pass on. */
    boards: z.array(z.string().min(1)).min(1),
    /** Case names that must pass; empty: every case recorded on those boards. */
    required_cases: z.array(z.string().min(1)).default([]),
    /** Runs before this ISO date are not considered. */
    since: z.string().optional(),
  })
  .strict();

export type Criteria = z.infer<typeof criteriaSchema>;

export function readCriteria(file: string): Criteria {
  return validate(criteriaSchema, readToml(file), shown(file));
}

export interface Cell {
  verdict: HistoryRecord['verdict'] | 'not run';
  started?: string;
  reason?: string;
  /** The latest run was a lab error, after this decided verdict. */
  labErrorSince?: boolean;
}

export interface ReleaseMatrix {
  boards: string[];
  cases: string[];
  cells: Record<string, Record<string, Cell>>;
  /** Why the release does not qualify, one line each. */
  blocking: string[];
  qualified: boolean;
}

/** The matrix of the criteria's boards and cases, from the history. */
export async function releaseMatrix(h: History, c: Criteria): Promise<ReleaseMatrix> {
  const reports = await analyse(h, { boards: c.boards, since: c.since });
  const cases = c.required_cases.length ? c.required_cases : [...new Set(reports.flatMap((b) => b.cases.map((x) => x.case)))].sort();
  const cells: ReleaseMatrix['cells'] = {};
  const blocking: string[] = [];
  // A release is qualified by runs, never by their absence.
  if (cases.length === 0) blocking.push(`no runs recorded on ${c.boards.join(', ')}${c.since ? ` since ${c.since}` : ''}: nothing qualifies this release`);
  for (const board of c.boards) {
    cells[board] = {};
    const report = reports.find((b) => b.board === board);
    if (!report && cases.length) blocking.push(`${board}: no run recorded on this board`);
    for (const name of cases) {
      const cr = report?.cases.find((x) => x.case === name);
      const decided = cr?.decided[cr.decided.length - 1];
      const cell: Cell = decided
        ? { verdict: decided.verdict, started: decided.started, reason: decided.reason, labErrorSince: cr?.latest.verdict === 'error' }
        : { verdict: 'not run', reason: cr ? `no decided run (lab errors or runner bugs only): ${cr.latest.reason}` : 'no run recorded' };
      cells[board][name] = cell;
      if (cell.verdict !== 'pass') blocking.push(`${board} / ${name}: ${cell.verdict}${cell.reason ? ` (${cell.reason})` : ''}`);
    }
    for (const cr of report?.cases ?? []) {
      if (cases.includes(cr.case)) continue;
      if ((cr.status === 'new-failure' || cr.status === 'still-failing') && cr.lastGood) {
        blocking.push(`${board} / ${cr.case}: unresolved regression since ${cr.firstBad?.started.slice(0, 10)} (not a required case, but it passed before)`);
      }
    }
  }
  return { boards: c.boards, cases, cells, blocking, qualified: blocking.length === 0 };
}

const mark = (cell: Cell) =>
  (cell.verdict === 'pass' ? 'PASS' : cell.verdict === 'not run' ? 'not run' : cell.verdict.toUpperCase()) + (cell.labErrorSince ? ' (lab error since)' : '');

export function matrixMarkdown(m: ReleaseMatrix): string {
  const out = [
    `# Release qualification: ${m.qualified ? 'QUALIFIED' : 'NOT QUALIFIED'}`,
    '',
    `| case | ${m.boards.join(' | ')} |`,
    `|---|${m.boards.map(() => '---').join('|')}|`,
    ...m.cases.map((c) => `| ${c} | ${m.boards.map((b) => mark(m.cells[b][c])).join(' | ')} |`),
    '',
  ];
  if (m.blocking.length) out.push('Blocking:', ...m.blocking.map((b) => `- ${b}`), '');
  return out.join('\n');
}
