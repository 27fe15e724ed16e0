// After a board run: find the case's baseline, make sure it is not stale, compare, write the
// side-by-side diff beside the transcript. A missing or stale baseline is reported as such,
// never as a failure of the board.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { shown } from '../config/paths.js';
import type { CaseBaseline } from '../config/case.js';
import { loadQemuCase, type QemuCase } from '../config/qemu-case.js';
import { compareRuns, sideBySide, type Comparison, type TimedLine } from './compare.js';
import { normalizer } from './normalize.js';
import { baselinePath, readBaseline, staleImages } from './store.js';

export type BaselineReport =
  | ({ status: Comparison['status']; mode: CaseBaseline['mode']; file: string; diff: string } & Omit<
      Comparison,
      'status'
    >)
  | { status: 'missing' | 'stale'; mode: CaseBaseline['mode']; file: string; reason: string };

export function checkBaseline(
  cb: CaseBaseline,
  guest: TimedLine[],
  outDir: string,
  baselineDir: string,
): BaselineReport {
  return compareWithBaseline(loadQemuCase(cb.qemuCase), cb, guest, outDir, baselineDir);
}

/** Compares a run's lines (a board's, or a fresh QEMU run's) with a QEMU case's stored baseline. */
export function compareWithBaseline(
  qc: QemuCase,
  cb: Pick<CaseBaseline, 'mode' | 'markers' | 'rules'>,
  guest: TimedLine[],
  outDir: string,
  baselineDir: string,
): BaselineReport {
  const file = baselinePath(baselineDir, qc.file);
  const b = readBaseline(file);
  const record = `record it with \`hil baseline record --qemu-case ${shown(qc.file)}\``;
  if (!b)
    return { status: 'missing', mode: cb.mode, file: shown(file), reason: `no baseline at ${shown(file)}: ${record}` };
  // The image a QEMU case boots with --image is not the board's: only what the case names is checked.
  const stale = staleImages(b, [...(qc.kernel ? [qc.kernel] : []), ...qc.images]);
  if (stale.length) {
    return {
      status: 'stale',
      mode: cb.mode,
      file: shown(file),
      reason: `the baseline was recorded with other images (${stale.map(shown).join(', ')} changed since ${b.recorded}): ${record}`,
    };
  }
  const norm = normalizer(cb.rules, `${shown(qc.file)}: normalisation`);
  const c = compareRuns(b.lines, guest, { markers: cb.markers, normalize: norm });
  writeFileSync(path.join(outDir, 'baseline.diff'), sideBySide(b.lines, guest, c, norm));
  return { ...c, mode: cb.mode, file: shown(file), diff: 'baseline.diff' };
}

/** One line for the log and, under "require", for the verdict's reason. */
export function summary(r: BaselineReport): string {
  if ('reason' in r) return `baseline ${r.status}: ${r.reason}`;
  if (r.status === 'same')
    return `same as the QEMU baseline (${r.markers.length} marker(s) in order and in time; ${r.counts.missing} other line(s) missing, ${r.counts.new} new)`;
  const parts = [
    ...r.missing_markers.map((m) => `marker ${JSON.stringify(m)} missing`),
    ...r.new_trouble.map((l) => `new line ${JSON.stringify(l)}`),
    ...(r.order_changed.length ? [`markers out of order: ${r.order_changed.join(', ')}`] : []),
    ...r.slow_markers.map((m) => `marker ${JSON.stringify(m.marker)} at ${m.board_s} s, ${m.baseline_s} s in QEMU`),
  ];
  return `differs from the QEMU baseline: ${parts.join('; ')}`;
}
