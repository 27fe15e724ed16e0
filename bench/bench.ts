// npm run bench: timings, never assertions. Figures are ratios against a reference run
// in the same process, so a busy machine moves both sides.
//   1. Linux guest on the virtual board: the runner (power-on to verdict, per phase)
//      against the bare minimum script, alternating, median of N rounds.
//   2. The expect engine on a 100 MB synthetic console stream with 20 patterns.
//   3. YMODEM transfers: against lrzsz into U-Boot, and through the line simulator.
//   4. Comparing 20k- and 200k-line transcripts with their QEMU baselines.
//   5. The regression report over 10,000 recorded runs.
import path from 'node:path';
import { loadBoard } from '../runner/config/board.js';
import { loadCase } from '../runner/config/case.js';
import { projectRoot } from '../runner/config/paths.js';
import { translateAll } from '../runner/config/regex.js';
import { LineEngine } from '../runner/console/expect.js';
import { PatternSet } from '../runner/console/patterns.js';
import { runTomlCase } from '../runner/lab/toml-case.js';
import { RunContext } from '../runner/suite/context.js';
import { minimalBoot } from './minimal-boot.js';
import { transferBench } from './transfer-bench.js';
import { baselineBench } from './baseline-bench.js';
import { reportBench } from './report-bench.js';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';

const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const f = (n: number, d = 3) => n.toFixed(d);

/** QEMU arguments without the SD card's drive and its virtio-blk device. */
function withoutCard(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1] ?? '';
    if ((args[i] === '-drive' && next.includes('{disk}')) || (args[i] === '-device' && next.startsWith('virtio-blk-device'))) i++;
    else out.push(args[i]);
  }
  return out;
}

async function bootBench() {
  const withCard = loadBoard('qemu-virt-aarch64');
  // The minimum script's QEMU has no SD card; the runner's board is measured without one too.
  const board = withCard.power.kind === 'qemu' ? { ...withCard, power: { ...withCard.power, args: withoutCard(withCard.power.args), disk: undefined } } : withCard;
  const unverified = { ...board, load: { ...board.load, verify: false } };
  const c = loadCase(path.join(projectRoot, 'suites/virtual-board/linux-shell.toml'));
  const marker = /hil-linux-guest: init reached/;
  // The minimum script stops at the init marker; the runner's case decides on that same
  // line here, so both stop at one line.
  const benchCase = { ...c, success: translateAll(['^hil-linux-guest: init reached'], 'bench'), shellPrefix: undefined, shellInitCmd: undefined };
  const out = mkdtempSync(path.join(os.tmpdir(), 'hil-bench-'));
  // Phases comparable across the variants: to the U-Boot prompt, loading (network set-up,
  // TFTP, and verification where on), boot command to the guest's marker.
  type Times = { total: number; uboot: number; load: number; guest: number };
  const runner = async (b: typeof board): Promise<Times> => {
    const ctx = new RunContext(b, out, new AbortController().signal, () => {});
    const rec = ctx.begin('bench', c.file, 'toml');
    await runTomlCase(ctx, benchCase);
    const p = rec.phases;
    // Power-on to verdict: attaching the console and starting QEMU paused come before the
    // power switch, in the runner as in the minimum script.
    const t = { uboot: p.uboot ?? 0, load: p.load ?? 0, guest: (p.boot ?? 0) + (p.guest ?? 0) };
    return { ...t, total: t.uboot + t.load + t.guest };
  };
  const variants: [string, () => Promise<Times>][] = [
    ['minimum', () => minimalBoot(c.images!.kernel, c.images!.initrd!, marker)],
    ['runner', () => runner(board)],
    ['runner-noverify', () => runner(unverified)],
  ];
  const times: Record<string, Times[]> = { minimum: [], runner: [], 'runner-noverify': [] };
  for (const [, run] of variants) await run(); // warm-up: page cache, QEMU binary
  for (let i = 0; i < rounds; i++) {
    // Rotate the order so no variant always runs right after another's teardown.
    for (let j = 0; j < variants.length; j++) {
      const [name, run] = variants[(i + j) % variants.length];
      times[name].push(await run());
    }
  }
  const med = (k: string, ph: keyof Times = 'total') => median(times[k].map((t) => t[ph]));
  const m = med('minimum');
  const r = med('runner');
  const n = med('runner-noverify');
  const runs = (k: string) => times[k].map((x) => f(x.total, 2)).join(' ');
  const row = (k: string) => (['uboot', 'load', 'guest'] as const).map((ph) => `${ph} ${f(med(k, ph))}`).join('  ');
  console.log(`\n== Linux guest on the virtual board: power-on to verdict (median of ${rounds}, rotating order) ==`);
  console.log(`bare minimum script (no checks)      : ${f(m)} s  (${runs('minimum')})`);
  console.log(`runner, CRC-32 verification off      : ${f(n)} s  (${runs('runner-noverify')})  ratio ${f(n / m)}: runner overhead ${f((n / m - 1) * 100, 1)} % (target <= 5 %)`);
  console.log(`runner, as shipped (loads verified)  : ${f(r)} s  (${runs('runner')})  ratio ${f(r / m)}`);
  console.log(`  median phases, s (uboot: power-on to prompt; load: network set-up and TFTP, + crc32 where verified; guest: boot command to marker)`);
  for (const k of ['minimum', 'runner-noverify', 'runner']) console.log(`    ${k.padEnd(16)} ${row(k)}`);
  console.log(`  verification (two crc32 runs over 28 MB in U-Boot) costs ${f(med('runner', 'load') - med('runner-noverify', 'load'))} s of load time`);
}

