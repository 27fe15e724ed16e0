// `hil bisect`: which commit of a TGOSKits workspace broke a case on a board. It drives
// `git bisect` in the workspace; at each commit it runs the case as `hil run` does (the
// runner's own build step builds that commit, then the board boots it), and marks:
//   pass                  good
//   fail or timeout       bad
//   lab error, or a build that failed (a lab error in phase build), or a runner bug
//                         skip: it says nothing about the commit
// A decisive verdict is confirmed by re-running (--confirm, default 1): a commit whose runs
// disagree is flaky there and skipped, so one unlucky boot never names the wrong commit.
// The given good and bad commits are checked first the same way: a --good that fails would
// send git bisect to a wrong answer.
// Every run is an ordinary `hil run` process (its own folder, its record in the history);
// the bisect's own record goes into the history's bisects table. The workspace is left
// as it was found (`git bisect reset`) on every path, Ctrl-C included.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { ConfigError, EXIT, LabError } from '../errors.js';
import { projectRoot, shown } from '../config/paths.js';

export interface BisectOptions {
  /** The board as given to hil run (a name or a file), and its name. */
  board: string;
  boardName: string;
  suite: string;
  good: string;
  bad: string;
  workspace: string;
  /** How many more runs confirm a decisive verdict. */
  confirm: number;
  out: string;
  history?: string | false;
  signal: AbortSignal;
  log: (line: string) => void;
}

export type Mark = 'good' | 'bad' | 'skip';

export interface BisectStep {
  commit: string;
  subject: string;
  mark: Mark;
  /** Why, in a few words: the verdicts of its runs. */
  why: string;
  runs: { dir: string; verdict: string; phase?: string; reason: string; exit_code: number }[];
}

export interface BisectResult {
  board: string;
  case?: string;
  good: string;
  bad: string;
  outcome: 'found' | 'only skipped commits left';
  firstBad?: string;
  /** The first bad commit's subject line. */
  subject?: string;
  lastGood?: string;
  /** With only skipped commits left: the candidates git names. */
  candidates?: string[];
  steps: BisectStep[];
  builds: number;
  runs: number;
  started: string;
  finished: string;
  wall_s: number;
}

