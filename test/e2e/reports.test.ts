// Reports as a person would read them: a history from real runs on the virtual board (a
// nightly image that regresses, a lab error) plus synthetic nights of four boards, turned
// into the regression page and opened in headless Chromium (the page published elsewhere,
// its run folders gone, its links still working); the Allure report of real runs likewise;
// the release matrix's exit status. Screenshots are kept in reports/test/.
import assert from 'node:assert/strict';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { syntheticHistory, SYNTHETIC_BOARDS } from '../../fixtures/history/synthetic.js';
import { checkNoQemuLeft, deriveToml, helloCase, hil, root, tmpDir, virtualBoard } from '../helpers.js';
import { imageDigest } from '../../runner/transfer/image.js';

const shots = path.join(root, 'reports', 'test');

/** Loads a page in headless Chromium: its DOM after load, and a screenshot. */
async function chromium(url: string, shot: string): Promise<string> {
  mkdirSync(shots, { recursive: true });
  const common = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--hide-scrollbars',
    '--virtual-time-budget=10000',
    '--window-size=1280,1600',
  ];
  await execa('chromium', [...common, `--screenshot=${path.join(shots, shot)}`, url], { timeout: 60_000 });
  const dom = await execa('chromium', [...common, '--dump-dom', url], { timeout: 60_000 });
  assert.ok(existsSync(path.join(shots, shot)), 'screenshot written');
  return String(dom.stdout);
}

