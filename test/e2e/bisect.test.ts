// `hil bisect` on a real git repository made here: a small TGOSKits-like workspace whose
// guest (the bare-metal hello image, assembled at each commit by its own build.sh with
// Debian's aarch64 binutils) changes over ten commits. A regression is planted at one
// commit (the guest prints "ERROR: vcpu 1 failed to start"); the lab fails (the power
// command exits) whenever another commit, the one git bisect tries first, is checked out.
// Bisect must name the planted commit, skip the lab error, confirm each verdict, record
// itself in the history and leave the workspace as it was.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { checkNoQemuLeft, deriveToml, helloCaseWith, hil, root, tmpDir, virtualBoard } from '../helpers.js';

const git = async (ws: string, ...args: string[]) =>
  String(
    (
      await execa('git', ['-C', ws, ...args], {
        env: { GIT_AUTHOR_DATE: '2026-11-01T00:00:00Z', GIT_COMMITTER_DATE: '2026-11-01T00:00:00Z' },
      })
    ).stdout,
  ).trim();

const CASE = 'test-suit/hello/board-qemu-virt-aarch64.toml';

/** The workspace, committed one change at a time; the commits, oldest first. */
async function plantedRepository(ws: string): Promise<string[]> {
  await git(ws, 'init', '-q', '-b', 'main');
  await git(ws, 'config', 'user.email', 'dev@example.org');
  await git(ws, 'config', 'user.name', 'A Developer');
  const commits: string[] = [];
  const commit = async (subject: string, change: () => void) => {
    change();
    await git(ws, 'add', '-A');
    await git(ws, 'commit', '-q', '-m', subject);
    commits.push(await git(ws, 'rev-parse', 'HEAD'));
  };
  const source = readFileSync(path.join(root, 'fixtures', 'hello', 'hello.S'), 'utf8');
  await commit('hello guest and its board case', () => {
    writeFileSync(path.join(ws, 'Cargo.toml'), '[workspace]\nmembers = []\n');
    writeFileSync(path.join(ws, '.gitignore'), 'hello.Image\n*.o\n*.elf\n');
    writeFileSync(path.join(ws, 'hello.S'), source);
    writeFileSync(
      path.join(ws, 'build.sh'),
      [
        'set -eu',
        'aarch64-linux-gnu-as -o hello.o hello.S',
        'aarch64-linux-gnu-ld -Ttext=0x40400000 -o hello.elf hello.o',
        'aarch64-linux-gnu-objcopy -O binary hello.elf hello.Image',
        'echo "built hello.Image"',
        '',
      ].join('\n'),
    );
    const dir = path.join(ws, 'test-suit', 'hello');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, 'build-aarch64-unknown-none-softfloat.toml'),
      'target = "aarch64-unknown-none-softfloat"\n',
    );
    writeFileSync(
      path.join(ws, CASE),
      [
        'success_regex = ["(?m)^hil-hello: bare-metal guest done\\\\s*$"]',
        'fail_regex = ["(?m)^ERROR:"]',
        'timeout = 60',
        '[build]',
        'command = "bash"',
        'args = ["build.sh"]',
        'output = "hello.Image"',
        '',
      ].join('\n'),
    );
  });
  const edit = (file: string, from: string | RegExp, to: string) => () => {
    const f = path.join(ws, file);
    const text = readFileSync(f, 'utf8');
    assert.ok(typeof from === 'string' ? text.includes(from) : from.test(text), `${file} has ${from}`);
    writeFileSync(f, text.replace(from, to));
  };
  await commit('docs: say what the guest prints', () => writeFileSync(path.join(ws, 'README'), 'The hello guest.\n'));
  await commit(
    'hello: a comment on the UART',
    edit('hello.S', '// PL011 data register', '// PL011 data register (UARTDR)'),
  );
  await commit('build: keep going quietly', edit('build.sh', 'set -eu', 'set -eu\n# quiet'));
  await commit('docs: the build', () =>
    writeFileSync(path.join(ws, 'README'), 'The hello guest.\nbuild.sh builds it.\n'),
  );
  await commit('case: a longer timeout', edit(CASE, 'timeout = 60', 'timeout = 90'));
  // The planted regression: the guest now reports a vCPU that did not start.
  await commit(
    'vcpu: start secondary cores early',
    edit('hello.S', '.asciz  "Hello, world!\\r\\n', '.asciz  "ERROR: vcpu 1 failed to start\\r\\n'),
  );
  await commit('docs: more', () =>
    writeFileSync(path.join(ws, 'README'), 'The hello guest.\nbuild.sh builds it.\nMore.\n'),
  );
  await commit('hello: another comment', edit('hello.S', '// code1', '// code1 (reserved)'));
  await commit('build: say when done', edit('build.sh', 'echo "built hello.Image"', 'echo "built hello.Image: done"'));
  return commits;
}

