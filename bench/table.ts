// The figures the bench keeps with a target, gathered from its parts and printed as one
// table at the end: each a median of alternated runs in this one run (a busy machine moves
// both sides of a ratio), its target, and whether it was met. A missed target says MISSED.
import os from 'node:os';

export interface Figure {
  /** What is measured, in a few words. */
  name: string;
  value: number;
  /** How the value reads: 'x' (a ratio), '%' (a percentage). */
  unit: 'x' | '%';
  /** The medians behind the value (ours and the reference). */
  detail: string;
  /** The target; none for a figure kept for reference. */
  target?: { op: '>=' | '<='; value: number };
}

const kept: Figure[] = [];
const loadAtStart = os.loadavg();

export function keep(f: Figure): void {
  kept.push(f);
}

const show = (v: number, unit: Figure['unit']) => (unit === '%' ? `${v.toFixed(1)} %` : `${v.toFixed(2)}x`);

export function met(f: Figure): boolean | undefined {
  if (!f.target) return undefined;
  return f.target.op === '>=' ? f.value >= f.target.value : f.value <= f.target.value;
}

/** The table of every figure kept so far, with the machine's load when the bench began and now. */
export function printTable(rounds: number): void {
  if (!kept.length) return;
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  console.log(`\n== figures and targets (median of ${rounds}, alternated in one run) ==`);
  console.log(
    `load average (1 / 5 / 15 min) on ${os.cpus().length} cores: ${load(loadAtStart)} at the start, ${load(os.loadavg())} now`,
  );
  const w = Math.max(...kept.map((f) => f.name.length));
  for (const f of kept) {
    const target = f.target ? `${f.target.op} ${show(f.target.value, f.unit)}` : '(reference)';
    const verdict = met(f) === undefined ? '' : met(f) ? 'met' : 'MISSED';
    console.log(
      `${f.name.padEnd(w)}  ${show(f.value, f.unit).padStart(8)}  ${target.padEnd(11)}  ${verdict.padEnd(6)}  ${f.detail}`,
    );
  }
}