describe('reports people read', function () {
  checkNoQemuLeft();
  const dir = tmpDir('hil-reports-');
  const history = path.join(dir, 'history');
  const nightly = path.join(dir, 'nightly.Image');
  const runs: string[] = [];
  const hello = path.join(root, 'fixtures', 'hello', 'hello.Image');
  const altered = path.join(root, 'fixtures', 'hello', 'hello-altered.Image');
  // The nightly case: the same case file every night, the image at its path replaced.
  const caseFile = deriveToml(
    helloCase,
    (d) => {
      d.images.kernel = nightly;
      d.fail_regex.push('(?m)^ERROR:');
      delete d.qemu_case;
      delete d.baseline_markers;
    },
    dir,
    'nightly.toml',
  );

  async function night(image: string, board = virtualBoard): Promise<any> {
    copyFileSync(image, nightly);
    const r = await hil([
      'run',
      '--board',
      board,
      '--suite',
      caseFile,
      '--history',
      history,
      '--hypervisor',
      `hv-${runs.length}`,
    ]);
    runs.push(r.out);
    return r;
  }

  before(async () => {
    assert.equal((await night(hello)).exitCode, 0);
    // A night whose console adapter is dead: no U-Boot prompt, a lab error.
    const deadConsole = deriveToml(virtualBoard, (d) => {
      d.uboot.prompt = 'nothing> ';
      d.timeouts.uboot = 2;
    });
    assert.equal((await night(hello, deadConsole)).exitCode, 2);
    assert.equal((await night(altered)).exitCode, 1);
  });

  it('every run writes Allure results: steps per phase, transcript attached, board/SoC/guest/hypervisor labels', () => {
    const results = path.join(runs[2], 'allure-results');
    const file = readdirSync(results).find((f) => f.endsWith('-result.json'))!;
    const r = JSON.parse(readFileSync(path.join(results, file), 'utf8'));
    assert.equal(r.status, 'failed');
    assert.match(
      r.statusDetails.message,
      /^fail in guest: failure pattern "\(\?m\)\^ERROR:" matched: ERROR: vcpu 1 failed to start/,
    );
    assert.deepEqual(
      r.steps.map((s: any) => s.name),
      [
        'power on, console attached',
        'reach the U-Boot prompt',
        'load images into RAM',
        'boot: hand-off to the guest',
        'guest checks',
      ],
    );
    assert.equal(r.steps[4].status, 'failed');
    assert.match(r.steps[2].steps[0].name, /^kernel nightly\.Image by tftp$/);
    assert.ok(r.steps[2].steps[0].parameters.some((p: any) => p.name === 'CRC-32'));
    const labels = Object.fromEntries(r.labels.map((l: any) => [l.name, l.value]));
    assert.equal(labels.board, 'qemu-virt-aarch64');
    assert.equal(labels.soc, 'QEMU virt, Cortex-A57');
    assert.equal(labels.guest, 'nightly');
    assert.equal(labels.build, 'hv-2');
    const log = r.attachments.find((a: any) => a.name === 'console.log');
    assert.match(readFileSync(path.join(results, log.source), 'utf8'), /ERROR: vcpu 1 failed to start/);
    const broken = JSON.parse(
      readFileSync(
        path.join(
          runs[1],
          'allure-results',
          readdirSync(path.join(runs[1], 'allure-results')).find((f) => f.endsWith('-result.json'))!,
        ),
        'utf8',
      ),
    );
    assert.equal(broken.status, 'broken', 'a lab error is Allure\'s "broken", not "failed"');
  });

  it('`hil report allure` turns the runs into a report that opens from disk in Chromium', async () => {
    const out = path.join(dir, 'allure');
    const r = await hil(['report', 'allure', ...runs, '-o', out, '--single-file']);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const dom = await chromium(`file://${out}/index.html#suites`, 'allure-suites.png');
    assert.match(dom, /qemu-virt-aarch64/, 'the board is the top suite');
    // The three nights as Allure shows them: the pass passed, the lab error "broken" (not a
    // failure of the hypervisor), the regression failed; the suite tree says so per case.
    const embedded = /d\('data\/suites\.json','([A-Za-z0-9+/=]+)'\)/.exec(dom);
    assert.ok(embedded, 'the report carries its suite tree');
    const leaves: { name: string; status: string }[] = [];
    const walk = (n: any) => (n.children ? n.children.forEach(walk) : leaves.push(n));
    walk(JSON.parse(Buffer.from(embedded[1], 'base64').toString('utf8')));
    assert.deepEqual(leaves.map((l) => `${l.name}:${l.status}`).sort(), [
      'nightly:broken',
      'nightly:failed',
      'nightly:passed',
    ]);
    const rendered = dom
      .replace(/<[^>]*>/g, '\n')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    const at = rendered.indexOf('Status:');
    assert.deepEqual(
      rendered.slice(at + 1, at + 4),
      ['1', '1', '1'],
      'the page renders one failed, one broken, one passed',
    );
  });

  it('counts each run once, however often it is added', async () => {
    const r = await hil(['history', 'add', runs[0], '--history', history]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /: 0 case run\(s\) recorded into .* \(1 recorded before: each run counts once\)/);
    const exported = await hil(['history', 'export', '--history', history]);
    assert.equal(exported.stdout.trim().split('\n').length, 3);
  });

  it('the real nights: a new failure with its last good and first bad images, the lab error apart', async () => {
    const out = path.join(dir, 'real');
    const r = await hil(['report', 'regressions', '--history', history, '-o', out]);
    assert.equal(r.exitCode, 0, r.stderr);
    const md = readFileSync(path.join(out, 'regressions.md'), 'utf8');
    assert.equal(md, r.stdout.slice(0, md.length), 'printed and written alike');
    assert.match(
      md,
      /^\| \[qemu-virt-aarch64\]\(#qemu-virt-aarch64-qemu-virt-cortex-a57\) \| 3 \| 1 \| 0 \| 0 \| 0 \| 1 \| [\d-]+ [\d:]+ build hv-2 \|$/m,
      'the overview',
    );
    assert.match(md, /3 runs, 1 cases: 1 new failures, 0 still failing, 0 fixed, 0 flaky, 1 lab errors/);
    const row = md.split('\n').find((l) => l.startsWith('| nightly |'))!;
    assert.ok(row.includes(`build hv-0 (kernel ${imageDigest(hello).slice(0, 12)})`), row);
    assert.ok(row.includes(`build hv-2 (kernel ${imageDigest(altered).slice(0, 12)})`), row);
    assert.match(
      row,
      /^\| nightly \| nightly \| fail: failure pattern .* \[console\]\(runs\/[^)]+\/console\.log\) \[results\]\(runs\/[^)]+\/results\.json\) \|/,
      'the failure, linked',
    );
    assert.match(row, /\| PEF \|$/);
    assert.match(
      md,
      /### Lab errors by cause[^\n]*\n\n\| phase \| cause \| count \| first \| last \| cases \|\n[^\n]*\n\| uboot \| uboot: no U-Boot prompt[^|]* \| 1 \| [\d-]+ [\d:]+ \| [\d-]+ [\d:]+ \[console\]\(runs\/[^)]+\) \[results\]\([^)]+\) \| nightly \|$/m,
    );

    // Published: the folder copied to a web server's, the lab's run folders gone.
    const site = tmpDir('hil-site-');
    cpSync(out, site, { recursive: true });
    const consoles = runs.map((run) => readFileSync(path.join(run, 'nightly', 'console.log'), 'utf8'));
    const away = tmpDir('hil-runs-away-');
    for (const [i, run] of runs.entries()) renameSync(run, path.join(away, String(i)));
    try {
      const dom = await chromium(`file://${site}/regressions.html`, 'regressions-real.png');
      assert.match(
        dom,
        /<tr class="row overview" data-board="qemu-virt-aarch64"><td><a href="#board-qemu-virt-aarch64">qemu-virt-aarch64<\/a>/,
      );
      const row = dom.slice(
        dom.indexOf('<tr class="row new-failure"'),
        dom.indexOf('</tr>', dom.indexOf('<tr class="row new-failure"')),
      );
      const cells = [...row.matchAll(/<a class="cell (\w+)" href="([^"]+)" title="([^"]+)"/g)];
      assert.deepEqual(
        cells.map((m) => m[1]),
        ['pass', 'error', 'fail'],
        'each night a linked cell',
      );
      for (const [i, m] of cells.entries()) {
        assert.match(m[3], new RegExp(`^[\\d-]+ [\\d:]+ build hv-${i}: ${m[1]}`), 'the cell says when and which build');
        assert.ok(!m[2].startsWith('/') && !m[2].includes(':'), `a relative link: ${m[2]}`);
        const file = path.join(site, decodeURIComponent(m[2]));
        assert.equal(readFileSync(file, 'utf8'), consoles[i], `night ${i}: the console.log, next to the page`);
      }
      assert.match(consoles[2], /ERROR: vcpu 1 failed to start/);
      // The link as the browser follows it, from the published page's folder.
      const followed = await chromium(
        new URL(cells[2][2], `file://${site}/regressions.html`).href,
        'regressions-real-console.png',
      );
      assert.match(followed, /ERROR: vcpu 1 failed to start/);
      const results = /<a href="([^"]+)" class="results">/.exec(row)![1];
      const copied = JSON.parse(readFileSync(path.join(site, decodeURIComponent(results)), 'utf8'));
      assert.equal(copied.cases[0].transcript, 'nightly', "results.json's transcript still names the console's folder");
      assert.ok(
        existsSync(path.join(site, decodeURIComponent(results), '..', copied.cases[0].transcript, 'console.log')),
      );
      assert.doesNotMatch(dom, /file:\/\//);
    } finally {
      for (const [i, run] of runs.entries()) renameSync(path.join(away, String(i)), run);
    }
  });

  it('the HTML page with many nights of four boards renders the expected rows, strips and charts in Chromium', async () => {
    const nights = path.join(dir, 'synthetic.jsonl');
    // case-011 of roc-rk3568-pc is left out of two nights, then of the last five.
    const skipped = (r: { board: string; case: string; started: string }) =>
      r.board === 'roc-rk3568-pc' &&
      r.case === 'case-011' &&
      ['2026-10-08', '2026-10-09', '2026-10-16', '2026-10-17', '2026-10-18', '2026-10-19', '2026-10-20'].includes(
        r.started.slice(0, 10),
      );
    writeFileSync(
      nights,
      `${syntheticHistory({
        boards: SYNTHETIC_BOARDS.filter((b) => b !== 'qemu-virt-aarch64'),
        cases: 20,
        nights: 50,
        metrics: true,
      })
        .filter((r) => !skipped(r))
        .map((x) => JSON.stringify(x))
        .join('\n')}\n`,
    );
    assert.equal((await hil(['history', 'import', nights, '--history', history])).exitCode, 0);
    const out = path.join(dir, 'all');
    const r = await hil(['report', 'regressions', '--history', history, '-o', out, '--window', '15']);
    assert.equal(r.exitCode, 0, r.stderr);
    const dom = await chromium(`file://${out}/regressions.html`, 'regressions.png');
    const rows = (cls: string) =>
      [...dom.matchAll(new RegExp(`<tr class="row ${cls}" data-board="([^"]+)" data-case="([^"]+)"`, 'g'))]
        .map((m) => `${m[1]}:${m[2]}`)
        .sort();
    assert.deepEqual(rows('new-failure'), [
      'orangepi-5-plus:case-003',
      'phytiumpi:case-003',
      'qemu-virt-aarch64:nightly',
      'roc-rk3568-pc:case-003',
    ]);
    assert.deepEqual(rows('fixed'), ['orangepi-5-plus:case-005', 'phytiumpi:case-005', 'roc-rk3568-pc:case-005']);
    assert.deepEqual(rows('flaky'), ['orangepi-5-plus:case-007', 'phytiumpi:case-007', 'roc-rk3568-pc:case-007']);
    assert.deepEqual(rows('still-failing'), [
      'orangepi-5-plus:case-009',
      'phytiumpi:case-009',
      'roc-rk3568-pc:case-009',
    ]);
    assert.equal(rows('all').length, 3 * 20 + 1);
    // The overview first: every board, linking to its section.
    const overview = [
      ...dom.matchAll(/<tr class="row overview" data-board="([^"]+)"><td><a href="#board-([^"]+)">/g),
    ].map((m) => [m[1], m[2]]);
    assert.deepEqual(
      overview.map((x) => x[0]),
      ['orangepi-5-plus', 'phytiumpi', 'qemu-virt-aarch64', 'roc-rk3568-pc'],
    );
    for (const [b, anchor] of overview)
      assert.ok(dom.includes(`<section class="board" id="board-${anchor}" data-board="${b}">`), b);
    assert.ok(dom.indexOf('class="list overview"') < dom.indexOf('<section class="board"'));
    // Lab errors: one row per cause and board (the port and the seconds vary), the counts adding up.
    const causes = [
      ...dom.matchAll(/<tr class="row lab-error" data-board="([^"]+)" data-phase="(\w*)" data-count="(\d+)">/g),
    ];
    for (const b of ['orangepi-5-plus', 'phytiumpi', 'roc-rk3568-pc']) {
      const mine = causes.filter((m) => m[1] === b);
      assert.ok(mine.length >= 1 && mine.length <= 2, `${b}: ${mine.length} causes`);
      const total = Number(
        new RegExp(`<section class="board" id="board-${b}"[\\s\\S]*?(\\d+) lab errors</span>`).exec(dom)![1],
      );
      assert.equal(
        mine.reduce((n, m) => n + Number(m[3]), 0),
        total,
        `${b}: every lab error in a row of its cause`,
      );
    }
    assert.ok(causes.some((m) => m[1] === 'qemu-virt-aarch64' && m[2] === 'uboot'));
    assert.match(
      dom,
      /<tr class="row lab-cause" data-phase="console" data-count="\d+"><td>console<\/td><td><code>console: the serial port \{path\} vanished and did not come back within N s<\/code>[\s\S]*?<td>orangepi-5-plus, phytiumpi, roc-rk3568-pc<\/td><\/tr>/,
    );
    // A strip of 15 cells per case row; the flaky one alternates red and green.
    const strip = (board: string, c: string, cls: string) => {
      const at = dom.indexOf(`<tr class="row ${cls}" data-board="${board}" data-case="${c}"`);
      return [
        ...dom.slice(at, dom.indexOf('</tr>', at)).matchAll(/<(?:span|a) class="cell ([\w ]+)"(?: title="([^"]*)")?/g),
      ].map((m) => [m[1], m[2]]);
    };
    const flaky = strip('roc-rk3568-pc', 'case-007', 'flaky').map((x) => x[0]);
    assert.equal(flaky.length, 15);
    assert.deepEqual(flaky.slice(-4), ['pass', 'timeout', 'pass', 'timeout']);
    // Gaps: the nights the board ran without case-011.
    const gappy = strip('roc-rk3568-pc', 'case-011', 'all');
    const shape = gappy.map((x) => (x[0].startsWith('gap') ? x[0] : 'run'));
    assert.deepEqual(shape.slice(-12), [
      'run',
      'run',
      'run',
      'gap',
      'gap',
      'run',
      'run',
      'run',
      'run',
      'run',
      'run',
      'gap many',
    ]);
    assert.equal(gappy[gappy.length - 1][1], '5 nights the board ran without this case (2026-10-16 to 2026-10-20)');
    assert.equal(shape.filter((x) => x === 'run').length, 15, 'still the last 15 runs');
    assert.equal(gappy[shape.lastIndexOf('gap')][1], '2026-10-09: the board ran, this case did not');
    // Charts: boot time per board, fitted to its values; metrics with their units; a metric
    // that never changes is a line of text.
    const boot = [
      ...dom.matchAll(
        /<svg class="trend boot" data-board="([^"]+)" data-metric="boot time" data-unit="s" data-lo="([\d.]+)" data-hi="([\d.]+)"[\s\S]*?<\/svg>/g,
      ),
    ];
    assert.equal(boot.length, 4, 'a boot-time chart per board');
    for (const m of boot.filter((x) => x[1] !== 'qemu-virt-aarch64')) {
      assert.ok(Number(m[2]) > 5, `${m[1]}: the axis starts near the values (${m[2]}), not at 0`);
      assert.equal((m[0].match(/<circle /g) ?? []).length, 50, 'one point per night');
      assert.doesNotMatch(m[0], />0\.0+ s</);
    }
    const metric = (b: string, name: string) =>
      new RegExp(
        `<svg class="trend metric" data-board="${b}" data-case="case-001" data-metric="${name}" data-unit="([^"]*)" data-lo="([\\d.]+)" data-hi="([\\d.]+)"`,
      ).exec(dom);
    const rate = metric('phytiumpi', 'VCPU_PERF_RESULT.bytes_per_s');
    assert.ok(rate, 'the throughput charted');
    assert.equal(rate[1], 'B/s');
    assert.ok(Number(rate[2]) > 390_000, `fitted: from ${rate[2]}`);
    assert.equal(metric('phytiumpi', 'VCPU_PERF_RESULT.latency')?.[1], 'us');
    assert.equal(metric('phytiumpi', 'VCPU_PERF_RESULT.cases'), null);
    assert.match(
      dom,
      /<p class="metric constant" data-board="phytiumpi" data-case="case-001" data-metric="VCPU_PERF_RESULT.cases" data-unit=""><b>VCPU_PERF_RESULT.cases<\/b>: 4 on every night \(50, 2026-09-01 to 2026-10-20\)<\/p>/,
    );
    const md = readFileSync(path.join(out, 'regressions.md'), 'utf8');
    assert.match(
      md,
      /^\| case-001 \| VCPU_PERF_RESULT.bytes_per_s \| \d+ B\/s \(2026-10-20\) \| \d+ to \d+ B\/s \| 50 \|$/m,
    );
  });

  it('the release gate of the real nights: the build that regressed is not qualified, naming the build it passed on', async () => {
    const bad = await hil([
      'report',
      'release',
      '--history',
      history,
      '--board',
      'qemu-virt-aarch64',
      '--build',
      'hv-2',
      '-o',
      path.join(dir, 'release'),
    ]);
    assert.equal(bad.exitCode, 1, bad.stdout);
    assert.match(bad.stdout, /^# Release qualification of build hv-2: NOT QUALIFIED$/m);
    assert.match(
      bad.stdout,
      /^- qemu-virt-aarch64 \/ nightly: fail on build hv-2 \(failure pattern .*\); regression: passed on build hv-0 /m,
    );
    assert.ok(existsSync(path.join(dir, 'release', 'release.json')));
    // The night of the dead console: hv-1 never ran the case, whatever the runs around it did.
    const lab = await hil([
      'report',
      'release',
      '--history',
      history,
      '--board',
      'qemu-virt-aarch64',
      '--build',
      'hv-1',
    ]);
    assert.equal(lab.exitCode, 1, lab.stdout);
    assert.match(
      lab.stdout,
      /^- qemu-virt-aarch64 \/ nightly: only lab errors on build hv-1 \(1; last: uboot: no U-Boot prompt/m,
    );
    const good = await hil([
      'report',
      'release',
      '--history',
      history,
      '--board',
      'qemu-virt-aarch64',
      '--build',
      'hv-0',
    ]);
    assert.equal(good.exitCode, 0, good.stdout);
    assert.match(good.stdout, /^# Release qualification of build hv-0: QUALIFIED$/m);
  });
});
