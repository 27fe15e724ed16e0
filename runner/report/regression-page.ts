// The regression report as people read it: Markdown (for the terminal, a CI summary, a
// mail) and one static HTML page that opens from the file system with no server and no
// script: per board the lists, a status strip per case (green pass, red fail or timeout,
// grey lab error, over the last runs), an inline SVG chart of boot time per night and one
// per metric the guests print. The HTML is written with auto-escaping templates
// (report/html.ts): nothing a run recorded can become markup.
import type { HistoryRecord } from '../model/history.js';
import type { RunRow } from '../history/queries.js';
import { html, trusted, type SafeHtml } from './html.js';
import { runLabel, STATUS_TITLES, when, type BoardReport, type CaseReport, type CaseStatus, type Decidable } from './regressions.js';

const LISTED: CaseStatus[] = ['new-failure', 'still-failing', 'fixed', 'flaky'];

/** A report as the page shows it: summaries in the strips and lists, the runs named in
 * full (latest, last good, first bad) as full records. */
type Shown = BoardReport<RunRow, HistoryRecord>;
type ShownCase = CaseReport<RunRow, HistoryRecord>;

const counts = (b: Shown) => Object.fromEntries(LISTED.map((s) => [s, b.cases.filter((c) => c.status === s).length])) as Record<CaseStatus, number>;

/** A board a health check found bad (runner/lab/health.ts): out of service, listed apart. */
export interface OutOfService {
  board: string;
  at: string;
  reason?: string;
}

const outOfServiceTitle = 'Boards out of service (failed their health check; they get no runs until a check passes)';

export function toMarkdown(boards: Shown[], title = 'Regression report', outOfService: OutOfService[] = []): string {
  const out = [`# ${title}`, ''];
  if (outOfService.length) {
    out.push(`## ${outOfServiceTitle}`, '', '| board | since | why |', '|---|---|---|');
    for (const b of outOfService) out.push(`| ${b.board} | ${b.at.slice(0, 16).replace('T', ' ')} | ${md(b.reason ?? '')} |`);
    out.push('');
  }
  if (!boards.length) out.push('No runs recorded for this selection.', '');
  for (const b of boards) {
    const n = counts(b);
    out.push(
      `## ${b.board}${b.soc ? ` (${b.soc})` : ''}`,
      '',
      `${b.runs} runs, ${b.cases.length} cases: ${n['new-failure']} new failures, ${n['still-failing']} still failing, ${n.fixed} fixed, ${n.flaky} flaky, ${b.labErrorCount} lab errors`,
      '',
    );
    for (const s of LISTED) {
      const list = b.cases.filter((c) => c.status === s);
      if (!list.length) continue;
      out.push(`### ${STATUS_TITLES[s]}`, '');
      if (s === 'new-failure' || s === 'still-failing') {
        out.push('| case | guest | verdict now | last good | first bad |', '|---|---|---|---|---|');
        for (const c of list)
          out.push(
            `| ${c.case} | ${c.guest} | ${c.latest.verdict}: ${md(c.latest.reason)} | ${c.lastGood ? runLabel(c.lastGood) : 'never passed'} | ${c.firstBad ? runLabel(c.firstBad) : ''} |`,
          );
      } else if (s === 'flaky') {
        out.push('| case | guest | last runs (oldest first) | changes |', '|---|---|---|---|');
        for (const c of list) out.push(`| ${c.case} | ${c.guest} | ${c.strip.map(letter).join('')} | ${c.flips} |`);
      } else {
        out.push('| case | guest | now |', '|---|---|---|');
        for (const c of list) out.push(`| ${c.case} | ${c.guest} | ${runLabel(c.latest)} |`);
      }
      out.push('');
    }
    if (b.runnerBugs.length) {
      out.push('### Runner bugs (kept apart: the runner broke, not the lab or the hypervisor)', '', '| when | case | reason |', '|---|---|---|');
      for (const r of b.runnerBugs.slice(0, 50)) out.push(`| ${when(r)} | ${r.case} | ${md(r.reason)} |`);
      if (b.runnerBugCount > 50) out.push(`| ... | ${b.runnerBugCount - 50} more | |`);
      out.push('');
    }
    if (b.labErrors.length) {
      out.push('### Lab errors (kept apart: the lab failed, not the hypervisor)', '', '| when | case | phase | reason |', '|---|---|---|---|');
      for (const r of b.labErrors.slice(0, 50)) out.push(`| ${when(r)} | ${r.case} | ${r.phase ?? ''} | ${md(r.reason)} |`);
      if (b.labErrorCount > 50) out.push(`| ... | ${b.labErrorCount - 50} more | | |`);
      out.push('');
    }
  }
  return out.join('\n');
}

