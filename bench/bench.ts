// npm run bench: timings, never assertions. Where a user runs a process, a whole process is
// timed (start to exit), and every figure is a ratio against a reference run in the same
// run, alternated with it, so a busy machine moves both sides.
//   start     `hil --help` against `node -e 0`
//   boot      the Linux shell case on the virtual board: `hil run` against the bare scripted
//             minimum and labgrid (bench/boot-bench.ts)
//   console   the same case with the console through ser2net (raw TCP, RFC 2217) against
//             the local pty
//   labhost   the same case on a board wired to a lab host over SSH (OpenSSH and ser2net
//             in a network namespace) against the same board driven from here
//   expect    the expect engine on a 100 MB console stream with 20 patterns (in process: it
//             is the engine's own speed, not a command's)
//   baseline  comparing 20k- and 200k-line transcripts with their QEMU baselines
//   report    the history store: `hil history add` and `hil report regressions` at 10,000
//             and 365,000 records, as processes, with their peak memory
//   transfer  YMODEM: our sender against lrzsz into U-Boot, and through the bench's line
//   fastboot  a 16 MiB image by fastboot over UDP against TFTP, into the same U-Boot; our
//             download and flash against Debian's fastboot client
//   flood     a 1 GB console flood after the hand-off, as a whole run: the runner's peak
//             memory (bounded) and console.log complete (FLOOD_MB sets the size)
// BENCH_ONLY=boot,report runs some; BENCH_ROUNDS sets the rounds (default 7). The figures with
// a target (start-up, transfer, fastboot) end the output in one table (bench/table.ts).
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compileAll } from '../runner/config/regex.js';
import { Console } from '../runner/console/console.js';
import type { ConsolePort } from '../runner/console/port.js';
import { Transcript } from '../runner/console/transcript.js';
import { watchGuest } from '../runner/guest/watch.js';
import { baselineBench } from './baseline-bench.js';
import { bootBench, consoleBench, fastbootBench, labHostBench, startBench } from './boot-bench.js';
import { floodBench } from './flood-bench.js';
import { reportBench } from './report-bench.js';
import { printTable } from './table.js';
import { transferBench } from './transfer-bench.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
const f = (n: number, d = 3) => n.toFixed(d);

/** A console port the bench writes the far end of. */
class Stream implements ConsolePort {
  readonly name = 'bench';
  private fn: (b: Buffer) => void = () => {};
  feed(b: Buffer): void {
    this.fn(b);
  }
  async write(): Promise<void> {}
  onData(fn: (b: Buffer) => void): void {
    this.fn = fn;
  }
  onLost(): void {}
  async close(): Promise<void> {}
}

/** A transcript that writes nothing: the engine's own speed, without the disk's. */
class NoTranscript extends Transcript {
  override raw(): void {}
  override line(): void {}
  override flush(): void {}
}

/** The guest watch as a run uses it (failure and success patterns, the line engine, with
 * and without the transcript on disk) over a 100 MB console stream in serial-sized reads. */
async function expectBench(): Promise<void> {
  for (const disk of [false, true]) await expectRun(disk);
}

async function expectRun(disk: boolean): Promise<void> {
  const sources = [
    '(?i)\\bpanic(?:ked)?\\b',
    '(?i)kernel panic',
    '(?m)^guest test pass!\\s*$',
    '(?m)^phytiumpi login:',
    '^Phytium Pi',
    'panicked at',
    'Welcome to AxVisor Shell!',
    '(?i)unable to handle kernel',
    '(?i)\\boops\\b',
    'Hello, world!',
    '(?m)^test pass\\s*$',
    '(?i)segmentation fault',
    'Call trace:',
    '(?i)BUG:',
    'watchdog: BUG: soft lockup',
    '(?i)rcu.*stall',
    '(?m)^\\[\\s*\\d+\\.\\d+\\] Freeing unused kernel memory',
    '(?i)hypervisor (?:started|ready)',
    'VM\\[\\d+\\] booted',
    '(?m)^orangepi@orangepi5plus:~',
  ];
  const words = [
    'virtio',
    'mmc0:',
    'new',
    'device',
    'registered',
    'at',
    'addr',
    '0xffff0000',
    'axvm',
    'vcpu',
    'irq',
    'gic',
    'timer',
    '\x1b[32muart\x1b[0m',
    'console',
    'VM[1]',
  ];
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const lines: string[] = [];
  for (let i = 0; i < 8192; i++) {
    let l = `[${(i / 100).toFixed(6).padStart(12)}] `;
    for (let j = 0, n = 4 + Math.floor(rnd() * 10); j < n; j++) l += `${words[Math.floor(rnd() * words.length)]} `;
    lines.push(l);
  }
  const block = Buffer.from(`${lines.join('\r\n')}\r\n`);
  const total = 100 * 1024 * 1024;
  const chunk = 4096; // what a serial read delivers at most, typically far less
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hil-bench-expect-'));
  const port = new Stream();
  const con = new Console(port, disk ? new Transcript(dir) : new NoTranscript(dir));
  const all = compileAll(sources, 'bench');
  const watch = watchGuest(
    con,
    { fail: all.slice(0, 8), success: all.slice(8) },
    { firstOutputS: 60, typeDelayMs: 0, shellInitDelayS: 0, signal: new AbortController().signal },
  );
  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  let heapMax = heap0;
  const t0 = performance.now();
  let fed = 0;
  while (fed < total) {
    for (let o = 0; o < block.length && fed < total; o += chunk) {
      const c = block.subarray(o, o + chunk);
      port.feed(c);
      fed += c.length;
    }
    heapMax = Math.max(heapMax, process.memoryUsage().heapUsed);
  }
  port.feed(Buffer.from('\r\nHello, world!\r\n'));
  const outcome = await watch;
  const s = (performance.now() - t0) / 1000;
  await con.close();
  con.transcript.close();
  console.log(
    `\n== expect engine: the guest watch over a 100 MB console stream, 20 patterns, ${chunk}-byte reads, ${disk ? 'with' : 'without'} the transcript on disk ==`,
  );
  console.log(
    `throughput : ${f(fed / 1e6 / s, 1)} MB/s${disk ? ' (a serial line at 1500000 baud brings 0.15 MB/s)' : ' (target >= 100)'}, ${con.lines.lineCount} lines, decided on "${outcome.line.trim()}"`,
  );
  console.log(
    `heap       : ${f(heap0 / 1e6, 1)} MB at start, ${f(heapMax / 1e6, 1)} MB at most (flat: the stream is never kept)`,
  );
}

const only = new Set(
  (process.env.BENCH_ONLY ?? 'start,boot,console,labhost,expect,baseline,report,transfer,fastboot,flood').split(','),
);
if (only.has('start')) await startBench(Math.max(rounds, 15));
if (only.has('boot')) await bootBench(rounds);
if (only.has('console')) await consoleBench(rounds);
if (only.has('labhost')) await labHostBench(rounds);
if (only.has('expect')) await expectBench();
if (only.has('baseline')) baselineBench();
if (only.has('report')) await reportBench(rounds);
if (only.has('transfer')) await transferBench(rounds);
if (only.has('fastboot')) await fastbootBench(rounds);
if (only.has('flood')) await floodBench();
printTable(rounds);
