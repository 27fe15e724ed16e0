// The regression report as people read it: Markdown (for the terminal, a CI summary, a
// mail) and one static HTML page that opens from the file system with no server and no
// script: per board the lists, a status strip per case (green pass, red fail or timeout,
// grey lab error, over the last runs) and an inline SVG chart of boot time per night.
import type { HistoryRecord } from './history.js';
import { runLabel, STATUS_TITLES, when, type BoardReport, type CaseReport, type CaseStatus } from './regressions.js';

const LISTED: CaseStatus[] = ['new-failure', 'still-failing', 'fixed', 'flaky'];

const counts = (b: BoardReport) => Object.fromEntries(LISTED.map((s) => [s, b.cases.filter((c) => c.status === s).length])) as Record<CaseStatus, number>;

export function toMarkdown(boards: BoardReport[], title = 'Regression report'): string {
  const out = [`# ${title}`, ''];
  if (!boards.length) out.push('No runs recorded for this selection.', '');
  for (const b of boards) {
    const n = counts(b);
    out.push(`## ${b.board}${b.soc ? ` (${b.soc})` : ''}`, '',
      `${b.runs} runs, ${b.cases.length} cases: ${n['new-failure']} new failures, ${n['still-failing']} still failing, ${n.fixed} fixed, ${n.flaky} flaky, ${b.labErrors.length} lab errors`, '');
    for (const s of LISTED) {
      const list = b.cases.filter((c) => c.status === s);
      if (!list.length) continue;
      out.push(`### ${STATUS_TITLES[s]}`, '');
      if (s === 'new-failure' || s === 'still-failing') {
        out.push('| case | guest | verdict now | last good | first bad |', '|---|---|---|---|---|');
        for (const c of list) out.push(`| ${c.case} | ${c.guest} | ${c.latest.verdict}: ${md(c.latest.reason)} | ${c.lastGood ? runLabel(c.lastGood) : 'never passed'} | ${c.firstBad ? runLabel(c.firstBad) : ''} |`);
      } else if (s === 'flaky') {
        out.push('| case | guest | last runs (oldest first) | changes |', '|---|---|---|---|');
        for (const c of list) out.push(`| ${c.case} | ${c.guest} | ${c.strip.map(letter).join('')} | ${c.flips} |`);
      } else {
        out.push('| case | guest | now |', '|---|---|---|');
        for (const c of list) out.push(`| ${c.case} | ${c.guest} | ${runLabel(c.latest)} |`);
      }
      out.push('');
    }
    if (b.labErrors.length) {
      out.push('### Lab errors (kept apart: the lab failed, not the hypervisor)', '', '| when | case | phase | reason |', '|---|---|---|---|');
      for (const r of b.labErrors.slice(0, 50)) out.push(`| ${when(r)} | ${r.case} | ${r.phase ?? ''} | ${md(r.reason)} |`);
      if (b.labErrors.length > 50) out.push(`| ... | ${b.labErrors.length - 50} more | | |`);
      out.push('');
    }
  }
  return out.join('\n');
}

const letter = (r: HistoryRecord) => (r.verdict === 'pass' ? 'P' : r.verdict === 'error' ? 'E' : r.verdict === 'timeout' ? 'T' : 'F');
const md = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function strip(c: CaseReport, window: number): string {
  const cells = c.strip.map((r) => `<span class="cell ${r.verdict}" title="${esc(`${r.started} ${r.verdict}${r.reason ? `: ${r.reason}` : ''}`)}"></span>`);
  const empty = Array.from({ length: Math.max(0, window - c.strip.length) }, () => '<span class="cell none"></span>');
  return `<span class="strip">${[...empty, ...cells].join('')}</span>`;
}

function chart(b: BoardReport): string {
  const pts = b.bootTrend;
  if (pts.length === 0) return '<p class="muted">No boot times recorded.</p>';
  const W = 640, H = 160, L = 48, B = 24;
  const max = Math.max(...pts.map((p) => p.median_s)) * 1.1 || 1;
  const x = (i: number) => L + (pts.length === 1 ? (W - L) / 2 : (i * (W - L - 10)) / (pts.length - 1));
  const y = (v: number) => H - B - (v / max) * (H - B - 10);
  const line = pts.map((p, i) => `${x(i).toFixed(1)},${y(p.median_s).toFixed(1)}`).join(' ');
  const dots = pts.map((p, i) => `<circle cx="${x(i).toFixed(1)}" cy="${y(p.median_s).toFixed(1)}" r="2.5"><title>${p.day}: ${p.median_s} s (median of ${p.runs})</title></circle>`).join('');
  const ticks = [0, max / 2, max].map((v) => `<text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(1)} s</text><line x1="${L}" x2="${W}" y1="${y(v)}" y2="${y(v)}" class="grid"/>`).join('');
  return `<svg class="trend" data-board="${esc(b.board)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="boot time per night on ${esc(b.board)}">
${ticks}<polyline points="${line}"/>${dots}
<text x="${L}" y="${H - 6}">${esc(pts[0].day)}</text><text x="${W}" y="${H - 6}" text-anchor="end">${esc(pts[pts.length - 1].day)}</text></svg>`;
}