function expectBench() {
  const patterns = new PatternSet(translateAll([
    '(?i)\\bpanic(?:ked)?\\b', '(?i)kernel panic', '(?m)^guest test pass!\\s*$', '(?m)^phytiumpi login:', '^Phytium Pi',
    'panicked at', 'Welcome to AxVisor Shell!', '(?i)unable to handle kernel', '(?i)\\boops\\b', 'Hello, world!',
    '(?m)^test pass\\s*$', '(?i)segmentation fault', 'Call trace:', '(?i)BUG:', 'watchdog: BUG: soft lockup',
    '(?i)rcu.*stall', '(?m)^\\[\\s*\\d+\\.\\d+\\] Freeing unused kernel memory', '(?i)hypervisor (?:started|ready)',
    'VM\\[\\d+\\] booted', '(?m)^orangepi@orangepi5plus:~',
  ], 'bench'));
  const words = ['virtio', 'mmc0:', 'new', 'device', 'registered', 'at', 'addr', '0xffff0000', 'axvm', 'vcpu', 'irq', 'gic', 'timer', '\x1b[32muart\x1b[0m', 'console', 'VM[1]'];
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const lines: string[] = [];
  for (let i = 0; i < 8192; i++) {
    let l = `[${(i / 100).toFixed(6).padStart(12)}] `;
    for (let j = 0, n = 4 + Math.floor(rnd() * 10); j < n; j++) l += words[Math.floor(rnd() * words.length)] + ' ';
    lines.push(l);
  }
  const block = Buffer.from(lines.join('\r\n') + '\r\n');
  const total = 100 * 1024 * 1024;
  const chunk = 4096; // what a serial read delivers at most, typically far less
  const e = new LineEngine();
  let hits = 0;
  // What the guest watch does with each line: failure and success patterns, first match.
  e.consume({ line: (l) => { if (patterns.firstMatch(l) >= 0) hits++; return false; } });
  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  let heapMax = heap0;
  const t0 = performance.now();
  let fed = 0;
  while (fed < total) {
    for (let o = 0; o < block.length && fed < total; o += chunk) {
      const c = block.subarray(o, o + chunk);
      e.feed(c);
      fed += c.length;
    }
    heapMax = Math.max(heapMax, process.memoryUsage().heapUsed);
  }
  const s = (performance.now() - t0) / 1000;
  console.log(`\n== expect engine: 100 MB console stream, 20 patterns, ${chunk}-byte chunks ==`);
  console.log(`throughput : ${f(fed / 1e6 / s, 1)} MB/s (target >= 50), ${e.lineCount} lines, ${hits} matches`);
  console.log(`heap       : ${f(heap0 / 1e6, 1)} MB at start, ${f(heapMax / 1e6, 1)} MB at most (flat: the stream is never kept)`);
}

const only = process.env.BENCH_ONLY; // expect | baseline | report | boot | transfer
if (!only || only === 'expect') expectBench();
if (!only || only === 'baseline') baselineBench();
if (!only || only === 'report') await reportBench(rounds);
if (!only || only === 'boot') await bootBench();
if (!only || only === 'transfer') await transferBench();
