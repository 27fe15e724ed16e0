// Allure across builds, as a nightly makes it: real runs on the virtual board of build b1
// (the hello image, passes) and then b2 (an altered image at the same path, fails; on a
// second board too), each night's `hil report allure --single-file` into the same folder.
// A test is its board and case whatever the build, so the second report continues the
// first one's history and trend; executor.json names the builds; the pages load no script
// from elsewhere.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { checkNoQemuLeft, deriveToml, helloCaseWith, hil, root, tmpDir, virtualBoard } from '../helpers.js';
import { imageDigest } from '../../runner/transfer/image.js';

/** Not a GitHub Actions run, whatever runs the tests; or this one. */
const NO_CI = { GITHUB_SERVER_URL: '', GITHUB_REPOSITORY: '', GITHUB_RUN_ID: '', GITHUB_RUN_NUMBER: '' };
const CI = {
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'lab/axvisor-nightly',
  GITHUB_RUN_ID: '987654321',
  GITHUB_RUN_NUMBER: '57',
};
const CI_RUN = 'https://github.com/lab/axvisor-nightly/actions/runs/987654321';

const resultsOf = (run: string): any[] => {
  const dir = path.join(run, 'allure-results');
  return readdirSync(dir)
    .filter((f) => f.endsWith('-result.json'))
    .map((f) => JSON.parse(readFileSync(path.join(dir, f), 'utf8')));
};
const labels = (r: any): Record<string, string[]> => {
  const out: Record<string, string[]> = {};
  for (const l of r.labels) (out[l.name] ??= []).push(l.value);
  return out;
};

/** The data a single-file report carries: Allure embeds each of its files as base64. */
function embedded(html: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const m of html.matchAll(/d\('([^']+)','([A-Za-z0-9+/=]*)'\)/g))
    files.set(m[1], Buffer.from(m[2], 'base64').toString('utf8'));
  assert.ok(files.size, 'the page embeds its data');
  return files;
}

/** Every place a page loads a script or a style from another site (its own assets/ and
 * data: URLs are its own), and any trace of Google's analytics. */
