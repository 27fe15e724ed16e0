// The release gate of one build, asked of the history on both engines: only the build's
// own runs decide; earlier builds say what is required and what is a regression.
import assert from 'node:assert/strict';
import type { HistoryRecord } from '../../runner/model/history.js';
import type { History } from '../../runner/history/store.js';
import { criteriaSchema, gateHtml, gateMarkdown, releaseGate, type GateOptions } from '../../runner/report/release.js';
import { eachEngine } from '../engines.js';
import { nights } from '../../fixtures/history/nights.js';

const B = ['b0', 'b1', 'b2', 'b3', 'b4'];

describe('release gate of one build', () => {
  eachEngine((_engine, history) => {
    async function gate(records: HistoryRecord[], o: GateOptions) {
      const h: History = history();
      await h.add(records);
      return releaseGate(h, o);
    }

    it('a build that passed everywhere qualifies; it names the build, and each board requires the cases it ran before', async () => {
      const g = await gate(nights(B, { rk3568: { a: 'PPPPP', b: 'PPPPP' }, rk3588: { a: 'PPPPP' } }), {
        boards: ['rk3568', 'rk3588'],
        build: 'b4',
      });
      assert.equal(g.qualified, true, g.blocking.join('\n'));
      assert.equal(g.build, 'b4');
      assert.deepEqual(
        g.boards.map((b) => [b.board, b.requiredFrom, b.previousBuild, b.required.join(',')]),
        [
          ['rk3568', 'previous build', 'b3', 'a,b'],
          ['rk3588', 'previous build', 'b3', 'a'],
        ],
      );
      const md = gateMarkdown(g);
      assert.match(md, /^# Release qualification of build b4: QUALIFIED$/m);
      assert.match(md, /^\| b \| PASS \| {2}\|$/m, 'b is not required on rk3588: blank, not "not run"');
    });

    it('without --build: the newest build on those boards, said so', async () => {
      const g = await gate(nights(B, { rk3568: { a: 'PPPPP' } }), { boards: ['rk3568'] });
      assert.equal(g.build, 'b4');
      assert.equal(g.buildChosen, true);
      assert.match(gateMarkdown(g), /newest build recorded on these boards; give --build/);
    });

    it('a build that never ran on a board is NOT QUALIFIED, and says what to run', async () => {
      const g = await gate(nights(B, { rk3568: { a: 'PPPPP' }, rk3588: { a: 'PPPP-' } }), {
        boards: ['rk3568', 'rk3588'],
        build: 'b4',
      });
      assert.equal(g.qualified, false);
      assert.deepEqual(g.blocking, ['rk3588 / a: not run on build b4: run `hil run -b rk3588 -s a --build b4`']);
    });

    it('a board whose runs of the build were all lab errors: the build never ran there', async () => {
      const g = await gate(nights(B, { rk3568: { a: 'PPPEE', b: 'PPPPE' } }), { boards: ['rk3568'], build: 'b4' });
      assert.equal(g.qualified, false, 'the old gate said QUALIFIED: "PASS (lab error since)"');
      assert.deepEqual(g.boards[0].cells.a.state, 'lab errors');
      assert.match(
        g.blocking[0],
        /^rk3568 \/ a: only lab errors on build b4 \(1; last: console: \/dev\/ttyUSB0 vanished\): the build never ran there; fix the lab, then `hil run -b rk3568 -s nightly --build b4`$/,
      );
      assert.equal(g.blocking.length, 2);
    });

    it('a regression after an earlier blip blocks, naming the last build it passed on', async () => {
      // One blip long ago, passes, then three failing nights on the new commit b5.
      const builds = ['b0', 'b1', 'b2', 'b3', 'b4', 'b5', 'b5', 'b5'];
      const g = await gate(nights(builds, { rk3568: { a: 'PPPPPPPP', c: 'PFPPPFFF' } }), {
        boards: ['rk3568'],
        build: 'b5',
        require: ['a'],
      });
      assert.equal(g.qualified, false);
      assert.deepEqual(g.blocking, [
        'rk3568 / c: fail on build b5 (night 7 failed); regression: passed on build b4 (2026-11-05) (not a required case, but it passed before)',
      ]);
    });

    it('board-specific case names: each board requires its own, from the criteria or its previous build', async () => {
      const plan = {
        rk3568: { 'smoke/rk3568-linux': 'PPPPP' },
        rk3588: { 'smoke/rk3588-linux': 'PPPPP' },
        phytium: { 'smoke/phytium-linux': 'PPPPP' },
      };
      const g = await gate(nights(B, plan), { boards: ['rk3568', 'rk3588', 'phytium'], build: 'b4' });
      assert.equal(g.qualified, true, g.blocking.join('\n'));
      assert.equal(g.cases.length, 3);
      const c = criteriaSchema.parse({
        boards: ['rk3568', 'rk3588'],
        board: {
          rk3568: { required_cases: ['smoke/rk3568-linux'] },
          rk3588: { required_cases: ['smoke/rk3588-linux', 'smoke/rk3588-starry'] },
        },
      });
      const named = await gate([], { criteria: c, build: 'b4' });
      assert.deepEqual(named.blocking, [
        'rk3588 / smoke/rk3588-starry: not run on build b4: run `hil run -b rk3588 -s smoke/rk3588-starry --build b4`',
      ]);
      assert.ok(
        !('smoke/rk3588-linux' in named.boards[0].cells),
        'a board-specific case is not required on the other board',
      );
    });

    it('flaky on the build blocks unless the criteria allow it by name; allowed, it is still listed', async () => {
      const builds = ['b0', 'b1', 'b1', 'b1'];
      const records = nights(builds, { rk3568: { a: 'PPFP' } });
      const blocked = await gate(records, { boards: ['rk3568'], build: 'b1' });
      assert.equal(blocked.qualified, false);
      assert.match(
        blocked.blocking[0],
        /^rk3568 \/ a: flaky on build b1 \(2 passed, 1 failed\): blocks unless the criteria allow it/,
      );
      const h: History = history();
      const allowed = await releaseGate(h, { boards: ['rk3568'], build: 'b1', allowFlaky: ['a'] });
      assert.equal(allowed.qualified, true);
      assert.deepEqual(allowed.flaky, ['rk3568 / a: flaky on build b1 (2 passed, 1 failed) (allowed by the criteria)']);
    });

    it('options add to the criteria, none dropped: boards, required cases, since', async () => {
      const records = nights(B, {
        rk3568: { a: 'PPPPP', old: 'P----' },
        rk3588: { a: 'PPPPP' },
        phytium: { a: 'PPPPF' },
      });
      const c = criteriaSchema.parse({ boards: ['rk3568'], required_cases: ['a'] });
      const g = await gate(records, { criteria: c, boards: ['rk3588'], require: ['old'], build: 'b4' });
      assert.deepEqual(
        g.boards.map((b) => b.board),
        ['rk3568', 'rk3588'],
      );
      assert.deepEqual(
        g.blocking.map((x) => x.split(':')[0]),
        ['rk3568 / old', 'rk3588 / old'],
      );
      // --since: the cases each board ran since then are required (old ran before it).
      const h: History = history();
      const since = await releaseGate(h, {
        boards: ['rk3568', 'phytium'],
        build: 'b4',
        since: '2026-11-02T00:00:00.000Z',
      });
      assert.deepEqual(
        since.boards.map((b) => `${b.board}:${b.requiredFrom}:${b.required}`),
        ['rk3568:since:a', 'phytium:since:a'],
      );
      assert.match(
        since.blocking.join('\n'),
        /^phytium \/ a: fail on build b4 \(night 4 failed\); regression: passed on build b3/m,
      );
    });

    it('a build no board ran is said first; a board with no known case says how to name them', async () => {
      const g = await gate(nights(B, { rk3568: { a: 'PPPPP' } }), { boards: ['rk3568', 'newboard'], build: 'nosuch' });
      assert.equal(g.qualified, false);
      assert.match(g.blocking[0], /^build nosuch: no run of it is recorded on any board/);
      assert.match(g.blocking.join('\n'), /^newboard: no required case known .*\[board\."newboard"\] required_cases/m);
    });

    it('the HTML page: a row per board, a column per case, each cell linking to its transcript relative to the page', async () => {
      const g = await gate(nights(B, { rk3568: { a: 'PPPPP', 'x|<b>': 'PPPPF' } }), {
        boards: ['rk3568'],
        build: 'b4',
      });
      const page = gateHtml(g, '/srv/public/release');
      assert.match(
        page,
        /<tr data-board="rk3568"><th>rk3568<\/th><td class="pass" [^>]*><a href="\.\.\/\.\.\/runs\/rk3568-4\/01-a\/console\.log">PASS<\/a><\/td>/,
      );
      assert.ok(page.includes('x|&lt;b&gt;'), 'a case name never becomes markup');
      assert.ok(!/<script/i.test(page));
      assert.ok(gateMarkdown(g).includes('x\\|&lt;b>'), 'a pipe in a case name does not break the Markdown table');
    });
  });
});