const letter = (r: Decidable) => (r.verdict === 'pass' ? 'P' : r.verdict === 'error' ? 'E' : r.verdict === 'internal' ? 'B' : r.verdict === 'timeout' ? 'T' : 'F');
const md = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function strip(c: ShownCase, window: number): SafeHtml {
  const cells = c.strip.map((r) => html`<span class="cell ${r.verdict}" title="${`${r.started} ${r.verdict}${r.reason ? `: ${r.reason}` : ''}`}"></span>`);
  const empty = Array.from({ length: Math.max(0, window - c.strip.length) }, () => html`<span class="cell none"></span>`);
  return html`<span class="strip">${empty}${cells}</span>`;
}

/** A line chart of one value per night; `unit` labels the axis. */
function chart(pts: { day: string; value: number; runs: number }[], o: { board: string; what: string; unit: string; kind: string; case?: string }): SafeHtml {
  if (pts.length === 0) return html`<p class="muted">No ${o.what} recorded.</p>`;
  const W = 640,
    H = 160,
    L = 56,
    B = 24;
  const max = Math.max(...pts.map((p) => p.value)) * 1.1 || 1;
  const x = (i: number) => L + (pts.length === 1 ? (W - L) / 2 : (i * (W - L - 10)) / (pts.length - 1));
  const y = (v: number) => H - B - (v / max) * (H - B - 10);
  const fmt = (v: number) => (Math.abs(v) >= 1000 ? v.toFixed(0) : v.toFixed(1));
  const line = pts.map((p, i) => `${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
  const dots = pts.map(
    (p, i) => html`<circle cx="${x(i).toFixed(1)}" cy="${y(p.value).toFixed(1)}" r="2.5"><title>${`${p.day}: ${p.value} ${o.unit} (median of ${p.runs})`}</title></circle>`,
  );
  const ticks = [0, max / 2, max].map(
    (v) =>
      html`<text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}${o.unit === 's' ? ' s' : ''}</text><line x1="${L}" x2="${W}" y1="${y(v)}" y2="${y(v)}" class="grid"/>`,
  );
  return html`<svg class="trend ${o.kind}" data-board="${o.board}"${o.case ? html` data-case="${o.case}"` : ''} data-metric="${o.what}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${`${o.what} per night on ${o.board}`}">
${ticks}<polyline points="${line}"/>${dots}
<text x="${L}" y="${H - 6}">${pts[0].day}</text><text x="${W}" y="${H - 6}" text-anchor="end">${pts[pts.length - 1].day}</text></svg>`;
}

function runCell(r?: HistoryRecord): SafeHtml {
  if (!r) return html`<td class="muted">never passed</td>`;
  const imgs = r.images.map((i) => html`<code title="${`${i.file} ${i.sha256}`}">${i.role} ${i.sha256.slice(0, 12)}</code> `);
  return html`<td>${when(r)}${r.build ? html` <code>build ${r.build}</code>` : ''}<br>${imgs}${r.run_dir ? html`<br><a href="${`file://${r.run_dir}/results.json`}">results</a>` : ''}</td>`;
}

function nowCells(c: ShownCase, s: CaseStatus): SafeHtml {
  if (s === 'new-failure' || s === 'still-failing')
    return html`<td class="${c.latest.verdict}">${c.latest.verdict}: ${c.latest.reason}</td>${runCell(c.lastGood)}${runCell(c.firstBad)}`;
  if (s === 'flaky') return html`<td>${c.flips} changes in the last ${c.strip.length} runs</td>`;
  return html`<td>${when(c.latest)}</td>`;
}

function boardSection(b: Shown, window: number): SafeHtml {
  const n = counts(b);
  const lists = LISTED.map((s) => {
    const list = b.cases.filter((c) => c.status === s);
    if (!list.length) return '';
    const head =
      s === 'new-failure' || s === 'still-failing' ? html`<th>now</th><th>last good</th><th>first bad</th>` : s === 'flaky' ? html`<th>flips</th>` : html`<th>since</th>`;
    const rows = list.map(
      (c) => html`<tr class="row ${s}" data-board="${b.board}" data-case="${c.case}"><td>${c.case}</td><td>${c.guest}</td><td>${strip(c, window)}</td>${nowCells(c, s)}</tr>\n`,
    );
    return html`<h3 class="${s}">${STATUS_TITLES[s]} (${list.length})</h3>
<table class="list ${s}"><thead><tr><th>case</th><th>guest</th><th>last ${window} runs</th>${head}</tr></thead><tbody>
${rows}</tbody></table>`;
  });
  const apart = (rows: Decidable[], count: number, cls: string, title: string) =>
    rows.length
      ? html`<h3 class="lab">${title}</h3>
<table class="list ${cls}s"><thead><tr><th>when</th><th>case</th><th>phase</th><th>reason</th></tr></thead><tbody>
${rows.slice(0, 100).map((r) => html`<tr class="row ${cls}" data-board="${b.board}" data-case="${r.case}"><td>${when(r)}</td><td>${r.case}</td><td>${r.phase ?? ''}</td><td>${r.reason}</td></tr>\n`)}</tbody></table>${count > Math.min(rows.length, 100) ? html`<p class="muted">${count - Math.min(rows.length, 100)} older not shown.</p>` : ''}`
      : '';
  const all = b.cases.map(
    (c) =>
      html`<tr class="row all" data-board="${b.board}" data-case="${c.case}" data-status="${c.status}"><td>${c.case}</td><td>${c.guest}</td><td>${strip(c, window)}</td><td class="status ${c.status}">${c.status}</td></tr>\n`,
  );
  const metrics = b.metricTrends.map(
    (m) =>
      html`<h4>${m.case}: ${m.name}</h4>${chart(
        m.points.map((p) => ({ day: p.day, value: p.median, runs: p.runs })),
        { board: b.board, what: m.name, unit: '', kind: 'metric', case: m.case },
      )}`,
  );
  return html`<section class="board" id="${`board-${b.board}`}" data-board="${b.board}">
<h2>${b.board}${b.soc ? html` <small>${b.soc}</small>` : ''}</h2>
<p class="summary"><b class="new-failure">${n['new-failure']} new failures</b> · ${n['still-failing']} still failing · ${n.fixed} fixed · ${n.flaky} flaky · <span class="lab">${b.labErrorCount} lab errors</span>${b.runnerBugCount ? html` · <span class="bug">${b.runnerBugCount} runner bugs</span>` : ''} · ${b.runs} runs of ${b.cases.length} cases</p>
<h3>Boot time (power-on to hand-off), median per night</h3>
${chart(
  b.bootTrend.map((p) => ({ day: p.day, value: p.median_s, runs: p.runs })),
  { board: b.board, what: 'boot time', unit: 's', kind: 'boot' },
)}
${metrics.length ? html`<h3>Metrics the guests printed, median per night</h3>${metrics}` : ''}
${lists}
${apart(b.runnerBugs, b.runnerBugCount, 'runner-bug', 'Runner bugs (kept apart: the runner broke, not the lab or the hypervisor)')}
${apart(b.labErrors, b.labErrorCount, 'lab-error', 'Lab errors (kept apart: the lab failed, not the hypervisor)')}
<details><summary>All ${b.cases.length} cases</summary>
<table class="list all"><thead><tr><th>case</th><th>guest</th><th>last ${window} runs</th><th>status</th></tr></thead><tbody>
${all}</tbody></table></details>
</section>`;
}

const STYLE = trusted(`
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:32px}h2 small{color:#777;font-weight:normal}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5}.muted{color:#888}code{font-size:12px;background:#f3f3f3;padding:0 3px}
.strip{display:inline-flex;gap:2px}.cell{display:inline-block;width:10px;height:16px;border-radius:2px}
.cell.pass{background:#2e9d4a}.cell.fail,.cell.timeout{background:#d23c3c}.cell.error{background:#9a9a9a}.cell.internal{background:#7b3fb0}.cell.none{background:#f0f0f0}
h3.new-failure,b.new-failure{color:#c02020}h3.fixed{color:#2e7d32}h3.flaky{color:#b26a00}h3.lab,.lab{color:#666}.bug{color:#7b3fb0}
td.fail,td.timeout{color:#c02020}.status.new-failure,.status.still-failing{color:#c02020}.status.flaky{color:#b26a00}
svg.trend{background:#fafafa;border:1px solid #eee}svg.trend polyline{fill:none;stroke:#1f6feb;stroke-width:2}svg.trend circle{fill:#1f6feb}
svg.trend text{font-size:11px;fill:#666}svg.trend .grid{stroke:#e6e6e6}
`);

export function toHtml(boards: Shown[], o: { title?: string; window?: number; generated?: string; outOfService?: OutOfService[] } = {}): string {
  const window = o.window ?? 20;
  const title = o.title ?? 'Regression report';
  const sections = boards.map((b) => boardSection(b, window));
  const bad = o.outOfService ?? [];
  const outOfService = bad.length
    ? html`<h2 class="out-of-service">${outOfServiceTitle}</h2>
<table class="list out-of-service"><thead><tr><th>board</th><th>since</th><th>why</th></tr></thead><tbody>
${bad.map((b) => html`<tr class="row out-of-service" data-board="${b.board}"><td>${b.board}</td><td>${b.at.slice(0, 16).replace('T', ' ')}</td><td>${b.reason ?? ''}</td></tr>\n`)}</tbody></table>`
    : '';
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>${STYLE}</style></head><body>
<h1>${title}</h1>
<p class="muted">${boards.length} board(s)${o.generated ? `, generated ${o.generated}` : ''}. A regression passed on the previous run with the same board, case and configuration, and fails now; lab errors and runner bugs are not counted either way.</p>
${outOfService}
${sections.length ? sections : html`<p>No runs recorded for this selection.</p>`}
</body></html>
`.text;
}