function externalLoads(html: string): string[] {
  return [
    ...html.matchAll(/<script\b[^>]*\bsrc\s*=\s*["']?(?:https?:)?\/\/[^"' >]+/gi),
    ...html.matchAll(/<link\b[^>]*\bhref\s*=\s*["']?(?:https?:)?\/\/[^"' >]+/gi),
    ...html.matchAll(/googletagmanager|google-analytics|gtag\(/gi),
  ].map((m) => m[0]);
}

describe('Allure across builds: one history per board and case, a trend of builds', function () {
  checkNoQemuLeft();
  const dir = tmpDir('hil-allure-');
  const image = path.join(dir, 'nightly.Image');
  const hello = path.join(root, 'fixtures', 'hello', 'hello.Image');
  const altered = path.join(root, 'fixtures', 'hello', 'hello-altered.Image');
  // The nightly case: the same case file every night, the image at its path replaced.
  const caseFile = helloCaseWith((d) => {
    d.images.kernel = image;
    d.fail_regex.push('(?m)^ERROR:');
    delete d.qemu_case;
    delete d.baseline_markers;
  }, dir);
  const spare = deriveToml(
    virtualBoard,
    (d) => {
      // A second board of the same kind: the case's board_type is its alias.
      d.name = 'qemu-virt-aarch64-spare';
      d.aliases = ['qemu-virt-aarch64'];
    },
    dir,
    'qemu-virt-aarch64-spare.toml',
  );
  const out = path.join(dir, 'allure');
  const runs: Record<'b1' | 'b2' | 'b2spare', string> = { b1: '', b2: '', b2spare: '' };

  async function night(build: string, img: string, board = virtualBoard): Promise<string> {
    copyFileSync(img, image);
    const r = await hil(['run', '--board', board, '--suite', caseFile, '--build', build], { env: NO_CI });
    assert.equal(r.exitCode, img === hello ? 0 : 1, r.stdout + r.stderr);
    return r.out;
  }

  before(async () => {
    runs.b1 = await night('b1', hello);
    runs.b2 = await night('b2', altered);
    runs.b2spare = await night('b2', altered, spare);
  });

  it('a test is its board and case: the same historyId and testCaseId in both builds, images and configuration as labels', () => {
    const [b1, b2, b2spare] = [runs.b1, runs.b2, runs.b2spare].map((r) => {
      const results = resultsOf(r);
      assert.equal(results.length, 1);
      return results[0];
    });
    assert.equal(b1.status, 'passed');
    assert.equal(b2.status, 'failed');
    assert.equal(b2.historyId, b1.historyId, 'same board and case, another build: the same history');
    assert.equal(b2.testCaseId, b1.testCaseId);
    assert.notEqual(b2spare.historyId, b2.historyId, 'another board: another test');
    assert.notEqual(b2spare.testCaseId, b2.testCaseId);
    for (const [r, build, img] of [
      [b1, 'b1', hello],
      [b2, 'b2', altered],
    ] as const) {
      assert.deepEqual(
        r.parameters,
        [],
        'nothing that changes with the build is a parameter (Allure keys history by them)',
      );
      const l = labels(r);
      assert.deepEqual(l.build, [build]);
      assert.deepEqual(l.image, [`kernel nightly.Image sha256:${imageDigest(img)}`]);
      assert.match(l.configuration[0], /^[0-9a-f]{12}$/);
      assert.match(r.description, new RegExp(`sha256 ${imageDigest(img)}`));
    }
  });

  it('each run writes executor.json naming its build', () => {
    for (const [r, build] of [
      [runs.b1, 'b1'],
      [runs.b2, 'b2'],
    ]) {
      const e = JSON.parse(readFileSync(path.join(r, 'allure-results', 'executor.json'), 'utf8'));
      const started = JSON.parse(readFileSync(path.join(r, 'results.json'), 'utf8')).started;
      assert.deepEqual(e, {
        name: 'hil',
        type: 'hil',
        buildOrder: Math.floor(Date.parse(started) / 1000),
        buildName: build,
        reportName: `qemu-virt-aarch64 hello: build ${build}`,
      });
    }
  });

  it('two nights of `hil report allure --single-file` into one folder: the second shows the trend of both builds and continues each test', async () => {
    const first = await hil(['report', 'allure', runs.b1, '-o', out, '--single-file'], { env: NO_CI });
    assert.equal(first.exitCode, 0, first.stdout + first.stderr);
    // Allure's single-file mode writes no history/: the runner keeps it beside the page.
    assert.deepEqual(readdirSync(out).sort(), ['history', 'index.html']);
    const trend1 = JSON.parse(readFileSync(path.join(out, 'history', 'history-trend.json'), 'utf8'));
    assert.deepEqual(
      trend1.map((t: any) => [t.buildOrder, t.reportName, t.data.passed, t.data.total]),
      [[1, 'qemu-virt-aarch64 hello: build b1', 1, 1]],
    );

    const second = await hil(['report', 'allure', runs.b2, runs.b2spare, '-o', out, '--single-file'], { env: CI });
    assert.equal(second.exitCode, 0, second.stdout + second.stderr);
    const html = readFileSync(path.join(out, 'index.html'), 'utf8');
    const data = embedded(html);
    // The trend: this report's point (build b2, this CI run's number) and the first's (b1).
    const trend = JSON.parse(data.get('widgets/history-trend.json')!);
    assert.deepEqual(
      trend.map((t: any) => [t.buildOrder, t.reportName, t.data.failed, t.data.passed, t.data.total]),
      [
        [57, 'hil, 2 run(s): build b2', 2, 0, 2],
        [1, 'qemu-virt-aarch64 hello: build b1', 0, 1, 1],
      ],
    );
    assert.deepEqual(
      JSON.parse(readFileSync(path.join(out, 'history', 'history-trend.json'), 'utf8')),
      trend,
      'history/ kept for the next night',
    );
    const [executor] = JSON.parse(data.get('widgets/executors.json')!);
    assert.deepEqual(executor, {
      name: 'hil',
      type: 'github',
      url: 'https://github.com/lab/axvisor-nightly',
      buildOrder: 57,
      buildName: 'b2',
      buildUrl: CI_RUN,
      reportName: 'hil, 2 run(s): build b2',
      reportUrl: CI_RUN,
    });
    // Each test: the board's earlier result (build b1, passed) is its history; the second
    // board's test is new. One build in the report: no test has parameters.
    const tests = [...data].filter(([f]) => f.startsWith('data/test-cases/')).map(([, v]) => JSON.parse(v));
    assert.equal(tests.length, 2);
    const byBoard = Object.fromEntries(tests.map((t) => [labels(t).board[0], t]));
    assert.deepEqual(
      byBoard['qemu-virt-aarch64'].extra.history.items.map((i: any) => i.status),
      ['passed'],
      'the b1 result is in the b2 test history',
    );
    assert.deepEqual(byBoard['qemu-virt-aarch64'].extra.history.statistic, {
      failed: 1,
      broken: 0,
      skipped: 0,
      passed: 1,
      unknown: 0,
      total: 2,
    });
    assert.deepEqual(byBoard['qemu-virt-aarch64-spare'].extra.history?.items ?? [], []);
    for (const t of tests) assert.deepEqual(t.parameters, []);
    const env = Object.fromEntries(
      JSON.parse(data.get('widgets/environment.json')!).map((e: any) => [e.name, e.values]),
    );
    assert.deepEqual(env.board, ['qemu-virt-aarch64, qemu-virt-aarch64-spare']);
    assert.deepEqual(env.build, ['b2']);
    assert.match(html, /<title>hil, 2 run\(s\): build b2<\/title>/);
    assert.deepEqual(externalLoads(html), [], 'no analytics, nothing loaded from elsewhere');
  });

  it('a report of two builds: each build its own test, the folder form with its history, no analytics', async () => {
    const both = path.join(dir, 'both');
    const r = await hil(['report', 'allure', runs.b1, runs.b2, '-o', both], { env: NO_CI });
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.ok(existsSync(path.join(both, 'history', 'history.json')));
    const tests = readdirSync(path.join(both, 'data', 'test-cases')).map((f) =>
      JSON.parse(readFileSync(path.join(both, 'data', 'test-cases', f), 'utf8')),
    );
    // Not the older build taken for a retry of the newer: both are shown, told by the build.
    assert.deepEqual(
      tests.map((t) => `${t.parameters.map((p: any) => `${p.name}=${p.value}`)}:${t.status}:${t.retriesCount}`).sort(),
      ['build=b1:passed:0', 'build=b2:failed:0'],
    );
    assert.deepEqual(externalLoads(readFileSync(path.join(both, 'index.html'), 'utf8')), []);
  });
});
