// Comparing a transcript with its baseline: 20,000 and 200,000 lines of kernel-like output,
// the board's copy with other timestamps and addresses and 1 % of lines changed.
import { compareRuns, sideBySide, type TimedLine } from '../runner/baseline/compare.js';
import { DEFAULT_RULES, normalizer } from '../runner/baseline/normalize.js';
import { compileAll } from '../runner/config/regex.js';

function transcript(n: number, seed: number, changed: number): TimedLine[] {
  const words = [
    'virtio',
    'mmc0',
    'irq',
    'gic',
    'timer',
    'uart',
    'vcpu',
    'axvm',
    'mapped',
    'region',
    'device',
    'registered',
  ];
  const out: TimedLine[] = [];
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const t = i / 1000 + (seed % 7) / 100;
    let text = `[${t.toFixed(6).padStart(12)}] ${words[i % words.length]} ${i % 97} at 0x${(0x40000000 + x).toString(16)} ${words[(i * 7) % words.length]}`;
    if (changed && i % Math.floor(1 / changed) === 0)
      text = `[${t.toFixed(6).padStart(12)}] warning: line ${i} differs on the board`;
    out.push({ t, text });
  }
  out.push({ t: n / 1000, text: 'hil: done' });
  return out;
}

export function baselineBench() {
  const norm = normalizer(DEFAULT_RULES, 'bench');
  const markers = compileAll(['^hil: done', 'virtio 0 at'], 'bench');
  console.log('\n== baseline comparison: normalise, compare, side-by-side diff ==');
  const times: number[] = [];
  for (const n of [20_000, 200_000]) {
    const base = transcript(n, 1, 0);
    const board = transcript(n, 2, 0.01);
    const t0 = performance.now();
    const c = compareRuns(base, board, { markers, normalize: norm });
    const t1 = performance.now();
    sideBySide(base, board, c, norm);
    const t2 = performance.now();
    times.push(t2 - t0);
    console.log(
      `${String(n).padStart(7)} lines: compare ${((t1 - t0) / 1000).toFixed(3)} s + diff ${((t2 - t1) / 1000).toFixed(3)} s = ${((t2 - t0) / 1000).toFixed(3)} s (target < 1 s at 20k); ${c.counts.missing} missing, ${c.counts.new} new, status ${c.status}`,
    );
  }
  console.log(`200k / 20k time ratio: ${(times[1] / times[0]).toFixed(1)} (10 is linear)`);
}