/** git in the workspace; its output, or a ConfigError saying what git said. */
async function git(ws: string, args: string[], o: { reject?: boolean } = {}) {
  const r = await execa('git', ['-C', ws, ...args], {
    reject: false,
    all: true,
    env: { GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' },
  });
  if (r.exitCode !== 0 && o.reject !== false)
    throw new ConfigError(`git ${args.join(' ')} in ${shown(ws)} failed: ${String(r.all).trim().split('\n').pop()}`);
  return { ok: r.exitCode === 0, out: String(r.stdout).trim(), all: String(r.all) };
}

/** Checks the workspace and the two commits; the full commits, good and bad. */
export async function checkBisect(
  ws: string,
  good: string,
  bad: string,
): Promise<{ good: string; bad: string; restore: string }> {
  const top = await git(ws, ['rev-parse', '--show-toplevel'], { reject: false });
  if (!top.ok)
    throw new ConfigError(`${shown(ws)} is not a git work tree: give the TGOSKits workspace with --workspace`);
  if ((await git(ws, ['bisect', 'log'], { reject: false })).ok)
    throw new ConfigError(
      `a git bisect is already under way in ${shown(ws)}: finish it or end it (git bisect reset), then run hil bisect again`,
    );
  if ((await git(ws, ['status', '--porcelain', '--untracked-files=no'])).out)
    throw new ConfigError(
      `${shown(ws)} has uncommitted changes: commit or stash them (bisect checks out other commits)`,
    );
  const commit = async (c: string, what: string) => {
    const r = await git(ws, ['rev-parse', '--verify', '-q', `${c}^{commit}`], { reject: false });
    if (!r.ok) throw new ConfigError(`${what} ${c} is not a commit of ${shown(ws)}`);
    return r.out;
  };
  const g = await commit(good, '--good');
  const b = await commit(bad, '--bad');
  if (g === b) throw new ConfigError('--good and --bad are the same commit');
  if (!(await git(ws, ['merge-base', '--is-ancestor', g, b], { reject: false })).ok)
    throw new ConfigError(
      `--good ${good} is not an ancestor of --bad ${bad}: give a good commit older than the bad one`,
    );
  const branch = await git(ws, ['symbolic-ref', '-q', '--short', 'HEAD'], { reject: false });
  return { good: g, bad: b, restore: branch.ok ? branch.out : (await git(ws, ['rev-parse', 'HEAD'])).out };
}

const short = (c: string) => c.slice(0, 12);

/** One `hil run` of the case at the commit checked out now. */
async function runOnce(
  o: BisectOptions,
  commit: string,
  n: number,
): Promise<BisectStep['runs'][number] & { case?: string }> {
  const dir = path.join(o.out, `${String(n).padStart(2, '0')}-${short(commit)}`);
  const bin = path.join(projectRoot, 'bin', 'hil.js');
  const args = [
    bin,
    'run',
    '-b',
    o.board,
    '-s',
    o.suite,
    '--workspace',
    o.workspace,
    '--build',
    short(commit),
    '--out',
    dir,
  ];
  if (o.history === false) args.push('--no-history');
  else if (o.history) args.push('--history', o.history);
  const r = await execa(process.execPath, args, {
    reject: false,
    all: true,
    cancelSignal: o.signal,
    killSignal: 'SIGTERM',
    forceKillAfterDelay: 30_000,
  });
  if (o.signal.aborted) throw o.signal.reason;
  let res: {
    cases?: { name: string; verdict: string; phase?: string; reason: string }[];
    reason?: string;
    verdict?: string;
  };
  try {
    res = JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8'));
  } catch {
    // No results: hil itself could not run (a usage error): nothing to bisect with.
    throw new ConfigError(
      `hil run at ${short(commit)} wrote no results (exit ${r.exitCode}): ${String(r.all).trim().split('\n').pop()}`,
    );
  }
  const c = res.cases?.[0];
  return {
    dir,
    verdict: c?.verdict ?? res.verdict ?? 'error',
    phase: c?.phase,
    reason: c?.reason ?? res.reason ?? '',
    exit_code: r.exitCode ?? -1,
    case: c?.name,
  };
}

const markOf = (verdict: string): Mark =>
  verdict === 'pass' ? 'good' : verdict === 'fail' || verdict === 'timeout' ? 'bad' : 'skip';

/** Runs the case at the checked-out commit, confirming a decisive verdict. */
async function judge(
  o: BisectOptions,
  commit: string,
  subject: string,
  counter: { runs: number; case?: string },
): Promise<BisectStep> {
  const step: BisectStep = { commit, subject, mark: 'skip', why: '', runs: [] };
  for (let i = 0; i <= o.confirm; i++) {
    const r = await runOnce(o, commit, ++counter.runs);
    counter.case ??= r.case;
    step.runs.push({ dir: r.dir, verdict: r.verdict, phase: r.phase, reason: r.reason, exit_code: r.exit_code });
    const m = markOf(r.verdict);
    o.log(
      `  ${short(commit)} run ${i + 1}: ${r.verdict}${r.phase ? ` in ${r.phase}` : ''}${r.verdict === 'pass' ? '' : `: ${r.reason}`}`,
    );
    if (m === 'skip') {
      step.mark = 'skip';
      step.why =
        r.phase === 'build'
          ? 'the build failed'
          : r.verdict === 'internal'
            ? 'a runner bug'
            : `a lab error${r.phase ? ` in ${r.phase}` : ''}`;
      return step;
    }
    if (i > 0 && m !== step.mark) {
      step.mark = 'skip';
      step.why = `flaky here: ${step.runs.map((x) => x.verdict).join(', ')}`;
      return step;
    }
    step.mark = m;
  }
  step.why = step.runs.map((x) => x.verdict).join(', ');
  return step;
}

async function subjectOf(ws: string, commit: string): Promise<string> {
  return (await git(ws, ['log', '-1', '--format=%s', commit])).out;
}

/** The bisect, from checks to the first bad commit; the workspace is restored on every path. */
export async function bisect(o: BisectOptions): Promise<BisectResult> {
  const t0 = Date.now();
  const started = new Date().toISOString();
  const ws = o.workspace;
  const c = await checkBisect(ws, o.good, o.bad);
  mkdirSync(o.out, { recursive: true });
  const steps: BisectStep[] = [];
  const counter: { runs: number; case?: string } = { runs: 0 };
  const at = async (commit: string) => {
    await git(ws, ['checkout', '-q', '--detach', commit]);
    const s = await judge(o, commit, await subjectOf(ws, commit), counter);
    steps.push(s);
    return s;
  };
  let result: Omit<BisectResult, 'finished' | 'wall_s' | 'builds' | 'runs' | 'steps' | 'started' | 'case'>;
  try {
    // The ends first: a wrong --good or --bad makes every later answer wrong.
    o.log(`checking --bad ${short(c.bad)} and --good ${short(c.good)} first`);
    const ends = [await at(c.bad), await at(c.good)];
    for (const [s, want, what] of [
      [ends[0], 'bad', '--bad'],
      [ends[1], 'good', '--good'],
    ] as const) {
      if (s.mark === want) continue;
      const msg = `${what} ${short(s.commit)} is not ${want} here: ${s.why} (${s.runs.map((r) => shown(r.dir)).join(', ')})`;
      // A lab error decides nothing: the lab is at fault, not the commit given.
      if (s.mark === 'skip') throw new LabError('bisect', `${msg}; fix the lab or give another commit`);
      throw new ConfigError(`${msg}; give a commit where the case ${want === 'bad' ? 'fails' : 'passes'}`);
    }
    let said = (await git(ws, ['bisect', 'start', c.bad, c.good])).all;
    for (;;) {
      const done = /^([0-9a-f]{40}) is the first bad commit/m.exec(said);
      if (done) {
        const first = done[1];
        const parent = (await git(ws, ['rev-parse', `${first}^`])).out;
        result = {
          board: o.boardName,
          good: c.good,
          bad: c.bad,
          outcome: 'found',
          firstBad: first,
          subject: await subjectOf(ws, first),
          lastGood: parent,
        };
        break;
      }
      if (/only 'skip'ped commits left to test/.test(said)) {
        const candidates = [...said.matchAll(/^([0-9a-f]{40})$/gm)].map((m) => m[1]);
        result = { board: o.boardName, good: c.good, bad: c.bad, outcome: 'only skipped commits left', candidates };
        break;
      }
      const head = (await git(ws, ['rev-parse', 'HEAD'])).out;
      const left = /Bisecting: (\d+) revisions? left/.exec(said)?.[1];
      o.log(`bisecting at ${short(head)} ${await subjectOf(ws, head)}${left ? ` (${left} left after this)` : ''}`);
      const s = await judge(o, head, await subjectOf(ws, head), counter);
      steps.push(s);
      said = (await git(ws, ['bisect', s.mark, head], { reject: false })).all;
    }
  } finally {
    // The workspace as it was found, whatever happened (git bisect reset also returns HEAD).
    await git(ws, ['bisect', 'reset'], { reject: false });
    await git(ws, ['checkout', '-q', c.restore], { reject: false });
  }
  const finished = new Date().toISOString();
  return {
    ...result,
    case: counter.case,
    steps,
    builds: new Set(steps.map((s) => s.commit)).size,
    runs: counter.runs,
    started,
    finished,
    wall_s: Math.round((Date.now() - t0) / 100) / 10,
  };
}

/** The last good and first bad runs: where their transcripts are. */
export function transcriptsOf(r: BisectResult): { lastGood?: string; firstBad?: string } {
  const dirOf = (commit: string | undefined, mark: Mark) =>
    r.steps.find((s) => s.commit === commit && s.mark === mark)?.runs[0]?.dir;
  return { lastGood: dirOf(r.lastGood, 'good'), firstBad: dirOf(r.firstBad, 'bad') };
}

export function bisectMarkdown(r: BisectResult): string {
  const t = transcriptsOf(r);
  const out = [
    `# Bisect of ${r.case ?? 'the case'} on ${r.board}`,
    '',
    r.outcome === 'found'
      ? `First bad commit: **${r.firstBad}** ${r.subject ?? ''}\n\nLast good commit: ${r.lastGood}`
      : `Not decided: only skipped commits are left; the first bad commit is one of:\n${(r.candidates ?? []).map((c) => `- ${c}`).join('\n')}`,
    '',
    ...(t.lastGood ? [`Last good run: ${t.lastGood}`] : []),
    ...(t.firstBad ? [`First bad run: ${t.firstBad}`] : []),
    '',
    `${r.builds} commit(s) built, ${r.runs} run(s), ${r.wall_s} s.`,
    '',
    '| commit | subject | mark | why |',
    '|---|---|---|---|',
    ...r.steps.map(
      (s) => `| ${short(s.commit)} | ${s.subject.replace(/\|/g, '\\|')} | ${s.mark} | ${s.why.replace(/\|/g, '\\|')} |`,
    ),
    '',
  ];
  return out.join('\n');
}

export function writeBisect(out: string, r: BisectResult): void {
  writeFileSync(path.join(out, 'bisect.json'), `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(path.join(out, 'bisect.md'), bisectMarkdown(r));
}

export const bisectExit = (r: BisectResult) => (r.outcome === 'found' ? 0 : EXIT.error);
