// npm run soak: the virtual-board suites back to back through a faulty line, as a lab's
// bad week would run them (SOAK_RUNS, default 50). Each run gets the next fault of a mix:
// none, typed characters dropped or changed, kernel-log bursts, the adapter vanishing at
// power-on, the console attached after the countdown (recovered by a reset), the same on
// one power-on with no reset allowed (recovered by a retry), and a board silent after
// U-Boot (a timeout, as it should be). It prints the runs, the verdicts by fault, the lab
// errors recovered by retry, whether every transcript holds every byte read, and the
// processes left running (must be 0).
import { execa } from 'execa';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { FaultLine, type FaultPlan } from '../fixtures/line-sim/fault-line.js';
import { projectRoot } from '../runner/config/paths.js';
import { alive, deriveToml, pidsOf, tmpDir } from '../test/helpers.js';

interface Mix {
  name: string;
  plan: FaultPlan;
  board?: (d: any) => void;
  /** What the runs of this fault must end as. */
  expect: string;
}

const MIX: Mix[] = [
  { name: 'none', plan: {}, expect: 'pass' },
  { name: 'typed characters dropped', plan: { dropTyped: [1, 4, 7] }, expect: 'pass' },
  { name: 'typed characters changed', plan: { corruptTyped: [2, 5] }, expect: 'pass' },
  { name: 'kernel-log bursts', plan: { burst: true }, expect: 'pass' },
  { name: 'adapter vanishes at power-on', plan: { vanishAtPowerOnMs: 200 }, expect: 'pass' },
  {
    name: 'attached after the countdown',
    plan: { lateAttachMs: 4000, only: [1] },
    board: (d) => (d.timeouts.uboot = 5),
    expect: 'pass',
  },
  {
    name: 'attached late, no reset allowed: retried',
    plan: { lateAttachMs: 60_000, only: [1] },
    board: (d) => {
      d.timeouts.uboot = 3;
      d.uboot.attempts = 1;
    },
    expect: 'pass',
  },
  {
    name: 'silent after U-Boot',
    plan: { silentAfterHandoff: true },
    board: (d) => (d.timeouts.first_output = 3),
    expect: 'timeout',
  },
];

const runs = Number(process.env.SOAK_RUNS ?? 50);
const dir = tmpDir('hil-soak-');
const byFault = new Map<string, Map<string, number>>();
const verdicts = new Map<string, number>();
let cases = 0;
let recovered = 0;
let complete = 0;
let transcripts = 0;
let unexpected = 0;
const started: number[] = [];
const t0 = performance.now();
for (let i = 0; i < runs; i++) {
  const m = MIX[i % MIX.length];
  const run = path.join(dir, `run-${i + 1}`);
  const hostLink = path.join(dir, `tty-${i + 1}`);
  const boardLink = path.join(dir, `qemu-pty-${i + 1}`);
  const line = await FaultLine.start(hostLink, boardLink, m.plan);
  const board = deriveToml(
    path.join(projectRoot, 'boards', 'qemu-virt-aarch64.toml'),
    (d) => {
      d.console = { kind: 'serial', port: hostLink, baud: 115200, reappear_timeout: 5 };
      d.power.pty_link = boardLink;
      d.retries = 1;
      m.board?.(d);
    },
    dir,
    `board-${i + 1}.toml`,
  );
  // The whole virtual-board suite every few runs; the hello case in between.
  const suite = i % 4 === 0 ? 'virtual-board' : path.join(projectRoot, 'suites', 'virtual-board', 'hello.toml');
  await execa(
    'node',
    [
      path.join(projectRoot, 'bin', 'hil.js'),
      'run',
      '-b',
      board,
      '-s',
      suite,
      '--out',
      run,
      '--history',
      path.join(dir, 'history'),
    ],
    { reject: false },
  );
  await line.close();
  started.push(...pidsOf(run));
  const res = JSON.parse(readFileSync(path.join(run, 'results.json'), 'utf8'));
  for (const c of res.cases) {
    cases++;
    verdicts.set(c.verdict, (verdicts.get(c.verdict) ?? 0) + 1);
    const f = byFault.get(m.name) ?? new Map<string, number>();
    f.set(c.verdict, (f.get(c.verdict) ?? 0) + 1);
    byFault.set(m.name, f);
    if (c.verdict !== m.expect) unexpected++;
    if (c.attempts?.length && c.verdict === 'pass') recovered++;
    for (const a of [...(c.attempts ?? []), c]) {
      if (!a.transcript) continue;
      transcripts++;
      const log = path.join(run, a.transcript, 'console.log');
      if (existsSync(log) && statSync(log).size === a.console_bytes) complete++;
    }
  }
  process.stdout.write(`\rsoak: ${i + 1}/${runs} runs, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
// What the runs started and left running: QEMU (power.log names each), and the lines' socat.
await new Promise((r) => setTimeout(r, 500));
const leftQemu = started.filter(alive).length;
const socat = await execa('pgrep', ['-f', `socat PTY,link=${dir}`], { reject: false });
const leftSocat = socat.stdout.split('\n').filter(Boolean).length;
console.log(`\n\n== soak: ${runs} runs, ${cases} cases, ${((performance.now() - t0) / 60_000).toFixed(1)} min ==`);
console.log(`verdicts           : ${[...verdicts].map(([v, n]) => `${v} ${n}`).join(', ')}`);
for (const [fault, v] of byFault)
  console.log(`  ${fault.padEnd(42)} ${[...v].map(([k, n]) => `${k} ${n}`).join(', ')}`);
console.log(
  `not as expected    : ${unexpected} (a fault the runner recovers from must pass; a silent board must time out)`,
);
console.log(`recovered by retry : ${recovered} lab error(s) retried into a pass`);
console.log(`transcripts        : ${complete} of ${transcripts} hold every byte read`);
console.log(`processes leaked   : ${leftQemu + leftSocat} (QEMU ${leftQemu}, line ${leftSocat}; must be 0)`);
console.log(`runs kept in       : ${dir} (${readdirSync(dir).filter((f) => f.startsWith('run-')).length} folders)`);
process.exitCode = unexpected || leftQemu + leftSocat || complete !== transcripts ? 1 : 0;
