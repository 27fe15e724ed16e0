// Release qualification of one build of the hypervisor: does build B pass every required
// case on every board the release needs? Only B's own runs decide; earlier builds only say
// what "required" means and where a failure is a regression.
//
// Per board, the required cases are, in this order of precedence added together:
//   the criteria's `required_cases` (every board) and `[board.<name>] required_cases`, and
//   `--require`; when none of them names a case for a board, the cases that board ran
//   since --since, or else the cases it ran on the build before B (so board-specific case
//   names such as TGOSKits' `smoke/roc-rk3568-pc-linux` are required only where they ran).
// A required cell blocks unless B passed it:
//   not run       B never ran the case on that board (the output says what to run)
//   lab errors    B ran it only into lab errors: the build never ran there
//   fail          B's decided runs failed (fail or timeout); "regression" when the case
//                 passed on an earlier build there, whatever its flakiness before
//   flaky         B both passed and failed it: blocks unless allowed by name (allow_flaky)
// A case that is not required but passed on the board's previous build and fails on B
// blocks too: a regression is never hidden by a short list of required cases.
import path from 'node:path';
import { z } from 'zod';
import { readToml, validate } from '../config/toml.js';
import { shown } from '../config/paths.js';
import { ConfigError } from '../errors.js';
import type { History } from '../history/store.js';
import {
  buildBefore,
  buildKnown,
  casesSince,
  lastPassBefore,
  newestBuild,
  runsOfBuild,
  type BuildRun,
} from '../history/builds.js';
import { html, trusted } from './html.js';

const caseList = z.array(z.string().min(1)).default([]);
export const criteriaSchema = z
  .object({
    /** The boards the release must pass on. */
    boards: z.array(z.string().min(1)).min(1),
    /** Cases that must pass on every board. */
    required_cases: caseList,
    /** Cases that must pass on one board (board-specific case names). */
    board: z.record(z.object({ required_cases: caseList }).strict()).default({}),
    /** Cases whose mixed results on the build do not block (they are still listed). */
    allow_flaky: caseList,
    /** The cases a board ran since this ISO date are its required cases (when none named). */
    since: z.string().optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    for (const b of Object.keys(c.board))
      if (!c.boards.includes(b))
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['board', b],
          message: `board.${b} is not one of boards (${c.boards.join(', ')})`,
        });
  });

export type Criteria = z.infer<typeof criteriaSchema>;

export function readCriteria(file: string): Criteria {
  return validate(criteriaSchema, readToml(file), shown(file));
}

export interface GateOptions {
  criteria?: Criteria;
  /** Boards added to the criteria's (or the only boards, without criteria). */
  boards?: string[];
  /** Cases added to every board's required cases. */
  require?: string[];
  allowFlaky?: string[];
  /** ISO time; overrides the criteria's. */
  since?: string;
  /** The build to qualify; default: the newest recorded on the boards. */
  build?: string;
}

export type CellState = 'pass' | 'fail' | 'flaky' | 'lab errors' | 'not run';

export interface Cell {
  state: CellState;
  required: boolean;
  /** B's runs of the case on the board, oldest first. */
  runs: BuildRun[];
  /** The run the cell shows: the latest decided one, else the latest. */
  shown?: BuildRun;
  /** For a failure: the last pass before B on this board, of another build. */
  lastGood?: BuildRun;
  /** The flaky cell is allowed by the criteria. */
  allowed?: boolean;
}

export interface BoardGate {
  board: string;
  /** Where the required cases came from. */
  requiredFrom: 'criteria' | 'since' | 'previous build' | 'this build' | 'none';
  previousBuild?: string;
  required: string[];
  cells: Record<string, Cell>;
}

export interface ReleaseGate {
  build: string;
  /** The build was not given: the newest recorded on the boards. */
  buildChosen: boolean;
  boards: BoardGate[];
  /** Every required case of any board, for the matrix's columns. */
  cases: string[];
  /** Why the build does not qualify, one line each, with what to do. */
  blocking: string[];
  /** Mixed results on B: allowed by the criteria, or blocking (also in `blocking`). */
  flaky: string[];
  qualified: boolean;
  generated: string;
}

const decided = (r: BuildRun) => r.verdict === 'pass' || r.verdict === 'fail' || r.verdict === 'timeout';

/** A build's runs of one case on one board, decided: lab errors decide nothing. */
export function cellOf(runs: BuildRun[], required: boolean): Cell {
  const d = runs.filter(decided);
  const latest = d[d.length - 1] ?? runs[runs.length - 1];
  const passes = d.filter((r) => r.verdict === 'pass').length;
  const state: CellState = !runs.length
    ? 'not run'
    : !d.length
      ? 'lab errors'
      : passes === d.length
        ? 'pass'
        : passes
          ? 'flaky'
          : 'fail';
  return { state, required, runs, shown: latest };
}

/** One line saying what to run to decide a cell. */
const toRun = (board: string, name: string, suite: string | undefined, build: string) =>
  `hil run -b ${board} -s ${suite || name} --build ${build}`;

