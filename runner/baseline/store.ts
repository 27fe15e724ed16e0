// The baseline file: plain text, one console line a row with its time since the boot, and a
// header saying what made it (QEMU version and arguments, image digests), so a change to a
// baseline reads in a code review like any other diff.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { imageDigest } from '../transfer/image.js';
import { labRoot, projectRoot, searchDirs } from '../config/paths.js';
import type { TimedLine } from './compare.js';

export interface Baseline {
  caseFile: string;
  qemuVersion: string;
  command: string;
  /** Image path (as shown) -> sha256. */
  images: Record<string, string>;
  recorded: string;
  lines: TimedLine[];
}

/** The runner's own baselines (fixtures/baselines); a lab keeps its own in <lab>/baselines. */
export const defaultBaselineDir = () =>
  labRoot() === projectRoot ? path.join(projectRoot, 'fixtures', 'baselines') : path.join(labRoot(), 'baselines');

/** Where the baseline of a QEMU case lives: its path under suites/, in the baseline folder. */
export function baselinePath(dir: string, qemuCaseFile: string): string {
  const suites = searchDirs('suites').find((d) => qemuCaseFile.startsWith(d + path.sep));
  const rel = suites ? path.relative(suites, qemuCaseFile) : path.basename(qemuCaseFile);
  return path.join(dir, rel.replace(/\.toml$/, '.baseline'));
}

/** How an image is named in a baseline: relative to the project, wherever hil runs from. */
export function imageKey(file: string): string {
  const rel = path.relative(projectRoot, file);
  return rel.startsWith('..') ? path.resolve(file) : rel;
}

export const digest = imageDigest;

export function writeBaseline(file: string, b: Baseline): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const head = [
    '# hil baseline v1: written by `hil baseline record`; review changes to it like code',
    `# case: ${b.caseFile}`,
    `# qemu: ${b.qemuVersion}`,
    `# command: ${b.command}`,
    ...Object.entries(b.images).map(([p, h]) => `# image: ${p} sha256=${h}`),
    `# recorded: ${b.recorded}`,
  ];
  const rows = b.lines.map((l) => `${l.t.toFixed(3).padStart(10)}  ${l.text}`);
  writeFileSync(file, `${[...head, ...rows].join('\n')}\n`);
}

export function readBaseline(file: string): Baseline | null {
  if (!existsSync(file)) return null;
  const b: Baseline = { caseFile: '', qemuVersion: '', command: '', images: {}, recorded: '', lines: [] };
  for (const row of readFileSync(file, 'utf8').split('\n')) {
    let m: RegExpExecArray | null;
    if ((m = /^# case: (.*)$/.exec(row))) b.caseFile = m[1];
    else if ((m = /^# qemu: (.*)$/.exec(row))) b.qemuVersion = m[1];
    else if ((m = /^# command: (.*)$/.exec(row))) b.command = m[1];
    else if ((m = /^# image: (.*) sha256=([0-9a-f]{64})$/.exec(row))) b.images[m[1]] = m[2];
    else if ((m = /^# recorded: (.*)$/.exec(row))) b.recorded = m[1];
    else if ((m = /^\s*(\d+\.\d{3}) {2}(.*)$/.exec(row))) b.lines.push({ t: Number(m[1]), text: m[2] });
  }
  return b;
}

/** Images whose bytes changed since the baseline was recorded (a stale baseline). */
export function staleImages(b: Baseline, images: string[]): string[] {
  return images.filter((f) => {
    return !existsSync(f) || b.images[imageKey(f)] !== digest(f);
  });
}
