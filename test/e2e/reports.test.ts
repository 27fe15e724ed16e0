// Reports as a person would read them: a history from real runs on the virtual board (a
// nightly image that regresses, a lab error) plus synthetic nights of four boards, turned
// into the regression page and opened in headless Chromium; the Allure report of real runs
// likewise; the release matrix's exit status. Screenshots are kept in reports/test/.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { syntheticHistory, SYNTHETIC_BOARDS } from '../../fixtures/history/synthetic.js';
import { checkNoQemuLeft, deriveToml, helloCase, hil, root, tmpDir, virtualBoard } from '../helpers.js';
import { imageDigest } from '../../runner/transfer/image.js';

const shots = path.join(root, 'reports', 'test');

/** Loads a page in headless Chromium: its DOM after load, and a screenshot. */
async function chromium(url: string, shot: string): Promise<string> {
  mkdirSync(shots, { recursive: true });
  const common = ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--virtual-time-budget=10000', '--window-size=1280,1600'];
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
    const r = await hil(['run', '--board', board, '--suite', caseFile, '--history', history, '--hypervisor', `hv-${runs.length}`]);
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
    assert.match(r.statusDetails.message, /^fail in guest: failure pattern "\(\?m\)\^ERROR:" matched: ERROR: vcpu 1 failed to start/);
    assert.deepEqual(
      r.steps.map((s: any) => s.name),
      ['power on, console attached', 'reach the U-Boot prompt', 'load images into RAM', 'boot: hand-off to the guest', 'guest checks'],
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
      readFileSync(path.join(runs[1], 'allure-results', readdirSync(path.join(runs[1], 'allure-results')).find((f) => f.endsWith('-result.json'))!), 'utf8'),
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
    assert.deepEqual(leaves.map((l) => `${l.name}:${l.status}`).sort(), ['nightly:broken', 'nightly:failed', 'nightly:passed']);
    const rendered = dom
      .replace(/<[^>]*>/g, '\n')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    const at = rendered.indexOf('Status:');
    assert.deepEqual(rendered.slice(at + 1, at + 4), ['1', '1', '1'], 'the page renders one failed, one broken, one passed');
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
    assert.match(md, /3 runs, 1 cases: 1 new failures, 0 still failing, 0 fixed, 0 flaky, 1 lab errors/);
    const row = md.split('\n').find((l) => l.startsWith('| nightly |'))!;
    assert.ok(row.includes(`build hv-0 (kernel ${imageDigest(hello).slice(0, 12)})`), row);
    assert.ok(row.includes(`build hv-2 (kernel ${imageDigest(altered).slice(0, 12)})`), row);
    assert.match(md, /### Lab errors[^\n]*\n\n[^\n]*\n[^\n]*\n\| [\d-]+ [\d:]+ \| nightly \| uboot \| uboot: no U-Boot prompt/);
  });

  it('the HTML page with many nights of four boards renders the expected rows, strips and charts in Chromium', async () => {
    const nights = path.join(dir, 'synthetic.jsonl');
    writeFileSync(
      nights,
      `${syntheticHistory({ boards: SYNTHETIC_BOARDS.filter((b) => b !== 'qemu-virt-aarch64'), cases: 20, nights: 50 })
        .map((x) => JSON.stringify(x))
        .join('\n')}\n`,
    );
    assert.equal((await hil(['history', 'import', nights, '--history', history])).exitCode, 0);
    const out = path.join(dir, 'all');
    const r = await hil(['report', 'regressions', '--history', history, '-o', out, '--window', '15']);
    assert.equal(r.exitCode, 0, r.stderr);
    const dom = await chromium(`file://${out}/regressions.html`, 'regressions.png');
    const rows = (cls: string) => [...dom.matchAll(new RegExp(`<tr class="row ${cls}" data-board="([^"]+)" data-case="([^"]+)"`, 'g'))].map((m) => `${m[1]}:${m[2]}`).sort();
    assert.deepEqual(rows('new-failure'), ['orangepi-5-plus:case-003', 'phytiumpi:case-003', 'qemu-virt-aarch64:nightly', 'roc-rk3568-pc:case-003']);
    assert.deepEqual(rows('fixed'), ['orangepi-5-plus:case-005', 'phytiumpi:case-005', 'roc-rk3568-pc:case-005']);
    assert.deepEqual(rows('flaky'), ['orangepi-5-plus:case-007', 'phytiumpi:case-007', 'roc-rk3568-pc:case-007']);
    assert.deepEqual(rows('still-failing'), ['orangepi-5-plus:case-009', 'phytiumpi:case-009', 'roc-rk3568-pc:case-009']);
    assert.ok(rows('lab-error').includes('qemu-virt-aarch64:nightly'));
    assert.equal(rows('all').length, 3 * 20 + 1);
    // A strip of 15 cells per case row; the flaky one alternates red and green.
    const flaky = dom.slice(dom.indexOf('data-case="case-007"'), dom.indexOf('</tr>', dom.indexOf('data-case="case-007"')));
    const cells = [...flaky.matchAll(/<span class="cell (\w+)"/g)].map((m) => m[1]);
    assert.equal(cells.length, 15);
    assert.deepEqual(cells.slice(-4), ['pass', 'timeout', 'pass', 'timeout']);
    assert.equal((dom.match(/<svg class="trend boot"/g) ?? []).length, 4, 'a boot-time chart per board');
    assert.equal((dom.match(/<circle /g) ?? []).length, 3 * 50 + 1, 'one point per night');
  });

  it('the release gate of the real nights: the build that regressed is not qualified, naming the build it passed on', async () => {
    const bad = await hil(['report', 'release', '--history', history, '--board', 'qemu-virt-aarch64', '--build', 'hv-2', '-o', path.join(dir, 'release')]);
    assert.equal(bad.exitCode, 1, bad.stdout);
    assert.match(bad.stdout, /^# Release qualification of build hv-2: NOT QUALIFIED$/m);
    assert.match(bad.stdout, /^- qemu-virt-aarch64 \/ nightly: fail on build hv-2 \(failure pattern .*\); regression: passed on build hv-0 /m);
    assert.ok(existsSync(path.join(dir, 'release', 'release.json')));
    // The night of the dead console: hv-1 never ran the case, whatever the runs around it did.
    const lab = await hil(['report', 'release', '--history', history, '--board', 'qemu-virt-aarch64', '--build', 'hv-1']);
    assert.equal(lab.exitCode, 1, lab.stdout);
    assert.match(lab.stdout, /^- qemu-virt-aarch64 \/ nightly: only lab errors on build hv-1 \(1; last: uboot: no U-Boot prompt/m);
    const good = await hil(['report', 'release', '--history', history, '--board', 'qemu-virt-aarch64', '--build', 'hv-0']);
    assert.equal(good.exitCode, 0, good.stdout);
    assert.match(good.stdout, /^# Release qualification of build hv-0: QUALIFIED$/m);
  });
});