/** The gate's answer for one build: boards x required cases, and why not. */
export async function releaseGate(h: History, o: GateOptions): Promise<ReleaseGate> {
  const c = o.criteria;
  const boards = [...new Set([...(c?.boards ?? []), ...(o.boards ?? [])])];
  if (!boards.length)
    throw new ConfigError(
      'say which boards the release must pass on: --criteria release.toml, or --board B (repeatable)',
    );
  const since = o.since ?? c?.since;
  let build = o.build;
  const buildChosen = build === undefined;
  if (build === undefined) {
    build = await newestBuild(h.db, boards);
    if (!build)
      throw new ConfigError(
        `no build recorded on ${boards.join(', ')}: nothing to qualify (runs record their build: hil run --build B, or from the workspace's git commit)`,
      );
  }
  const unknown = !buildChosen && !(await buildKnown(h.db, build));
  const allow = new Set([...(c?.allow_flaky ?? []), ...(o.allowFlaky ?? [])]);
  const runs = await runsOfBuild(h.db, build, boards);
  const ran = since ? await casesSince(h.db, boards, since) : undefined;
  const blocking: string[] = [];
  const flaky: string[] = [];
  const gates: BoardGate[] = [];
  for (const board of boards) {
    const mine = runs.filter((r) => r.board === board);
    const byCase = new Map<string, BuildRun[]>();
    for (const r of mine) byCase.set(r.case, [...(byCase.get(r.case) ?? []), r]);
    const named = [
      ...new Set([...(c?.required_cases ?? []), ...(c?.board[board]?.required_cases ?? []), ...(o.require ?? [])]),
    ];
    let required = named;
    let requiredFrom: BoardGate['requiredFrom'] = 'criteria';
    let previousBuild: string | undefined;
    if (!named.length) {
      if (ran) {
        required = ran.get(board) ?? [];
        requiredFrom = 'since';
      } else {
        const firstOfB = mine[0]?.started ?? new Date().toISOString();
        previousBuild = await buildBefore(h.db, board, build, firstOfB);
        if (previousBuild) {
          required = [...new Set((await runsOfBuild(h.db, previousBuild, [board])).map((r) => r.case))].sort();
          requiredFrom = 'previous build';
        } else {
          required = [...byCase.keys()].sort();
          requiredFrom = 'this build';
        }
      }
      if (!required.length) requiredFrom = 'none';
    }
    const gate: BoardGate = { board, requiredFrom, previousBuild, required, cells: {} };
    gates.push(gate);
    if (!required.length) {
      blocking.push(
        `${board}: no required case known (no run of this board${since ? ` since ${since.slice(0, 10)}` : ''}): name ` +
          `its cases in the criteria ([board."${board}"] required_cases) and run them with --build ${build}`,
      );
      continue;
    }
    for (const name of [...new Set([...required, ...byCase.keys()])]) {
      const cell = cellOf(byCase.get(name) ?? [], required.includes(name));
      gate.cells[name] = cell;
      if (cell.state === 'fail' || cell.state === 'flaky') {
        const firstOfCase = cell.runs[0].started;
        cell.lastGood = await lastPassBefore(h.db, board, name, build, firstOfCase);
      }
      const where = `${board} / ${name}`;
      const s = cell.shown;
      switch (cell.state) {
        case 'not run':
          blocking.push(`${where}: not run on build ${build}: run \`${toRun(board, name, undefined, build)}\``);
          break;
        case 'lab errors':
          blocking.push(
            `${where}: only lab errors on build ${build} (${cell.runs.length}; last: ${s!.reason}): the build never ran there; fix the lab, then \`${toRun(board, name, s!.suite, build)}\``,
          );
          break;
        case 'fail': {
          const was = cell.lastGood
            ? `regression: passed on build ${cell.lastGood.build} (${cell.lastGood.started.slice(0, 10)})`
            : 'never passed on this board before';
          if (cell.required || cell.lastGood)
            blocking.push(
              `${where}: ${s!.verdict} on build ${build} (${s!.reason}); ${was}${cell.required ? '' : ' (not a required case, but it passed before)'}`,
            );
          break;
        }
        case 'flaky': {
          const n = cell.runs.filter(decided);
          const line = `${where}: flaky on build ${build} (${n.filter((r) => r.verdict === 'pass').length} passed, ${n.filter((r) => r.verdict !== 'pass').length} failed)`;
          cell.allowed = allow.has(name);
          flaky.push(`${line}${cell.allowed ? ' (allowed by the criteria)' : ''}`);
          if (!cell.allowed && (cell.required || cell.lastGood))
            blocking.push(`${line}: blocks unless the criteria allow it (allow_flaky = ["${name}"])`);
          break;
        }
        case 'pass':
          break;
      }
    }
  }
  // Not an error of usage (the build may simply not have run yet), but said first.
  if (unknown)
    blocking.unshift(
      `build ${build}: no run of it is recorded on any board (names come from hil run --build, HIL_BUILD, the workspace's 12-hex git commit, or images:...)`,
    );
  const cases = [...new Set(gates.flatMap((g) => g.required))].sort();
  return {
    build,
    buildChosen,
    boards: gates,
    cases,
    blocking,
    flaky,
    qualified: blocking.length === 0,
    generated: new Date().toISOString(),
  };
}

