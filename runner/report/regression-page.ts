// The regression report as people read it: Markdown (for the terminal, a CI summary, a
// mail) and one static HTML page that opens from the file system with no server and no
// script. First an overview of every board (its counts and newest run, linking to its
// section) and the lab errors of all boards by cause; then per board the lists, a status
// strip per case (green pass, red fail or timeout, grey lab error, over the last runs; a
// pale cell for a night the board ran without the case; a bar where the case file changed),
// a chart of boot time per night and one per metric the guests print (a metric that never
// changes is one line of text). Every run the page shows links to its results.json and the
// case's console.log, copied next to the page (runs/, publishRuns): the folder can be
// published anywhere. The HTML is written with auto-escaping templates (report/html.ts),
// the Markdown through md(): nothing a run recorded can become markup.
import { createHash } from 'node:crypto';
import { constants, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { HistoryRecord } from '../model/history.js';
import type { RunRow } from '../history/queries.js';
import { html, trusted, type SafeHtml } from './html.js';
import {
  causes,
  runLabel,
  STATUS_TITLES,
  stripCells,
  when,
  type BoardReport,
  type CaseReport,
  type CaseStatus,
  type Cause,
  type Decidable,
  type StripCell,
} from './regressions.js';

const LISTED: CaseStatus[] = ['new-failure', 'still-failing', 'fixed', 'flaky'];

/** A report as the page shows it: summaries in the strips and lists, the runs named in
 * full (latest, last good, first bad) as full records. */
type Shown = BoardReport<RunRow, HistoryRecord>;
type ShownCase = CaseReport<RunRow, HistoryRecord>;

const counts = (b: Shown) =>
  Object.fromEntries(LISTED.map((s) => [s, b.cases.filter((c) => c.status === s).length])) as Record<
    CaseStatus,
    number
  >;

/** A board a health check found bad (runner/lab/health.ts): out of service, listed apart. */
export interface OutOfService {
  board: string;
  at: string;
  reason?: string;
}

/** Where the page links a run: its results.json and the case's console.log, relative to the
 * page (absent: the run's folder is gone, or the page was made without copying). */
export interface RunLinks {
  results?: string;
  console?: string;
}
export type LinkOf = (r: Pick<Decidable, 'run_dir' | 'transcript'>) => RunLinks;
const noLinks: LinkOf = () => ({});

export interface PageOptions {
  title?: string;
  /** How many runs a strip shows. */
  window?: number;
  generated?: string;
  outOfService?: OutOfService[];
  links?: LinkOf;
}

const outOfServiceTitle = 'Boards out of service (failed their health check; they get no runs until a check passes)';
const labTitle = 'Lab errors by cause (kept apart: the lab failed, not the hypervisor)';
const bugTitle = 'Runner bugs by cause (kept apart: the runner broke, not the lab or the hypervisor)';
const nightNote =
  'A night is a UTC day. Strips show the last runs, oldest first; between and after them, the nights the board ran and the case did not; a bar where the case file changed.';

/** The newest run of a board, for the overview. */
const newest = (b: Shown) =>
  b.cases
    .map((c) => c.latest)
    .reduce<HistoryRecord | undefined>((a, r) => (!a || r.started > a.started ? r : a), undefined);
const buildOf = (r: Pick<Decidable, 'build'>) => (r.build ? ` build ${r.build}` : '');

// ---------------------------------------------------------------------------------------
// Copying the linked runs next to the page

const SAFE = /[^A-Za-z0-9._-]+/g;
/** A run's folder under runs/: its own name, and a digest of where it was (two labs' runs
 * may share a name). */
const publishedName = (runDir: string) =>
  `${path.basename(runDir).replace(SAFE, '_').slice(0, 80)}-${createHash('sha1').update(runDir).digest('hex').slice(0, 8)}`;
/** A URL path relative to the page, each part encoded. */
const href = (...parts: string[]) =>
  parts
    .flatMap((p) => p.split('/'))
    .filter(Boolean)
    .map(encodeURIComponent)
    .join('/');

/** Copies a file unless the copy is there already (the same size, not older). */
function copyOnce(from: string, to: string): void {
  const src = statSync(from);
  if (existsSync(to)) {
    const dst = statSync(to);
    if (dst.size === src.size && dst.mtimeMs >= src.mtimeMs) return;
  }
  mkdirSync(path.dirname(to), { recursive: true });
  // A copy-on-write clone where the file system has them, else a copy.
  copyFileSync(from, to, constants.COPYFILE_FICLONE);
}

/** Every run the page shows, with a folder. */
function shownRuns(boards: Shown[]): Pick<Decidable, 'run_dir' | 'transcript'>[] {
  const out: Pick<Decidable, 'run_dir' | 'transcript'>[] = [];
  for (const b of boards) {
    for (const c of b.cases)
      out.push(
        ...c.strip,
        c.latest,
        ...[c.now, c.lastGood, c.firstBad, c.passedBefore].filter((r): r is HistoryRecord => !!r),
      );
    for (const g of [...b.labCauses, ...b.bugCauses]) out.push(g.first, g.last);
  }
  return out.filter((r) => r.run_dir);
}

/**
 * Copies what the page links to into `out/runs/`: per run whose folder still exists, its
 * results.json, and the console.log of each case the page shows of it, at the same place
 * relative to results.json as in the run's folder (results.json's `transcript` still
 * names it). Runs no longer shown are removed from runs/; files copied before are kept.
 * Returns where the page links each run (relative to out/).
 */
export function publishRuns(boards: Shown[], out: string): LinkOf {
  const dest = path.join(out, 'runs');
  const results = new Map<string, string | undefined>();
  const consoles = new Map<string, string | undefined>();
  const key = (r: Pick<Decidable, 'run_dir' | 'transcript'>) => `${r.run_dir}\u0000${r.transcript ?? ''}`;
  const kept = new Set<string>();
  for (const r of shownRuns(boards)) {
    const runDir = r.run_dir!;
    if (!results.has(runDir)) {
      const file = path.join(runDir, 'results.json');
      const name = publishedName(runDir);
      if (existsSync(file)) {
        copyOnce(file, path.join(dest, name, 'results.json'));
        results.set(runDir, href('runs', name, 'results.json'));
        kept.add(name);
      } else results.set(runDir, undefined);
    }
    if (!results.get(runDir) || !r.transcript || consoles.has(key(r))) continue;
    // The case's folder inside the run's: never a way out of it.
    const rel = path.normalize(r.transcript);
    const log = path.join(runDir, rel, 'console.log');
    if (path.isAbsolute(rel) || rel.split(path.sep).includes('..') || !existsSync(log)) {
      consoles.set(key(r), undefined);
      continue;
    }
    const name = publishedName(runDir);
    copyOnce(log, path.join(dest, name, rel, 'console.log'));
    consoles.set(key(r), href('runs', name, rel, 'console.log'));
  }
  if (existsSync(dest))
    for (const f of readdirSync(dest)) if (!kept.has(f)) rmSync(path.join(dest, f), { recursive: true, force: true });
  return (r) => (r.run_dir ? { results: results.get(r.run_dir), console: consoles.get(key(r)) } : {});
}

// ---------------------------------------------------------------------------------------
// Markdown

/**
 * Text for a Markdown table cell or heading: nothing in it can end the cell, start a new
 * line, or become markup (a link, emphasis, code, HTML).
 */
export const md = (s: string) =>
  s
    .replace(/\r\n|\r|\n/g, ' ')
    .replace(/[\\`*[\]|~]/g, (c) => `\\${c}`)
    .replace(/(^|\W)_|_(?=\W|$)/g, (m) => m.replace('_', '\\_'))
    .replace(/&(?=#?\w+;)/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');

/** GitHub's anchor of a heading. */
const slug = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
const boardHeading = (b: Shown) => `${b.board}${b.soc ? ` (${b.soc})` : ''}`;

const letter = (r: Decidable) =>
  r.verdict === 'pass'
    ? 'P'
    : r.verdict === 'error'
      ? 'E'
      : r.verdict === 'internal'
        ? 'B'
        : r.verdict === 'timeout'
          ? 'T'
          : 'F';

/** A strip in letters: P F T E B, `·` a night without the case (`·N·` for more than three),
 * `‖` where the case file changed. */
export function letters(cells: StripCell<Decidable>[]): string {
  return cells
    .map((c) =>
      'gap' in c
        ? c.gap.length > 3
          ? `·${c.gap.length}·`
          : '·'.repeat(c.gap.length)
        : `${c.configFrom !== undefined ? '‖' : ''}${letter(c.run)}`,
    )
    .join('');
}

function mdLinks(l: RunLinks): string {
  const out = [l.console && `[console](${l.console})`, l.results && `[results](${l.results})`].filter(Boolean);
  return out.length ? ` ${out.join(' ')}` : '';
}

function mdCauses(list: Cause[], links: LinkOf, where: 'cases' | 'boards'): string[] {
  const out = [`| phase | cause | count | first | last | ${where} |`, '|---|---|---|---|---|---|'];
  for (const g of list)
    out.push(
      `| ${md(g.phase ?? '')} | ${md(g.cause)} | ${g.count} | ${when(g.first)} | ` +
        `${when(g.last)}${mdLinks(links(g.last))} | ${md(g[where].slice(0, 8).join(', '))}` +
        `${g[where].length > 8 ? ` and ${g[where].length - 8} more` : ''} |`,
    );
  return out;
}

/** A metric's values, as one line of text when they never change. */
function spread(values: number[], unit?: string) {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const u = unit ? ` ${unit}` : '';
  return { constant: lo === hi, lo, hi, text: lo === hi ? `${num(lo)}${u}` : `${num(lo)} to ${num(hi)}${u}` };
}
const num = (v: number) => (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6))));

export function toMarkdown(boards: Shown[], o: PageOptions = {}): string {
  const links = o.links ?? noLinks;
  const out = [`# ${md(o.title ?? 'Regression report')}`, ''];
  const bad = o.outOfService ?? [];
  if (bad.length) {
    out.push(`## ${outOfServiceTitle}`, '', '| board | since | why |', '|---|---|---|');
    for (const b of bad)
      out.push(`| ${md(b.board)} | ${b.at.slice(0, 16).replace('T', ' ')} | ${md(b.reason ?? '')} |`);
    out.push('');
  }
  if (!boards.length) out.push('No runs recorded for this selection.', '');
  if (boards.length) {
    out.push(
      '## Overview',
      '',
      '| board | runs | new failures | still failing | fixed | flaky | lab errors | newest run |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const b of boards) {
      const n = counts(b);
      const last = newest(b);
      out.push(
        `| [${md(b.board)}](#${slug(boardHeading(b))}) | ${b.runs} | ${n['new-failure']} | ${n['still-failing']} | ` +
          `${n.fixed} | ${n.flaky} | ${b.labErrorCount} | ${last ? `${when(last)}${md(buildOf(last))}` : ''} |`,
      );
    }
    out.push('');
    const lab = causes(boards.flatMap((b) => b.labErrors));
    if (lab.length && boards.length > 1)
      out.push(`## Lab errors of all boards by cause`, '', ...mdCauses(lab, links, 'boards'), '');
    out.push(
      `${nightNote} Strips: P pass, F fail, T timeout, E lab error, B runner bug, · a night without the case (·N· for N nights), ‖ the case file changed.`,
      '',
    );
  }
  for (const b of boards) {
    const n = counts(b);
    out.push(
      `## ${md(boardHeading(b))}`,
      '',
      `${b.runs} runs, ${b.cases.length} cases: ${n['new-failure']} new failures, ${n['still-failing']} still failing, ${n.fixed} fixed, ${n.flaky} flaky, ${b.labErrorCount} lab errors`,
      '',
    );
    if (b.bootTrend.length) {
      const s = spread(
        b.bootTrend.map((p) => p.median_s),
        's',
      );
      out.push(
        `Boot time (power-on to hand-off), median per night: ${b.bootTrend[b.bootTrend.length - 1].median_s} s on ` +
          `${b.bootTrend[b.bootTrend.length - 1].day}; ${s.text} over ${b.bootTrend.length} nights.`,
        '',
      );
    }
    const strip = (c: ShownCase) => letters(stripCells(c.strip, b.nights));
    for (const s of LISTED) {
      const list = b.cases.filter((c) => c.status === s);
      if (!list.length) continue;
      out.push(`### ${STATUS_TITLES[s]}`, '');
      if (s === 'new-failure' || s === 'still-failing') {
        out.push(
          '| case | guest | verdict now | last good | first bad | last runs (oldest first) |',
          '|---|---|---|---|---|---|',
        );
        for (const c of list) {
          const now = c.now ?? c.latest;
          out.push(
            `| ${md(c.case)} | ${md(c.guest)} | ${now.verdict}: ${md(now.reason)}${mdLinks(links(now))} | ` +
              `${mdGood(c, links)} | ` +
              `${c.firstBad ? `${md(runLabel(c.firstBad))}${mdLinks(links(c.firstBad))}` : ''} | ${strip(c)} |`,
          );
        }
      } else if (s === 'flaky') {
        out.push('| case | guest | last runs (oldest first) | changes |', '|---|---|---|---|');
        for (const c of list) out.push(`| ${md(c.case)} | ${md(c.guest)} | ${strip(c)} | ${c.flips} |`);
      } else {
        out.push('| case | guest | now | last runs (oldest first) |', '|---|---|---|---|');
        for (const c of list)
          out.push(
            `| ${md(c.case)} | ${md(c.guest)} | ${md(runLabel(c.now ?? c.latest))}${mdLinks(links(c.now ?? c.latest))} | ${strip(c)} |`,
          );
      }
      out.push('');
    }
    const apart = (list: Cause[], count: number, shown: number, title: string) => {
      if (!list.length) return;
      out.push(`### ${title}`, '', ...mdCauses(list, links, 'cases'));
      if (count > shown) out.push('', `The newest ${shown} of ${count}, by cause.`);
      out.push('');
    };
    apart(b.bugCauses, b.runnerBugCount, b.runnerBugs.length, bugTitle);
    apart(b.labCauses, b.labErrorCount, b.labErrors.length, labTitle);
    if (b.metricTrends.length) {
      out.push(
        '### Metrics the guests printed, median per night',
        '',
        '| case | metric | latest | over the nights | nights |',
        '|---|---|---|---|---|',
      );
      for (const m of b.metricTrends) {
        const s = spread(
          m.points.map((p) => p.median),
          m.unit,
        );
        const last = m.points[m.points.length - 1];
        out.push(
          `| ${md(m.case)} | ${md(m.name)} | ${num(last.median)}${m.unit ? ` ${md(m.unit)}` : ''} (${last.day}) | ${md(s.constant ? `${s.text} on every night` : s.text)} | ${m.points.length} |`,
        );
      }
      out.push('');
    }
  }
  return out.join('\n');
}

/** The last good run of a failure: never "never passed" for a case that passed under its
 * previous configuration. */
function mdGood(c: ShownCase, links: LinkOf): string {
  if (c.lastGood) return `${md(runLabel(c.lastGood))}${mdLinks(links(c.lastGood))}`;
  if (c.passedBefore)
    return (
      `none under this configuration; last pass ${md(runLabel(c.passedBefore))}` +
      `${mdLinks(links(c.passedBefore))} under configuration ${md(c.passedBefore.config)}` +
      `${c.configChanged ? ` (case file changed ${c.configChanged.slice(0, 16).replace('T', ' ')})` : ''}`
    );
  return 'never passed';
}

// ---------------------------------------------------------------------------------------
// HTML

const runTitle = (r: Decidable) => `${when(r)}${buildOf(r)}: ${r.verdict}${r.reason ? `: ${r.reason}` : ''}`;

function strip(cells: StripCell<RunRow>[], runs: number, window: number, links: LinkOf): SafeHtml {
  const shown = cells.map((c) => {
    if ('gap' in c) {
      const t =
        c.gap.length === 1
          ? `${c.gap[0]}: the board ran, this case did not`
          : `${c.gap.length} nights the board ran without this case (${c.gap[0]} to ${c.gap[c.gap.length - 1]})`;
      return c.gap.length > 3
        ? html`<span class="cell gap many" title="${t}" data-nights="${c.gap.length}">${c.gap.length}</span>`
        : c.gap.map(
            (d) =>
              html`<span class="cell gap" title="${`${d}: the board ran, this case did not`}" data-nights="1"></span>`,
          );
    }
    const r = c.run;
    const change =
      c.configFrom !== undefined
        ? html`<span class="config-change" title="${`the case file changed: configuration ${c.configFrom} to ${r.config}`}"></span>`
        : '';
    const to = links(r).console ?? links(r).results;
    return to
      ? html`${change}<a class="cell ${r.verdict}" href="${to}" title="${runTitle(r)}" data-build="${r.build ?? ''}" data-started="${r.started}"></a>`
      : html`${change}<span class="cell ${r.verdict}" title="${runTitle(r)}" data-build="${r.build ?? ''}" data-started="${r.started}"></span>`;
  });
  const empty = Array.from({ length: Math.max(0, window - runs) }, () => html`<span class="cell none"></span>`);
  return html`<span class="strip">${empty}${shown}</span>`;
}

/** Ticks of an axis fitted to the values: a little room above and below, never below zero
 * for values that are not. */
export function axis(values: number[]): { lo: number; hi: number } {
  const min = Math.min(...values);
  const max = Math.max(...values);
  const pad = (max - min) * 0.1 || Math.abs(max) * 0.05 || 1;
  return { lo: min >= 0 ? Math.max(0, min - pad) : min - pad, hi: max + pad };
}

/** A tick's label: as many decimals as the span needs. */
function tick(v: number, span: number): string {
  const decimals = Math.min(6, Math.max(0, Math.ceil(-Math.log10(span / 2)) + 1));
  return v.toFixed(decimals);
}

/** A line chart of one value per night, its axis fitted to the values; `unit` labels it. */
function chart(
  pts: { day: string; value: number; runs: number }[],
  o: { board: string; what: string; unit?: string; kind: string; case?: string },
): SafeHtml {
  if (pts.length === 0) return html`<p class="muted">No ${o.what} recorded.</p>`;
  const W = 640,
    H = 160,
    L = 72,
    B = 24;
  const { lo, hi } = axis(pts.map((p) => p.value));
  const u = o.unit ? ` ${o.unit}` : '';
  const x = (i: number) => L + (pts.length === 1 ? (W - L) / 2 : (i * (W - L - 10)) / (pts.length - 1));
  const y = (v: number) => H - B - ((v - lo) / (hi - lo)) * (H - B - 10);
  const line = pts.map((p, i) => `${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
  const dots = pts.map(
    (p, i) =>
      html`<circle cx="${x(i).toFixed(1)}" cy="${y(p.value).toFixed(1)}" r="2.5"><title>${`${p.day}: ${num(p.value)}${u} (median of ${p.runs})`}</title></circle>`,
  );
  const ticks = [lo, (lo + hi) / 2, hi].map(
    (v) =>
      html`${[
        html`<text x="${L - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" `,
        html`class="tick">${tick(v, hi - lo)}${u}</text><line x1="${L}" x2="${W}" y1="${y(v).toFixed(1)}" `,
        html`y2="${y(v).toFixed(1)}" class="grid"/>`,
      ]}`,
  );
  return html`${[
    html`<svg class="trend ${o.kind}" data-board="${o.board}"${o.case ? html` data-case="${o.case}"` : ''} `,
    html`data-metric="${o.what}" data-unit="${o.unit ?? ''}" data-lo="${num(lo)}" data-hi="${num(hi)}" viewBox="0 0 `,
    html`${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${`${o.what} per night on ${o.board}`}">`,
  ]}
${ticks}<polyline points="${line}"/>${dots}
${[
  html`<text x="${L}" y="${H - 6}">${pts[0].day}</text><text x="${W}" y="${H - 6}" `,
  html`text-anchor="end">${pts[pts.length - 1].day}</text></svg>`,
]}`;
}

function runLinks(l: RunLinks): SafeHtml {
  return html`${l.console ? html` <a href="${l.console}" class="console">console</a>` : ''}${l.results ? html` <a href="${l.results}" class="results">results</a>` : ''}`;
}

function runCell(r: HistoryRecord | undefined, links: LinkOf, c?: ShownCase): SafeHtml {
  if (!r && c?.passedBefore) {
    const p = c.passedBefore;
    return html`${[
      html`<td class="passed-before">none under this configuration; last pass `,
      html`${when(p)}${p.build ? html` <code>build ${p.build}</code>` : ''} under configuration `,
      html`<code>${p.config}</code>`,
      html`${c.configChanged ? ` (case file changed ${c.configChanged.slice(0, 16).replace('T', ' ')})` : ''}`,
      html`${runLinks(links(p))}</td>`,
    ]}`;
  }
  if (!r) return html`<td class="muted">never passed</td>`;
  const imgs = r.images.map(
    (i) => html`<code title="${`${i.file} ${i.sha256}`}">${i.role} ${i.sha256.slice(0, 12)}</code> `,
  );
  return html`<td>${when(r)}${r.build ? html` <code>build ${r.build}</code>` : ''}<br>${imgs}${runLinks(links(r))}</td>`;
}

function nowCells(c: ShownCase, s: CaseStatus, links: LinkOf): SafeHtml {
  const now = c.now ?? c.latest;
  if (s === 'new-failure' || s === 'still-failing')
    return html`${[
      html`<td class="now ${now.verdict}">${now.verdict}: ${now.reason}<br>`,
      html`<span class="muted">${when(now)}${buildOf(now)}</span>${runLinks(links(now))}</td>`,
      html`${runCell(c.lastGood, links, c)}${runCell(c.firstBad, links)}`,
    ]}`;
  if (s === 'flaky') return html`<td>${c.flips} changes in the last ${c.strip.length} runs</td>`;
  return html`<td>${when(now)}${buildOf(now)}${runLinks(links(now))}</td>`;
}

function causeTable(list: Cause[], cls: string, where: 'cases' | 'boards', links: LinkOf, board?: string): SafeHtml {
  const rows = list.map(
    (g) =>
      html`${[
        html`<tr class="row ${cls}"${board ? html` data-board="${board}"` : ''} data-phase="${g.phase ?? ''}" `,
        html`data-count="${g.count}"><td>${g.phase ?? ''}</td><td><code>${g.cause}</code><br>`,
        html`<span class="muted" title="the newest occurrence">${g.last.reason}</span></td>`,
        html`<td class="count">${g.count}</td><td>${when(g.first)}</td>`,
        html`<td>${when(g.last)}${runLinks(links(g.last))}</td><td>${g[where].join(', ')}</td></tr>\n`,
      ]}`,
  );
  return html`<table class="list ${cls}s"><thead><tr><th>phase</th><th>cause</th><th>count</th><th>first</th><th>last</th><th>${where}</th></tr></thead><tbody>
${rows}</tbody></table>`;
}

function metricsOf(b: Shown): SafeHtml {
  if (!b.metricTrends.length) return html``;
  const byCase = new Map<string, Shown['metricTrends']>();
  for (const m of b.metricTrends) byCase.set(m.case, [...(byCase.get(m.case) ?? []), m]);
  const parts = [...byCase].map(
    ([name, list]) =>
      html`<h4 class="metric-case">${name}</h4>\n${list.map((m) => {
        const s = spread(
          m.points.map((p) => p.median),
          m.unit,
        );
        if (s.constant)
          return html`${[
            html`<p class="metric constant" data-board="${b.board}" data-case="${m.case}" data-metric="${m.name}" `,
            html`data-unit="${m.unit ?? ''}"><b>${m.name}</b>: ${s.text} on every night (${m.points.length}, `,
            html`${m.points[0].day} to ${m.points[m.points.length - 1].day})</p>\n`,
          ]}`;
        return html`<h5>${m.name}${m.unit ? ` (${m.unit})` : ''}</h5>${chart(
          m.points.map((p) => ({ day: p.day, value: p.median, runs: p.runs })),
          { board: b.board, what: m.name, unit: m.unit, kind: 'metric', case: m.case },
        )}\n`;
      })}`,
  );
  return html`<h3>Metrics the guests printed, median per night</h3>\n${parts}`;
}

function boardSection(b: Shown, window: number, links: LinkOf): SafeHtml {
  const n = counts(b);
  const cellsOf = (c: ShownCase) => strip(stripCells(c.strip, b.nights), c.strip.length, window, links);
  const lists = LISTED.map((s) => {
    const list = b.cases.filter((c) => c.status === s);
    if (!list.length) return '';
    const head =
      s === 'new-failure' || s === 'still-failing'
        ? html`<th>now</th><th>last good</th><th>first bad</th>`
        : s === 'flaky'
          ? html`<th>flips</th>`
          : html`<th>since</th>`;
    const rows = list.map(
      (c) =>
        html`<tr class="row ${s}" data-board="${b.board}" data-case="${c.case}"><td>${c.case}</td><td>${c.guest}</td><td>${cellsOf(c)}</td>${nowCells(c, s, links)}</tr>\n`,
    );
    return html`<h3 class="${s}">${STATUS_TITLES[s]} (${list.length})</h3>
<table class="list ${s}"><thead><tr><th>case</th><th>guest</th><th>last ${window} runs</th>${head}</tr></thead><tbody>
${rows}</tbody></table>`;
  });
  const apart = (list: Cause<RunRow>[], count: number, shown: number, cls: string, title: string) =>
    list.length
      ? html`<h3 class="lab">${title}</h3>
${causeTable(list, cls, 'cases', links, b.board)}${count > shown ? html`<p class="muted">The newest ${shown} of ${count}, by cause.</p>` : ''}`
      : '';
  const all = b.cases.map(
    (c) =>
      html`${[
        html`<tr class="row all" data-board="${b.board}" data-case="${c.case}" data-status="${c.status}">`,
        html`<td>${c.case}</td><td>${c.guest}</td><td>${cellsOf(c)}</td>`,
        html`<td class="status ${c.status}">${c.status}</td></tr>\n`,
      ]}`,
  );
  return html`<section class="board" id="${`board-${b.board}`}" data-board="${b.board}">
<h2>${b.board}${b.soc ? html` <small>${b.soc}</small>` : ''}</h2>
${[
  html`<p class="summary"><b class="new-failure">${n['new-failure']} new failures</b> · ${n['still-failing']} still `,
  html`failing · ${n.fixed} fixed · ${n.flaky} flaky · <span class="lab">${b.labErrorCount} lab `,
  html`errors</span>${b.runnerBugCount ? html` · <span class="bug">${b.runnerBugCount} runner bugs</span>` : ''} · `,
  html`${b.runs} runs of ${b.cases.length} cases</p>`,
]}
${lists}
${apart(b.bugCauses, b.runnerBugCount, b.runnerBugs.length, 'runner-bug', bugTitle)}
${apart(b.labCauses, b.labErrorCount, b.labErrors.length, 'lab-error', labTitle)}
<h3>Boot time (power-on to hand-off), median per night</h3>
${chart(
  b.bootTrend.map((p) => ({ day: p.day, value: p.median_s, runs: p.runs })),
  { board: b.board, what: 'boot time', unit: 's', kind: 'boot' },
)}
${metricsOf(b)}
<details><summary>All ${b.cases.length} cases</summary>
${[
  html`<table class="list all"><thead><tr><th>case</th><th>guest</th><th>last ${window} runs</th><th>status</th></tr>`,
  html`</thead><tbody>`,
]}
${all}</tbody></table></details>
<p><a href="#overview">back to the overview</a></p>
</section>`;
}

function overview(boards: Shown[], bad: OutOfService[]): SafeHtml {
  const rows = boards.map((b) => {
    const n = counts(b);
    const last = newest(b);
    const off = bad.some((x) => x.board === b.board);
    return html`${[
      html`<tr class="row overview" data-board="${b.board}"><td>`,
      html`<a href="${`#board-${b.board}`}">${b.board}</a>${b.soc ? html` <small>${b.soc}</small>` : ''}`,
      html`${off ? html` <b class="out-of-service">out of service</b>` : ''}</td><td class="runs">${b.runs}</td>`,
      html`<td class="new-failure">${n['new-failure']}</td><td class="still-failing">${n['still-failing']}</td>`,
      html`<td class="fixed">${n.fixed}</td><td class="flaky">${n.flaky}</td>`,
      html`<td class="lab-errors">${b.labErrorCount}</td><td class="newest">`,
      html`${last ? html`${when(last)}${last.build ? html` <code>build ${last.build}</code>` : ''}` : ''}</td></tr>\n`,
    ]}`;
  });
  return html`${[
    html`<table class="list overview" id="overview"><thead><tr><th>board</th><th>runs</th><th>new failures</th>`,
    html`<th>still failing</th><th>fixed</th><th>flaky</th><th>lab errors</th><th>newest run</th></tr></thead><tbody>`,
  ]}
${rows}</tbody></table>`;
}

const STYLE = trusted(
  `
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:32px}h2 small{color:#777;font-weight:normal}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;` +
    `vertical-align:top}
th{background:#f5f5f5}.muted{color:#888}code{font-size:12px;background:#f3f3f3;padding:0 3px}
.strip{display:inline-flex;gap:2px;align-items:stretch}.cell{display:inline-block;width:10px;height:16px;` +
    `border-radius:2px;font-size:10px;line-height:16px;text-align:center;color:#777;text-decoration:none}
.cell.pass{background:#2e9d4a}.cell.fail,.cell.timeout{background:#d23c3c}.cell.error{background:#9a9a9a}` +
    `.cell.internal{background:#7b3fb0}.cell.none{background:#f0f0f0}
.cell.gap{background:#fff;border:1px dashed #bbb;box-sizing:border-box}.cell.gap.many{width:auto;padding:0 3px}
.config-change{display:inline-block;width:3px;height:20px;margin:-2px 1px;background:#1f6feb}
a.cell:hover{outline:2px solid #1f6feb}
h3.new-failure,b.new-failure{color:#c02020}h3.fixed{color:#2e7d32}h3.flaky{color:#b26a00}h3.lab,.lab{color:#666}` +
    `.bug{color:#7b3fb0}
td.fail,td.timeout{color:#c02020}.status.new-failure,.status.still-failing{color:#c02020}.status.flaky{color:#b26a00}
table.overview td.new-failure{color:#c02020;font-weight:bold}.out-of-service{color:#c02020}
svg.trend{background:#fafafa;border:1px solid #eee}svg.trend polyline{fill:none;stroke:#1f6feb;stroke-width:2}` +
    `svg.trend circle{fill:#1f6feb}
svg.trend text{font-size:11px;fill:#666}svg.trend .grid{stroke:#e6e6e6}p.metric.constant{margin:4px 0}
`,
);

export function toHtml(boards: Shown[], o: PageOptions = {}): string {
  const window = o.window ?? 20;
  const title = o.title ?? 'Regression report';
  const links = o.links ?? noLinks;
  const sections = boards.map((b) => boardSection(b, window, links));
  const bad = o.outOfService ?? [];
  const outOfService = bad.length
    ? html`<h2 class="out-of-service">${outOfServiceTitle}</h2>
<table class="list out-of-service"><thead><tr><th>board</th><th>since</th><th>why</th></tr></thead><tbody>
${bad.map((b) => html`<tr class="row out-of-service" data-board="${b.board}"><td>${b.board}</td><td>${b.at.slice(0, 16).replace('T', ' ')}</td><td>${b.reason ?? ''}</td></tr>\n`)}</tbody></table>`
    : '';
  const lab = causes(boards.flatMap((b) => b.labErrors));
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>${STYLE}</style></head><body>
<h1>${title}</h1>
${[
  html`<p class="muted">${boards.length} board(s)${o.generated ? `, generated ${o.generated}` : ''}. A regression `,
  html`passed on the previous run with the same board, case and configuration, and fails now; lab errors and runner `,
  html`bugs are not counted either way. ${nightNote} Each cell links to the case's console log and says its run's `,
  html`time and build.</p>`,
]}
${outOfService}
${boards.length ? overview(boards, bad) : ''}
${
  lab.length && boards.length > 1
    ? html`<h2 class="lab">Lab errors of all boards by cause</h2>\n${causeTable(lab, 'lab-cause', 'boards', links)}`
    : ''
}
${sections.length ? sections : html`<p>No runs recorded for this selection.</p>`}
</body></html>
`.text;
}
