// Two builds side by side, for a pull request: what the head build (the PR) breaks, fixes
// and leaves failing against the base build (its target branch), per board and case. Each
// side's cell is decided as the release gate decides one (release.ts): only that build's
// own runs, lab errors deciding nothing. Exit 1 on a new failure.
import { ConfigError } from '../errors.js';
import type { History } from '../history/store.js';
import { runsOfBuild, type BuildRun } from '../history/builds.js';
import { cellOf, mdCell, type Cell } from './release.js';

export type Change = 'new failure' | 'fixed' | 'still failing' | 'passing' | 'not run on base' | 'not run on head';

export interface CompareRow {
  board: string;
  case: string;
  change: Change;
  base: Cell;
  head: Cell;
}

export interface Comparison {
  base: string;
  head: string;
  boards: string[];
  rows: CompareRow[];
  counts: Record<Change, number>;
}

const bad = (c: Cell) => c.state === 'fail' || c.state === 'flaky';
const undecided = (c: Cell) => c.state === 'not run' || c.state === 'lab errors';

function changeOf(base: Cell, head: Cell): Change {
  if (undecided(head)) return 'not run on head';
  if (undecided(base)) return 'not run on base';
  if (bad(head)) return bad(base) ? 'still failing' : 'new failure';
  return bad(base) ? 'fixed' : 'passing';
}

export const CHANGES: Change[] = [
  'new failure',
  'fixed',
  'still failing',
  'not run on head',
  'not run on base',
  'passing',
];

/** Base against head on these boards (every board either ran, when none given). */
export async function compareBuilds(
  h: History,
  o: { base: string; head: string; boards?: string[] },
): Promise<Comparison> {
  if (o.base === o.head) throw new ConfigError(`--base and --head are the same build (${o.base}): give two builds`);
  const [base, head] = await Promise.all([runsOfBuild(h.db, o.base, o.boards), runsOfBuild(h.db, o.head, o.boards)]);
  const key = (r: BuildRun) => `${r.board}\u0000${r.case}`;
  const group = (runs: BuildRun[]) => {
    const m = new Map<string, BuildRun[]>();
    for (const r of runs) m.set(key(r), [...(m.get(key(r)) ?? []), r]);
    return m;
  };
  const b = group(base);
  const hd = group(head);
  const keys = [...new Set([...b.keys(), ...hd.keys()])].sort();
  const rows = keys.map((k) => {
    const [board, name] = k.split('\u0000');
    const bc = cellOf(b.get(k) ?? [], true);
    const hc = cellOf(hd.get(k) ?? [], true);
    return { board, case: name, base: bc, head: hc, change: changeOf(bc, hc) };
  });
  const counts = Object.fromEntries(CHANGES.map((c) => [c, rows.filter((r) => r.change === c).length])) as Record<
    Change,
    number
  >;
  const boards = o.boards?.length ? o.boards : [...new Set(rows.map((r) => r.board))].sort();
  return { base: o.base, head: o.head, boards, rows, counts };
}

const state = (c: Cell) => {
  const s = c.shown;
  if (!s) return 'not run';
  const verdict = c.state === 'lab errors' ? 'lab errors only' : c.state;
  return `${verdict}${c.state !== 'pass' && s.reason ? `: ${s.reason}` : ''}`;
};

/** Markdown fit for $GITHUB_STEP_SUMMARY or a PR comment: the changes first. */
export function compareMarkdown(c: Comparison): string {
  const n = c.counts;
  const out = [
    `## Board tests: ${mdCell(c.head)} against ${mdCell(c.base)}`,
    '',
    `${n['new failure'] ? `**${n['new failure']} new failure(s)**` : 'No new failure'}, ${n.fixed} fixed, ` +
      `${n['still failing']} still failing, ${n.passing} passing; not run: ${n['not run on head']} on head, ` +
      `${n['not run on base']} on base (boards: ${c.boards.map(mdCell).join(', ') || 'none'})`,
    '',
  ];
  for (const change of CHANGES) {
    if (change === 'passing') continue;
    const rows = c.rows.filter((r) => r.change === change);
    if (!rows.length) continue;
    out.push(
      `### ${change[0].toUpperCase()}${change.slice(1)}`,
      '',
      '| board | case | base | head |',
      '|---|---|---|---|',
    );
    for (const r of rows)
      out.push(`| ${mdCell(r.board)} | ${mdCell(r.case)} | ${mdCell(state(r.base))} | ${mdCell(state(r.head))} |`);
    out.push('');
  }
  if (!c.rows.length)
    out.push(`Neither build has a run recorded${c.boards.length ? ` on ${c.boards.join(', ')}` : ''}.`, '');
  return out.join('\n');
}
