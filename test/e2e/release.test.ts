// `hil report release` and `hil report compare` as a release manager and a pull request's
// CI call them: real processes over a history imported from JSON lines; every option
// combined with every other, or refused with one line and exit 3; exit 0 / 1 as the
// answer; the step summary GitHub Actions shows.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { nights } from '../../fixtures/history/nights.js';
import { hil, tmpDir } from '../helpers.js';

describe('hil report release and hil report compare, as processes', function () {
  const dir = tmpDir('hil-release-');
  const history = path.join(dir, 'history');
  const criteria = path.join(dir, 'release.toml');
  // b0..b3 nightly builds; b4 a pull request's build that breaks rk3588's b and fixes
  // phytium's c; rk3568 never ran b4.
  const builds = ['b0', 'b1', 'b2', 'b3', 'b4'];

  before(async () => {
    const records = nights(builds, {
      rk3568: { 'smoke/rk3568-linux': 'PPPP-', a: 'PPPP-' },
      rk3588: { 'smoke/rk3588-linux': 'PPPPP', a: 'PPPPP', b: 'PPPPF' },
      phytium: { a: 'PPPPP', c: 'FFFFP', d: 'PPPEE' },
    });
    const file = path.join(dir, 'nights.jsonl');
    writeFileSync(file, `${records.map((r) => JSON.stringify(r)).join('\n')}\n`);
    const r = await hil(['history', 'import', file, '--history', history]);
    assert.equal(r.exitCode, 0, r.stderr);
    writeFileSync(
      criteria,
      [
        'boards = ["rk3588", "phytium"]',
        'required_cases = ["a"]',
        'allow_flaky = []',
        '[board.rk3588]',
        'required_cases = ["smoke/rk3588-linux"]',
        '',
      ].join('\n'),
    );
  });

  const release = (...args: string[]) => hil(['report', 'release', '--history', history, ...args]);

  it('qualifies the build it is given, and says which: exit 0, with the HTML matrix', async () => {
    const out = path.join(dir, 'b3');
    const r = await release('--criteria', criteria, '--build', 'b3', '-o', out);
    assert.equal(r.exitCode, 1, 'phytium c failed on b3, and it is a case phytium ran before');
    assert.match(r.stdout, /^# Release qualification of build b3: NOT QUALIFIED$/m);
    const ok = await release('--criteria', criteria, '--build', 'b3', '--board', 'rk3568', '-o', out);
    assert.match(ok.stdout, /^\| case \| rk3588 \| phytium \| rk3568 \|$/m, '--board adds rk3568 to the criteria');
    const page = readFileSync(path.join(out, 'release.html'), 'utf8');
    assert.match(page, /<tr data-board="rk3568">/);
    const json = JSON.parse(readFileSync(path.join(out, 'release.json'), 'utf8'));
    assert.equal(json.build, 'b3');
    const clean = await release('-b', 'rk3588', '--build', 'b3', '--require', 'a');
    assert.equal(clean.exitCode, 0, clean.stdout);
    assert.match(clean.stdout, /^# Release qualification of build b3: QUALIFIED$/m);
  });

  it('every option together: criteria, boards, required cases, allowed flaky, since and build', async () => {
    const r = await release(
      '--criteria',
      criteria,
      '-b',
      'rk3568',
      '--require',
      'd',
      '--allow-flaky',
      'b',
      '--since',
      '2026-11-03',
      '--build',
      'b4',
    );
    assert.equal(r.exitCode, 1);
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('- '));
    assert.ok(
      lines.some((l) => /^- rk3568 \/ a: not run on build b4: run `hil run -b rk3568 -s a --build b4`$/.test(l)),
      lines.join('\n'),
    );
    assert.ok(
      lines.some((l) => /^- phytium \/ d: only lab errors on build b4/.test(l)),
      '--require d on every board',
    );
    assert.ok(
      lines.some((l) => /^- rk3588 \/ b: fail on build b4 \(night 4 failed\); regression: passed on build b3/.test(l)),
      'a regression outside the required cases still blocks',
    );
  });

  it('bad usage: one line, exit 3, nothing written', async () => {
    for (const [args, said] of [
      [['--build', 'b4'], /say which boards the release must pass on/],
      [['-b', 'rk3588', '--since', 'last tuesday'], /--since last tuesday: give a date such as 2026-11-01/],
      [['-b', 'rk3588', '--build', ''], /--build "": give a build name or commit/],
      [['--criteria', path.join(dir, 'nosuch.toml')], /nosuch\.toml/],
    ] as const) {
      const r = await release(...args);
      assert.equal(r.exitCode, 3, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, said);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
    const badCriteria = path.join(dir, 'bad.toml');
    writeFileSync(badCriteria, 'boards = ["rk3588"]\n[board.rk9999]\nrequired_cases = ["x"]\n');
    const r = await release('--criteria', badCriteria);
    assert.equal(r.exitCode, 3);
    assert.match(r.stderr, /board\.rk9999 is not one of boards \(rk3588\)/);
  });

  it('compare: new failures, fixed, not run on a side; exit 1 on a new failure, and the step summary', async () => {
    const summary = path.join(dir, 'summary.md');
    writeFileSync(summary, '');
    const r = await hil(
      ['report', 'compare', '--history', history, '--base', 'b3', '--head', 'b4', '-o', path.join(dir, 'cmp')],
      { env: { GITHUB_STEP_SUMMARY: summary } },
    );
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    const md = readFileSync(summary, 'utf8');
    assert.match(md, /^## Board tests: b4 against b3$/m);
    assert.match(
      md,
      /^\*\*1 new failure\(s\)\*\*, 1 fixed, 0 still failing, 3 passing; not run: 3 on head, 0 on base/m,
    );
    assert.match(
      md,
      /^### New failure\n\n\| board \| case \| base \| head \|\n\|---\|---\|---\|---\|\n\| rk3588 \| b \| pass \| fail: night 4 failed \|$/m,
    );
    assert.match(md, /^### Fixed\n\n[^\n]*\n[^\n]*\n\| phytium \| c \| fail: night 3 failed \| pass \|$/m);
    assert.match(
      md,
      /^\| phytium \| d \| lab errors only: console: \/dev\/ttyUSB0 vanished \| lab errors only: console: \/dev\/ttyUSB0 vanished \|$/m,
    );
    assert.match(md, /^\| rk3568 \| a \| pass \| not run \|$/m);
    const json = JSON.parse(readFileSync(path.join(dir, 'cmp', 'compare.json'), 'utf8'));
    assert.equal(json.counts['new failure'], 1);
    // The other way round, nothing is new: exit 0.
    const back = await hil([
      'report',
      'compare',
      '--history',
      history,
      '--base',
      'b4',
      '--head',
      'b3',
      '-b',
      'phytium',
    ]);
    assert.equal(back.exitCode, 1, 'phytium c: passed on b4, fails on b3');
    const same = await hil(['report', 'compare', '--history', history, '--base', 'b2', '--head', 'b3']);
    assert.equal(same.exitCode, 0, same.stdout);
    assert.match(same.stdout, /No new failure, 0 fixed, 1 still failing, 6 passing/);
  });

  it('compare refuses a head build with no run, and the same build twice (exit 3)', async () => {
    const none = await hil(['report', 'compare', '--history', history, '--base', 'b3', '--head', 'nosuch']);
    assert.equal(none.exitCode, 3);
    assert.match(none.stderr, /--head nosuch: no run of this build is recorded/);
    const twice = await hil(['report', 'compare', '--history', history, '--base', 'b3', '--head', 'b3']);
    assert.equal(twice.exitCode, 3);
    assert.match(twice.stderr, /same build/);
  });
});