function runCell(r?: HistoryRecord): string {
  if (!r) return '<td class="muted">never passed</td>';
  const imgs = r.images.map((i) => `<code title="${esc(i.file)} ${i.sha256}">${esc(i.role)} ${i.sha256.slice(0, 12)}</code>`).join(' ');
  return `<td>${esc(when(r))}${r.hypervisor ? ` <code>hv ${esc(r.hypervisor)}</code>` : ''}<br>${imgs}${r.run_dir ? `<br><a href="file://${esc(r.run_dir)}/results.json">results</a>` : ''}</td>`;
}

export function toHtml(boards: BoardReport[], o: { title?: string; window?: number; generated?: string } = {}): string {
  const window = o.window ?? 20;
  const title = o.title ?? 'Regression report';
  const sections = boards.map((b) => {
    const n = counts(b);
    const lists = LISTED.map((s) => {
      const list = b.cases.filter((c) => c.status === s);
      if (!list.length) return '';
      const rows = list.map((c) => `<tr class="row ${s}" data-board="${esc(b.board)}" data-case="${esc(c.case)}"><td>${esc(c.case)}</td><td>${esc(c.guest)}</td><td>${strip(c, window)}</td>` +
        (s === 'new-failure' || s === 'still-failing' ? `<td class="${c.latest.verdict}">${esc(c.latest.verdict)}: ${esc(c.latest.reason)}</td>${runCell(c.lastGood)}${runCell(c.firstBad)}` : s === 'flaky' ? `<td>${c.flips} changes in the last ${c.strip.length} runs</td>` : `<td>${esc(when(c.latest))}</td>`) + '</tr>').join('\n');
      const head = s === 'new-failure' || s === 'still-failing' ? '<th>now</th><th>last good</th><th>first bad</th>' : s === 'flaky' ? '<th>flips</th>' : '<th>since</th>';
      return `<h3 class="${s}">${esc(STATUS_TITLES[s])} (${list.length})</h3>
<table class="list ${s}"><thead><tr><th>case</th><th>guest</th><th>last ${window} runs</th>${head}</tr></thead><tbody>
${rows}
</tbody></table>`;
    }).join('\n');
    const labRows = b.labErrors.slice(0, 100).map((r) => `<tr class="row lab-error" data-board="${esc(b.board)}" data-case="${esc(r.case)}"><td>${esc(when(r))}</td><td>${esc(r.case)}</td><td>${esc(r.phase ?? '')}</td><td>${esc(r.reason)}</td></tr>`).join('\n');
    const all = b.cases.map((c) => `<tr class="row all" data-board="${esc(b.board)}" data-case="${esc(c.case)}" data-status="${c.status}"><td>${esc(c.case)}</td><td>${esc(c.guest)}</td><td>${strip(c, window)}</td><td class="status ${c.status}">${esc(c.status)}</td></tr>`).join('\n');
    return `<section class="board" id="board-${esc(b.board)}" data-board="${esc(b.board)}">
<h2>${esc(b.board)}${b.soc ? ` <small>${esc(b.soc)}</small>` : ''}</h2>
<p class="summary"><b class="new-failure">${n['new-failure']} new failures</b> · ${n['still-failing']} still failing · ${n.fixed} fixed · ${n.flaky} flaky · <span class="lab">${b.labErrors.length} lab errors</span> · ${b.runs} runs of ${b.cases.length} cases</p>
<h3>Boot time (power-on to hand-off), median per night</h3>
${chart(b)}
${lists}
${b.labErrors.length ? `<h3 class="lab">Lab errors (kept apart: the lab failed, not the hypervisor)</h3>
<table class="list lab-errors"><thead><tr><th>when</th><th>case</th><th>phase</th><th>reason</th></tr></thead><tbody>
${labRows}
</tbody></table>${b.labErrors.length > 100 ? `<p class="muted">${b.labErrors.length - 100} older lab errors not shown.</p>` : ''}` : ''}
<details><summary>All ${b.cases.length} cases</summary>
<table class="list all"><thead><tr><th>case</th><th>guest</th><th>last ${window} runs</th><th>status</th></tr></thead><tbody>
${all}
</tbody></table></details>
</section>`;
  }).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:32px}h2 small{color:#777;font-weight:normal}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5}.muted{color:#888}code{font-size:12px;background:#f3f3f3;padding:0 3px}
.strip{display:inline-flex;gap:2px}.cell{display:inline-block;width:10px;height:16px;border-radius:2px}
.cell.pass{background:#2e9d4a}.cell.fail,.cell.timeout{background:#d23c3c}.cell.error{background:#9a9a9a}.cell.none{background:#f0f0f0}
h3.new-failure,b.new-failure{color:#c02020}h3.fixed{color:#2e7d32}h3.flaky{color:#b26a00}h3.lab,.lab{color:#666}
td.fail,td.timeout{color:#c02020}.status.new-failure,.status.still-failing{color:#c02020}.status.flaky{color:#b26a00}
svg.trend{background:#fafafa;border:1px solid #eee}svg.trend polyline{fill:none;stroke:#1f6feb;stroke-width:2}svg.trend circle{fill:#1f6feb}
svg.trend text{font-size:11px;fill:#666}svg.trend .grid{stroke:#e6e6e6}
</style></head><body>
<h1>${esc(title)}</h1>
<p class="muted">${boards.length} board(s)${o.generated ? `, generated ${esc(o.generated)}` : ''}. A regression passed on the previous run with the same board, case and configuration, and fails now; lab errors are not counted either way.</p>
${sections || '<p>No runs recorded for this selection.</p>'}
</body></html>
`;
}
