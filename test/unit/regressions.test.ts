// The regression rule (KernelCI's): pass before, fail now, same board, case and
// configuration; lab errors decide nothing and are listed apart. Asked of the history's
// database, on both engines: PGlite, and a real PostgreSQL server.
import assert from 'node:assert/strict';
import type { HistoryRecord } from '../../runner/model/history.js';
import type { History } from '../../runner/history/store.js';
import { analyse as analyseStore, hydrate, type BoardReport } from '../../runner/report/regressions.js';
import { toHtml, toMarkdown } from '../../runner/report/regression-page.js';
import { caseName, syntheticHistory, SYNTHETIC_BOARDS } from '../../fixtures/history/synthetic.js';
import { eachEngine } from '../engines.js';

/** One case's nights from a string: P pass, F fail, T timeout, E lab error. */
function series(verdicts: string, o: { board?: string; case?: string; config?: (i: number) => string } = {}): HistoryRecord[] {
  const v = { P: 'pass', F: 'fail', T: 'timeout', E: 'error' } as const;
  return [...verdicts].map((ch, i) => ({
    run_id: `r${i}`,
    started: new Date(Date.UTC(2026, 10, 1 + i, 2)).toISOString(),
    board: o.board ?? 'b',
    suite: 's',
    case: o.case ?? 'c',
    guest: 'g',
    config: o.config?.(i) ?? 'cfg',
    images: [{ role: 'kernel', file: 'k', sha256: `${i}`.repeat(64).slice(0, 64) }],
    verdict: v[ch as keyof typeof v],
    reason: ch === 'P' ? '' : `night ${i}`,
    phases: { total: 1 },
    boot_s: 5 + i,
    transfers: [],
  }));
}

describe('regression analysis', () => {
  eachEngine((_engine, history) => {
    /** The records stored (into an emptied history), then the report of them, shown in full. */
    async function analyse(records: HistoryRecord[], o: Parameters<typeof analyseStore>[1] = {}): Promise<BoardReport<any, HistoryRecord>[]> {
      const h: History = history();
      await h.db.exec('truncate case_runs, runs, builds, sub_results, metrics, case_configs, boards, board_days, metric_days restart identity cascade');
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
        assert.deepEqual([status(3), status(5), status(7), status(9), status(0)], ['new-failure', 'fixed', 'flaky', 'still-failing', 'passing'], b.board);
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
      assert.match(md, /^\| case-003 \| linux \| fail: failure pattern .* \| 2026-10-19 02:01 build \w+ \(kernel \w{12}\) \| 2026-10-20 02:01 build /m);
      const html = toHtml(boards, { window: 20 });
      assert.equal((html.match(/<tr class="row new-failure"/g) ?? []).length, 4);
      assert.equal((html.match(/<svg class="trend boot"/g) ?? []).length, 4);
    });

    it('runner bugs decide nothing and are kept apart, like lab errors', async () => {
      const r = series('PPF');
      const bug = { ...series('P')[0], run_id: 'r9', started: new Date(Date.UTC(2026, 10, 9, 2)).toISOString(), verdict: 'internal' as const, reason: 'runner bug: TypeError' };
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
      const other = { ...recs[1], run_id: 'x', case: '<img src=x onerror=alert(1)>', metrics: { 'VCPU_PERF_RESULT.blocks_per_second': 410_000 } };
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
      assert.equal((html.match(/<svg class="trend metric" data-board="b" data-case="c" data-metric="VCPU_PERF_RESULT.blocks_per_second"/g) ?? []).length, 1);
      assert.ok(!html.includes('<img src=x'), 'a case name never becomes markup');
      assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;'));
    });
  });
});