describe('hil bisect on a planted repository', function () {
  checkNoQemuLeft();
  const dir = tmpDir('hil-bisect-');
  const ws = path.join(dir, 'ws');
  const out = path.join(dir, 'bisect');
  let commits: string[];
  let r: Awaited<ReturnType<typeof hil>>;
  let firstTry: string;
  let board: string;

  before(async function () {
    mkdirSync(ws, { recursive: true });
    commits = await plantedRepository(ws);
    // The commit git bisect tries first, found the way bisect will find it; the lab fails there.
    await git(ws, 'bisect', 'start', commits[9], commits[0]);
    firstTry = await git(ws, 'rev-parse', 'HEAD');
    await git(ws, 'bisect', 'reset');
    const power = path.join(dir, 'qemu-behind-a-relay');
    writeFileSync(
      power,
      `#!/bin/sh\nif [ "$(git -C '${ws}' rev-parse HEAD)" = "${firstTry}" ]; then echo "relay: the power switch did not answer" >&2; exit 1; fi\nexec qemu-system-aarch64 "$@"\n`,
    );
    chmodSync(power, 0o755);
    board = deriveToml(virtualBoard, (d) => (d.power.binary = power), dir);
    r = await hil([
      'bisect',
      '-b',
      board,
      '-s',
      path.join(ws, CASE),
      '--good',
      commits[0],
      '--bad',
      'main',
      '--workspace',
      ws,
      '-o',
      out,
    ]);
  });

  it('names the planted commit as the first bad one, and the commit before it as the last good', () => {
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const b = JSON.parse(readFileSync(path.join(out, 'bisect.json'), 'utf8'));
    assert.equal(b.outcome, 'found');
    assert.equal(b.firstBad, commits[6]);
    assert.equal(b.lastGood, commits[5]);
    assert.equal(b.subject, 'vcpu: start secondary cores early');
    assert.match(
      r.stdout,
      new RegExp(`^First bad commit: \\*\\*${commits[6]}\\*\\* vcpu: start secondary cores early$`, 'm'),
    );
  });

  it('skips the commit where the lab failed, and confirms every decisive verdict by a second run', () => {
    const b = JSON.parse(readFileSync(path.join(out, 'bisect.json'), 'utf8'));
    const skipped = b.steps.find((s: any) => s.commit === firstTry);
    assert.ok(skipped, 'the lab-error commit was tried');
    assert.equal(skipped.mark, 'skip');
    assert.equal(skipped.why, 'a lab error in power');
    assert.equal(skipped.runs.length, 1, 'a lab error is not run again');
    assert.match(skipped.runs[0].reason, /relay: the power switch did not answer|exit/);
    for (const s of b.steps.filter((x: any) => x.mark !== 'skip')) {
      assert.equal(s.runs.length, 2, `${s.commit.slice(0, 12)} confirmed`);
      assert.equal(s.runs[0].verdict, s.runs[1].verdict);
    }
    // Each commit's runs tested that commit's own build: its results say so.
    for (const s of b.steps)
      for (const run of s.runs)
        assert.equal(
          JSON.parse(readFileSync(path.join(run.dir, 'results.json'), 'utf8')).build.id,
          s.commit.slice(0, 12),
        );
    assert.equal(
      b.runs,
      b.steps.reduce((n: number, s: any) => n + s.runs.length, 0),
    );
    assert.equal(b.builds, new Set(b.steps.map((s: any) => s.commit)).size);
  });

  it("keeps the last good and first bad transcripts, and the guest's own words in them", () => {
    const b = JSON.parse(readFileSync(path.join(out, 'bisect.json'), 'utf8'));
    const transcript = (commit: string) => {
      const run = b.steps.find((s: any) => s.commit === commit && s.mark !== 'skip').runs[0];
      const res = JSON.parse(readFileSync(path.join(run.dir, 'results.json'), 'utf8'));
      return readFileSync(path.join(run.dir, res.cases[0].transcript, 'console.log'), 'utf8');
    };
    assert.match(transcript(commits[5]), /Hello, world!/);
    assert.match(transcript(commits[6]), /ERROR: vcpu 1 failed to start/);
    assert.ok(existsSync(path.join(out, 'bisect.md')));
  });

  it('records the bisect and its runs in the history, and leaves the workspace as it was found', async () => {
    const exported = await hil(['history', 'export', '--history', r.history]);
    const records = exported.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const b = JSON.parse(readFileSync(path.join(out, 'bisect.json'), 'utf8'));
    assert.equal(records.length, b.runs, 'every run recorded');
    assert.ok(records.some((x) => x.build === commits[6].slice(0, 12) && x.verdict === 'fail'));
    const { History } = await import('../../runner/history/store.js');
    const h = await History.open(r.history);
    try {
      const rows = await h.db.query<{ first_bad: string; outcome: string }>('select first_bad, outcome from bisects');
      assert.deepEqual(rows, [{ first_bad: commits[6], outcome: 'found' }]);
    } finally {
      await h.close();
    }
    assert.equal(await git(ws, 'rev-parse', '--abbrev-ref', 'HEAD'), 'main');
    assert.equal(await git(ws, 'status', '--porcelain', '--untracked-files=no'), '');
    assert.equal(
      (await execa('git', ['-C', ws, 'bisect', 'log'], { reject: false })).exitCode,
      1,
      'no bisect left under way',
    );
  });

  it('refuses what it cannot bisect, before any checkout: a dirty tree, a good that is not older, a case not built here (exit 3)', async () => {
    const before = await git(ws, 'rev-parse', 'HEAD');
    const args = (good: string, bad: string, c = path.join(ws, CASE)) => [
      'bisect',
      '-b',
      board,
      '-s',
      c,
      '--good',
      good,
      '--bad',
      bad,
      '--workspace',
      ws,
      '-o',
      tmpDir(),
    ];
    const reversed = await hil(args(commits[9], commits[0]));
    assert.equal(reversed.exitCode, 3);
    assert.match(reversed.stderr, /--good \S+ is not an ancestor of --bad/);
    writeFileSync(path.join(ws, 'hello.S'), `${readFileSync(path.join(ws, 'hello.S'), 'utf8')}\n// local edit\n`);
    const dirty = await hil(args(commits[0], commits[9]));
    assert.equal(dirty.exitCode, 3);
    assert.match(dirty.stderr, /has uncommitted changes: commit or stash them/);
    await git(ws, 'checkout', '-q', '--', 'hello.S');
    const prebuilt = helloCaseWith();
    const notBuilt = await hil(args(commits[0], commits[9], prebuilt));
    assert.equal(notBuilt.exitCode, 3);
    assert.match(
      notBuilt.stderr,
      /does not build its image in .*: bisect needs a case the runner builds at each commit/,
    );
    assert.equal(await git(ws, 'rev-parse', 'HEAD'), before, 'nothing checked out');
  });
});
