// The regression rule (KernelCI's): pass before, fail now, same board, case and
// configuration; lab errors decide nothing and are listed apart. Asked of the history's
// database, on both engines: PGlite, and a real PostgreSQL server.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { HistoryRecord } from '../../runner/model/history.js';
import type { History } from '../../runner/history/store.js';
import { analyse as analyseStore, causeOf, hydrate, type BoardReport } from '../../runner/report/regressions.js';
import { axis, md, publishRuns, toHtml, toMarkdown } from '../../runner/report/regression-page.js';
import { caseName, syntheticHistory, SYNTHETIC_BOARDS } from '../../fixtures/history/synthetic.js';
import { eachEngine } from '../engines.js';
import { tmpDir } from '../helpers.js';

/** One case's nights from a string: P pass, F fail, T timeout, E lab error; `-` a night
 * the case did not run (each night keeps its date). */
function series(
  verdicts: string,
  o: {
    board?: string;
    case?: string;
    config?: (i: number) => string;
    build?: (i: number) => string;
    reason?: (i: number) => string;
    hour?: number;
  } = {},
): HistoryRecord[] {
  const v = { P: 'pass', F: 'fail', T: 'timeout', E: 'error' } as const;
  return [...verdicts].flatMap((ch, i) =>
    ch === '-'
      ? []
      : [
          {
            run_id: `r${i}`,
            started: new Date(Date.UTC(2026, 10, 1 + i, o.hour ?? 2)).toISOString(),
            board: o.board ?? 'b',
            suite: 's',
            case: o.case ?? 'c',
            guest: 'g',
            config: o.config?.(i) ?? 'cfg',
            images: [{ role: 'kernel', file: 'k', sha256: `${i}`.repeat(64).slice(0, 64) }],
            build: o.build?.(i),
            verdict: v[ch as keyof typeof v],
            reason: ch === 'P' ? '' : (o.reason?.(i) ?? `night ${i}`),
            phase: ch === 'E' ? 'console' : undefined,
            phases: { total: 1 },
            boot_s: 5 + i,
            transfers: [],
          },
        ],
  );
}

/** Unescaped pipes of a Markdown table row: its cell borders. */
const borders = (row: string) => (row.match(/(?<!\\)\|/g) ?? []).length;

