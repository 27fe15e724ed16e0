// YMODEM through the bench's simulated line only (ours vs lrzsz's sz, alternated): `node --import tsx bench/line-only.ts [rounds] [baud] [KiB]`.
import { oursThroughLine, szThroughLine } from '../fixtures/line-sim/bench-line.js';
import { ymodemLineLimit } from '../fixtures/line-sim/line-sim.js';

const rounds = Number(process.argv[2] ?? 7);
const baud = Number(process.argv[3] ?? 1500000);
const size = Number(process.argv[4] ?? 512) * 1024;
const turnaroundMs = 2;

const f = (n: number, d = 2) => n.toFixed(d);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Deterministic pseudo-random bytes, as transfer-bench.ts makes them (the same image every run). */
function image(n: number): Buffer {
  const b = Buffer.alloc(n);
  let x = 0x12345678;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

const data = image(size);
const limit = ymodemLineLimit(baud, turnaroundMs);
const runs: Record<'ours' | 'sz', { rate: number; reaction: number }[]> = { ours: [], sz: [] };
for (let i = 0; i < rounds; i++) {
  // Alternating who goes first keeps a drift in the machine's load from favouring either.
  for (const who of i % 2 ? (['sz', 'ours'] as const) : (['ours', 'sz'] as const)) {
    const r = await (who === 'ours' ? oursThroughLine : szThroughLine)('bench.bin', data, baud, turnaroundMs);
    runs[who].push({ rate: size / r.seconds, reaction: r.reaction_ms.median });
    console.log(
      `round ${i + 1} ${who.padEnd(4)} ${f((size / r.seconds / limit) * 100, 1)} %, reaction ${f(r.reaction_ms.median, 3)} ms (p90 ${f(r.reaction_ms.p90, 3)})`,
    );
  }
}
const pct = (who: 'ours' | 'sz') => (median(runs[who].map((r) => r.rate)) / limit) * 100;
const react = (who: 'ours' | 'sz') => median(runs[who].map((r) => r.reaction));
console.log(
  `${baud} baud, ${size / 1024} KiB, ${turnaroundMs} ms turnaround, median of ${rounds}: ours ${f(pct('ours'), 1)} % of the line's limit (${f(limit / 1e3, 1)} kB/s), reaction ${f(react('ours'), 3)} ms; sz ${f(pct('sz'), 1)} %, reaction ${f(react('sz'), 3)} ms`,
);