const MARK: Record<CellState, string> = {
  pass: 'PASS',
  fail: 'FAIL',
  flaky: 'FLAKY',
  'lab errors': 'LAB ERRORS',
  'not run': 'not run',
};
const mark = (cell?: Cell) =>
  !cell?.required ? '' : MARK[cell.state] + (cell.state === 'flaky' && cell.allowed ? ' (allowed)' : '');
/** A Markdown table cell: no pipe or newline of a run's text breaks the table. */
export const mdCell = (s: string) =>
  s
    .replace(/\\/g, '\\\\')
    .replace(/\|/g, '\\|')
    .replace(/[\r\n]+/g, ' ')
    .replace(/</g, '&lt;');

export function gateMarkdown(g: ReleaseGate): string {
  const out = [
    `# Release qualification of build ${mdCell(g.build)}: ${g.qualified ? 'QUALIFIED' : 'NOT QUALIFIED'}`,
    '',
    ...(g.buildChosen ? [`(the newest build recorded on these boards; give --build to qualify another)`, ''] : []),
    `| case | ${g.boards.map((b) => mdCell(b.board)).join(' | ')} |`,
    `|---|${g.boards.map(() => '---').join('|')}|`,
    ...g.cases.map((c) => `| ${mdCell(c)} | ${g.boards.map((b) => mark(b.cells[c])).join(' | ')} |`),
    '',
  ];
  for (const b of g.boards)
    if (b.requiredFrom === 'previous build' || b.requiredFrom === 'this build' || b.requiredFrom === 'since')
      out.push(
        `- ${mdCell(b.board)}: required cases are ${
          b.requiredFrom === 'previous build'
            ? `those it ran on build ${mdCell(b.previousBuild!)}`
            : b.requiredFrom === 'since'
              ? 'those it ran since --since'
              : 'those it ran on this build (no earlier build)'
        }`,
      );
  out.push('');
  if (g.blocking.length) out.push('Blocking:', ...g.blocking.map((b) => `- ${mdCell(b)}`), '');
  if (g.flaky.length) out.push('Flaky on this build:', ...g.flaky.map((b) => `- ${mdCell(b)}`), '');
  return out.join('\n');
}

/** The gate as one static page: a row per board, a column per required case, each cell
 * linking to the run it shows (relative to `outDir`, so the folder can be published). */
export function gateHtml(g: ReleaseGate, outDir: string): string {
  const link = (r?: BuildRun) => {
    if (!r?.run_dir) return undefined;
    const target = r.transcript
      ? path.join(r.run_dir, r.transcript, 'console.log')
      : path.join(r.run_dir, 'results.json');
    return path.relative(outDir, target).split(path.sep).map(encodeURIComponent).join('/');
  };
  const cell = (b: BoardGate, name: string) => {
    const c = b.cells[name];
    if (!c?.required) return html`<td class="none"></td>`;
    const href = link(c.shown);
    const title = c.shown
      ? `${c.shown.verdict} ${c.shown.started.slice(0, 16).replace('T', ' ')}: ${c.shown.reason}`
      : 'no run of this build';
    const text = mark(c);
    return html`<td class="${c.state.replace(' ', '-')}" title="${title}">${href ? html`<a href="${href}">${text}</a>` : text}</td>`;
  };
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Release qualification of build ${g.build}</title>
<style>${trusted(
    'body{font:14px system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}' +
      '.pass{background:#c8f0c8}.fail{background:#f6c0c0}.flaky{background:#fbe3a6}.lab-errors{background:#ddd}.not-run{background:#fff;color:#a00}.none{background:#f7f7f7}' +
      '.verdict{font-size:1.4em}.qualified{color:#070}.not-qualified{color:#a00}',
  )}</style></head>
<body>
<h1>Release qualification of build <code>${g.build}</code></h1>
<p class="verdict ${g.qualified ? 'qualified' : 'not-qualified'}">${g.qualified ? 'QUALIFIED' : 'NOT QUALIFIED'}</p>
<table><thead><tr><th>board</th>${g.cases.map((c) => html`<th>${c}</th>`)}</tr></thead>
<tbody>${g.boards.map((b) => html`<tr data-board="${b.board}"><th>${b.board}</th>${g.cases.map((c) => cell(b, c))}</tr>`)}</tbody></table>
${g.blocking.length ? html`<h2>Blocking</h2><ul class="blocking">${g.blocking.map((x) => html`<li>${x}</li>`)}</ul>` : ''}
${g.flaky.length ? html`<h2>Flaky on this build</h2><ul class="flaky">${g.flaky.map((x) => html`<li>${x}</li>`)}</ul>` : ''}
<p>Generated ${g.generated.slice(0, 16).replace('T', ' ')} UTC.</p>
</body></html>
`.text;
}