describe('regression analysis', () => {
  eachEngine((_engine, history) => {
    /** The records stored (into an emptied history), then the report of them, shown in full. */
    async function analyse(
      records: HistoryRecord[],
      o: Parameters<typeof analyseStore>[1] = {},
    ): Promise<BoardReport<any, HistoryRecord>[]> {
      const h: History = history();
      await h.db.exec(
        'truncate case_runs, runs, builds, sub_results, metrics, case_configs, boards, board_days, metric_days restart identity cascade',
      );
      await h.add(records);
      return hydrate(h, await analyseStore(h, o));
    }
    const one = async (records: HistoryRecord[]) => (await analyse(records))[0].cases[0];

    it('pass then fail is a new failure, naming the last good and first bad runs', async () => {
      const c = await one(series('PPPF'));
      assert.equal(c.status, 'new-failure');
      assert.equal(c.lastGood!.run_id, 'r2');
      assert.equal(c.firstBad!.run_id, 'r3');
    });

    it('a failure that goes on is still failing, with where it began', async () => {
      const c = await one(series('PPFFT'));
      assert.equal(c.status, 'still-failing');
      assert.equal(c.lastGood!.run_id, 'r1');
      assert.equal(c.firstBad!.run_id, 'r2');
      assert.equal((await one(series('FFF'))).lastGood, undefined, 'never passed');
    });

    it('lab errors decide nothing: pass, error, fail is a regression; pass, error is passing and the error is listed apart', async () => {
      assert.equal((await one(series('PEF'))).status, 'new-failure');
      assert.equal((await one(series('PEF'))).lastGood!.run_id, 'r0');
      const b = (await analyse(series('PPE')))[0];
      assert.equal(b.cases[0].status, 'passing');
      assert.deepEqual(
        b.labErrors.map((r) => r.started),
        [series('PPE')[2].started],
      );
      assert.equal(b.labErrorCount, 1);
      assert.equal((await one(series('EE'))).status, 'lab-errors-only');
    });

    it('fail then pass is fixed; a blip is flaky; a long streak then a fix is not', async () => {
      assert.equal((await one(series('PFFFFP'))).status, 'fixed');
      assert.equal((await one(series('PPFPP'))).status, 'flaky');
      assert.equal((await one(series('FPFPF'))).status, 'flaky');
      assert.equal((await one(series('PPFFPP'))).status, 'passing');
    });

    it('a new configuration starts a new series: its failure is not a regression of the old one', async () => {
      const c = await one(series('PPF', { config: (i) => (i < 2 ? 'old' : 'new') }));
      assert.equal(c.status, 'still-failing');
      assert.equal(c.lastGood, undefined);
      assert.ok(c.configChanged);
    });

    it('tells every shape of the synthetic nightly history apart, per board', async () => {
      const boards = await analyse(syntheticHistory({ boards: SYNTHETIC_BOARDS, cases: 12, nights: 50 }));
      assert.deepEqual(
        boards.map((b) => b.board),
        [...SYNTHETIC_BOARDS].sort(),
      );
      for (const b of boards) {
        const status = (i: number) => b.cases.find((c) => c.case === caseName(i))!.status;
        assert.deepEqual(
          [status(3), status(5), status(7), status(9), status(0)],
          ['new-failure', 'fixed', 'flaky', 'still-failing', 'passing'],
          b.board,
        );
        const nine = b.cases.find((c) => c.case === caseName(9))!;
        assert.equal(nine.lastGood!.started.slice(0, 10), '2026-10-10', 'night 39');
        assert.equal(nine.firstBad!.started.slice(0, 10), '2026-10-11', 'night 40');
        assert.notEqual(nine.lastGood!.images[0].sha256, nine.firstBad!.images[0].sha256);
        assert.equal(b.bootTrend.length, 50);
        assert.ok(b.labErrors.every((r) => r.verdict === 'error'));
        assert.equal(b.runs, 12 * 50);
      }
      const md = toMarkdown(boards);
      assert.match(md, /^## roc-rk3568-pc \(RK3568\)$/m);
      assert.match(
        md,
        /^\| case-003 \| linux \| fail: failure pattern .* \| 2026-10-19 02:01 build \w+ \(kernel \w{12}\) \| 2026-10-20 02:01 build /m,
      );
      const html = toHtml(boards, { window: 20 });
      assert.equal((html.match(/<tr class="row new-failure"/g) ?? []).length, 4);
      assert.equal((html.match(/<svg class="trend boot"/g) ?? []).length, 4);
    });

    it('runner bugs decide nothing and are kept apart, like lab errors', async () => {
      const r = series('PPF');
      const bug = {
        ...series('P')[0],
        run_id: 'r9',
        started: new Date(Date.UTC(2026, 10, 9, 2)).toISOString(),
        verdict: 'internal' as const,
        reason: 'runner bug: TypeError',
      };
      const b = (await analyse([...r, bug]))[0];
      assert.equal(b.cases[0].status, 'new-failure', 'the bug after the failure does not hide it');
      assert.deepEqual(
        b.runnerBugs.map((x) => x.reason),
        ['runner bug: TypeError'],
      );
      assert.equal(b.runnerBugCount, 1);
      assert.deepEqual(b.labErrors, []);
      assert.match(toMarkdown([b]), /### Runner bugs/);
    });

    it("turns the guests' metric lines into a trend per case, and escapes what runs recorded", async () => {
      const recs = series('PPP').map((x, i) => ({ ...x, metrics: { 'VCPU_PERF_RESULT.blocks_per_second': 100 + i } }));
      const other = {
        ...recs[1],
        run_id: 'x',
        case: '<img src=x onerror=alert(1)>',
        metrics: { 'VCPU_PERF_RESULT.blocks_per_second': 410_000 },
      };
      const b = await analyse([...recs, other]);
      assert.deepEqual(
        b[0].metricTrends.map((m) => [m.case, m.name, m.points.map((p) => p.median)]),
        [
          ['<img src=x onerror=alert(1)>', 'VCPU_PERF_RESULT.blocks_per_second', [410_000]],
          ['c', 'VCPU_PERF_RESULT.blocks_per_second', [100, 101, 102]],
        ],
        'the same metric of two cases is two trends, never one median of both',
      );
      const html = toHtml(b);
      assert.equal(
        (
          html.match(
            /<svg class="trend metric" data-board="b" data-case="c" data-metric="VCPU_PERF_RESULT.blocks_per_second"/g,
          ) ?? []
        ).length,
        1,
      );
      assert.ok(!html.includes('<img src=x'), 'a case name never becomes markup');
      assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'));
    });

    it('opens with an overview of every board, each linking to its section', async () => {
      const boards = await analyse([
        ...series('PPPF', { board: 'rk3568', build: (i) => `b${i}` }),
        ...series('PPEP', { board: 'phytium', case: 'd', build: (i) => `b${i}` }),
      ]);
      const text = toMarkdown(boards);
      const overview = text.indexOf('## Overview');
      assert.ok(overview > 0 && overview < text.indexOf('## phytium'), 'the overview comes first');
      assert.match(text, /^\| \[phytium\]\(#phytium\) \| 4 \| 0 \| 0 \| 0 \| 0 \| 1 \| 2026-11-04 02:00 build b3 \|$/m);
      assert.match(text, /^\| \[rk3568\]\(#rk3568\) \| 4 \| 1 \| 0 \| 0 \| 0 \| 0 \| 2026-11-04 02:00 build b3 \|$/m);
      const page = toHtml(boards);
      assert.ok(page.indexOf('class="list overview"') < page.indexOf('<section class="board"'));
      for (const b of ['phytium', 'rk3568']) {
        assert.match(page, new RegExp(`<tr class="row overview" data-board="${b}"><td><a href="#board-${b}">${b}</a>`));
        assert.match(page, new RegExp(`<section class="board" id="board-${b}"`));
      }
      assert.match(
        page,
        /<tr class="row overview" data-board="rk3568">.*<td class="new-failure">1<\/td>.*<td class="newest">2026-11-04 02:00 <code>build b3<\/code><\/td>/,
      );
    });

    it('first bad blames the build that broke it, whatever --since and --window', async () => {
      const recs = series('PPPPFFFF', { build: (i) => `b${i}` });
      for (const since of [
        undefined,
        '2026-11-02T00:00:00Z',
        '2026-11-04T12:00:00Z',
        '2026-11-06T00:00:00Z',
        '2026-11-08T00:00:00Z',
      ])
        for (const window of [3, 20, 40]) {
          const c = (await analyse(recs, { since: since && new Date(since).toISOString(), window }))[0].cases[0];
          const at = `--since ${since} --window ${window}`;
          assert.equal(c.status, 'still-failing', at);
          assert.equal(c.firstBad?.build, 'b4', at);
          assert.equal(c.lastGood?.build, 'b3', at);
        }
      // The pass before --since still makes the failure after it new.
      const c = (await analyse(series('PPPF', { build: (i) => `b${i}` }), { since: '2026-11-04T00:00:00.000Z' }))[0]
        .cases[0];
      assert.deepEqual([c.status, c.lastGood?.build, c.firstBad?.build], ['new-failure', 'b2', 'b3']);
    });

    it('a new failure whose newest run is a lab error is shown by the failure', async () => {
      const [b] = await analyse(series('PPFE', { build: (i) => `b${i}` }));
      const c = b.cases[0];
      assert.equal(c.status, 'new-failure');
      assert.equal(c.latest.verdict, 'error');
      assert.equal(c.now?.verdict, 'fail');
      const row = toMarkdown([b])
        .split('\n')
        .find((l) => l.startsWith('| c |'))!;
      assert.match(row, /^\| c \| g \| fail: night 2 \| 2026-11-02 02:00 build b1 /);
      assert.doesNotMatch(row, /error: night 3/);
      assert.match(
        toHtml([b]),
        /<td class="now fail">fail: night 2<br><span class="muted">2026-11-03 02:00 build b2<\/span><\/td>/,
      );
    });

    it('a change of the case file is shown where it happened; a configuration that never passed names the pass before it', async () => {
      const config = (i: number) => (i < 12 ? 'old' : 'new');
      const [b] = await analyse(series('PPPPPPPPPPPPFF', { config, build: (i) => `b${i}` }));
      const c = b.cases[0];
      assert.equal(c.status, 'still-failing', 'not a regression of the old configuration');
      assert.equal(c.lastGood, undefined);
      assert.equal(c.passedBefore?.run_id, 'r11');
      assert.equal(c.strip.length, 14, 'the strip holds the runs of both configurations');
      const text = toMarkdown([b]);
      const row = text.split('\n').find((l) => l.startsWith('| c |'))!;
      assert.doesNotMatch(text, /never passed/);
      assert.match(
        row,
        /\| none under this configuration; last pass 2026-11-12 02:00 build b11 \(kernel 111111111111\) under configuration old \(case file changed 2026-11-13 02:00\) \|/,
      );
      assert.match(row, /\| PPPPPPPPPPPP‖FF \|$/);
      const page = toHtml([b]);
      assert.doesNotMatch(page, /never passed/);
      const cells = page.slice(
        page.indexOf('<tr class="row still-failing"'),
        page.indexOf('</tr>', page.indexOf('<tr class="row still-failing"')),
      );
      assert.deepEqual(
        [...cells.matchAll(/<span class="(cell \w+|config-change)"/g)].map((m) => m[1]).slice(-4),
        ['cell pass', 'config-change', 'cell fail', 'cell fail'],
        'the bar stands between the last run of the old file and the first of the new',
      );
      assert.match(cells, /<span class="config-change" title="the case file changed: configuration old to new">/);
      // Passes after the change: the new configuration's own last pass, nothing else.
      const after = (await analyse(series('PPPPPPPPPPPPPPF', { config, build: (i) => `b${i}` })))[0].cases[0];
      assert.deepEqual([after.status, after.lastGood?.build, after.passedBefore], ['new-failure', 'b13', undefined]);
      // A longer window than the kept lists: the strip across configurations from the runs.
      const long = (await analyse(series('PPPPPPPPPPPPFF', { config }), { window: 40 }))[0].cases[0];
      assert.equal(long.strip.map((r) => r.config).join(','), `${'old,'.repeat(12)}new,new`);
    });

    it('a night the board ran and the case did not is a gap in its strip; nights are UTC days', async () => {
      // Case c misses nights 3-4, 6-10 and the last two; d runs every night. One run of d
      // starts 23:30 UTC: its night is that UTC day.
      const [b] = await analyse([
        ...series('PPP--P-----FF--', { case: 'c' }),
        ...series('PPPPPPPPPPPPPPP', { case: 'd', hour: 23 }),
      ]);
      const c = b.cases.find((x) => x.case === 'c')!;
      assert.equal(b.nights.length, 15);
      assert.equal(b.nights[0], '2026-11-01');
      const text = toMarkdown([b]);
      const page = toHtml([b]);
      const row = page.slice(
        page.indexOf('data-case="c" data-status'),
        page.indexOf('</tr>', page.indexOf('data-case="c" data-status')),
      );
      const cells = [...row.matchAll(/<span class="cell ([\w ]+)"[^>]*title="([^"]*)"/g)].map((m) => [m[1], m[2]]);
      assert.deepEqual(
        cells.map((x) => x[0]),
        ['pass', 'pass', 'pass', 'gap', 'gap', 'pass', 'gap many', 'fail', 'fail', 'gap', 'gap'],
      );
      assert.deepEqual(cells[3], ['gap', '2026-11-04: the board ran, this case did not']);
      assert.deepEqual(cells[6], ['gap many', '5 nights the board ran without this case (2026-11-07 to 2026-11-11)']);
      assert.equal(c.strip.length, 6);
      assert.match(text, /^\| c \| g \| fail: night 12 \| .* \| PPP··P·5·FF·· \|$/m);
      assert.match(text, /A night is a UTC day/);
    });

    it('lab errors are one row per cause: numbers, times and paths set aside', async () => {
      const port = (i: number) =>
        `console: the serial port /dev/ttyUSB${i % 3} vanished and did not come back within ${3 + (i % 4)} s`;
      const recs = [
        ...series('EEEEEEEEEEEEEEEEEEP', { reason: port }),
        ...series('EPEP', { case: 'd', reason: (i) => `power: the PDU at 10.0.0.${i} did not answer within 2000 ms` }),
        ...series('PPPPPPPPPPPPPPPPPE', { case: 'e', reason: (i) => port(i + 1) }),
      ];
      const [b] = await analyse(recs);
      assert.equal(b.labErrorCount, 21);
      assert.deepEqual(
        b.labCauses.map((g) => [
          g.phase,
          g.cause,
          g.count,
          g.first.started.slice(0, 10),
          g.last.started.slice(0, 10),
          g.cases.join(','),
        ]),
        [
          [
            'console',
            'console: the serial port {path} vanished and did not come back within N s',
            19,
            '2026-11-01',
            '2026-11-18',
            'c,e',
          ],
          ['console', 'power: the PDU at {address} did not answer within N ms', 2, '2026-11-01', '2026-11-03', 'd'],
        ],
      );
      assert.equal(
        causeOf('load: TFTP of /srv/tftp/a1b2c3d4e5/Image failed at 2026-10-01T02:03:04Z after 12:01:02'),
        'load: TFTP of {path} failed at {time} after {time}',
      );
      const text = toMarkdown([b]);
      const table = text.slice(text.indexOf('### Lab errors by cause'));
      assert.equal(table.split('\n').filter((l) => l.startsWith('| console |')).length, 2, 'one row per cause');
      assert.match(
        table,
        /^\| console \| console: the serial port \{path\} vanished and did not come back within N s \| 19 \| 2026-11-01 02:00 \| 2026-11-18 02:00 \| c, e \|$/m,
      );
      const page = toHtml([b]);
      assert.equal((page.match(/<tr class="row lab-error" data-board="b"/g) ?? []).length, 2);
      assert.match(page, /<tr class="row lab-error" data-board="b" data-phase="console" data-count="19">/);
    });

    it('links each run shown to its results.json and console.log, copied next to the page; a run whose folder is gone shows its build and time unlinked', async () => {
      const lab = tmpDir('hil-lab-');
      const recs = series('PPF', { build: (i) => `b${i}` }).map((r, i) => ({
        ...r,
        run_dir: path.join(lab, `run ${i}`),
        transcript: 'c#1',
      }));
      for (const r of recs) {
        mkdirSync(path.join(r.run_dir!, 'c#1'), { recursive: true });
        writeFileSync(
          path.join(r.run_dir!, 'results.json'),
          JSON.stringify({ cases: [{ name: 'c', transcript: 'c#1' }] }),
        );
        writeFileSync(path.join(r.run_dir!, 'c#1', 'console.log'), `console of ${r.run_id}\n`);
      }
      rmSync(recs[0].run_dir!, { recursive: true });
      const boards = await analyse(recs);
      const out = tmpDir('hil-page-');
      mkdirSync(path.join(out, 'runs', 'stale-run'), { recursive: true });
      const links = publishRuns(boards, out);
      assert.ok(!existsSync(path.join(out, 'runs', 'stale-run')), 'a run no longer shown is removed');
      const page = toHtml(boards, { links });
      const cells = [...page.matchAll(/<(a|span) class="cell (\w+)"(?: href="([^"]*)")? title="([^"]*)"/g)].slice(0, 3);
      assert.deepEqual(
        cells.map((m) => [m[1], m[2], m[4]]),
        [
          ['span', 'pass', '2026-11-01 02:00 build b0: pass'],
          ['a', 'pass', '2026-11-02 02:00 build b1: pass'],
          ['a', 'fail', '2026-11-03 02:00 build b2: fail: night 2'],
        ],
      );
      for (const [i, m] of cells.slice(1).entries()) {
        assert.match(m[3], new RegExp(`^runs/run_${i + 1}-[0-9a-f]{8}/c%231/console\\.log$`));
        assert.equal(readFileSync(path.join(out, decodeURIComponent(m[3])), 'utf8'), `console of r${i + 1}\n`);
      }
      assert.doesNotMatch(page, /file:\/\/|href="\//, 'every link is relative');
      const results = /<a href="([^"]+)" class="results">/.exec(page)![1];
      assert.deepEqual(
        JSON.parse(readFileSync(path.join(out, decodeURIComponent(results)), 'utf8')).cases[0].transcript,
        'c#1',
      );
      assert.match(
        toMarkdown(boards, { links }),
        /\| fail: night 2 \[console\]\(runs\/run_2-[0-9a-f]{8}\/c%231\/console\.log\) \[results\]\(runs\/run_2-[0-9a-f]{8}\/results\.json\) \|/,
      );
    });

    it('metrics keep their units; a chart is fitted to its values; a value that never changes is a line of text', async () => {
      const recs = series('PPPP').map((r, i) => ({
        ...r,
        metrics: { 'T.bytes_per_s [B/s]': 410_000 + i * 1000, 'T.cases': 4, 'T.latency [us]': 12 },
      }));
      const [b] = await analyse(recs);
      assert.deepEqual(
        b.metricTrends.map((m) => [m.name, m.unit]),
        [
          ['T.bytes_per_s', 'B/s'],
          ['T.cases', undefined],
          ['T.latency', 'us'],
        ],
      );
      const page = toHtml([b]);
      const svg =
        /<svg class="trend metric" data-board="b" data-case="c" data-metric="T.bytes_per_s" data-unit="B\/s" data-lo="([\d.]+)" data-hi="([\d.]+)"[\s\S]*?<\/svg>/.exec(
          page,
        );
      assert.ok(svg, 'a chart of the throughput');
      assert.ok(
        Number(svg[1]) > 400_000 && Number(svg[1]) < 410_000 && Number(svg[2]) > 413_000 && Number(svg[2]) < 420_000,
        `fitted: ${svg[1]} to ${svg[2]}`,
      );
      assert.deepEqual(
        [...svg[0].matchAll(/<text[^>]*class="tick">([^<]*)</g)].map((m) => m[1]),
        ['409700 B/s', '411500 B/s', '413300 B/s'],
      );
      assert.equal((page.match(/<svg class="trend metric"/g) ?? []).length, 1, 'the constant ones are no chart');
      assert.match(
        page,
        /<p class="metric constant" data-board="b" data-case="c" data-metric="T.latency" data-unit="us"><b>T.latency<\/b>: 12 us on every night \(4, 2026-11-01 to 2026-11-04\)<\/p>/,
      );
      assert.match(page, /<b>T.cases<\/b>: 4 on every night/);
      assert.deepEqual(axis([6.1, 6.9]), { lo: 6.02, hi: 6.98 });
      const text = toMarkdown([b]);
      assert.match(text, /^\| c \| T.bytes_per_s \| 413000 B\/s \(2026-11-04\) \| 410000 to 413000 B\/s \| 4 \|$/m);
      assert.match(text, /^\| c \| T.latency \| 12 us \(2026-11-04\) \| 12 us on every night \| 4 \|$/m);
    });

    it('the Markdown is escaped: a reason cannot break its table or become markup', async () => {
      const evil = 'a | b `code` <script>alert(1)</script>\nsecond line [link](http://x) *em* \\| ~~gone~~';
      const [b] = await analyse(series('PF', { reason: () => evil }));
      const text = toMarkdown([b]);
      const row = text.split('\n').find((l) => l.startsWith('| c |'))!;
      assert.equal(borders(row), 7, `six cells: ${row}`);
      assert.ok(!text.includes('<script'), 'no HTML');
      assert.ok(!/(?<!\\)`/.test(row), 'no code span');
      assert.ok(!/(?<!\\)\[link(?<!\\)\]/.test(row), 'no link');
      assert.match(
        row,
        /fail: a \\\| b \\`code\\` &lt;script&gt;alert\(1\)&lt;\/script&gt; second line \\\[link\\\]\(http:\/\/x\) \\\*em\\\* \\\\\\\| \\~\\~gone\\~\\~ \|/,
      );
      assert.equal(md('x\r\ny'), 'x y');
    });
  });
});
