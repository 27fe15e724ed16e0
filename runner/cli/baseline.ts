// `hil baseline record`: run QEMU cases and store each passing run as the baseline that
// board runs of the same guest are compared with. `hil baseline check`: run them again and
// compare each run with its stored baseline (a new QEMU, a new machine: still the same?).
//
// Every case that cannot be recorded is one line on standard error, and the exit status
// says the worst of them (docs/baselines.md):
//   0  every case recorded (check: every run the same as its baseline)
//   1  a guest did not pass under QEMU: a failure pattern, or no success within its timeout
//      (check: a run differs from its baseline, or has none, or it is stale)
//   2  QEMU could not run a case: not installed, refused its arguments, exited at start or
//      before the case passed, or the guest printed nothing
//   3  bad usage or a bad case file, an image missing (nothing is run)
import path from 'node:path';
import { DEFAULT_RULES } from '../baseline/normalize.js';
import { compareWithBaseline, summary } from '../baseline/check.js';
import { recordBaseline } from '../baseline/record.js';
import { baselinePath, defaultBaselineDir, writeBaseline } from '../baseline/store.js';
import type { CaseBaseline } from '../config/case.js';
import { loadQemuCase, type QemuCase } from '../config/qemu-case.js';
import { reportsDir, shown } from '../config/paths.js';
import { compileAll } from '../config/regex.js';
import { loadSuite } from '../config/suite.js';
import { readToml } from '../config/toml.js';
import { ConfigError, EXIT, kindOf } from '../errors.js';

const say = (msg: string) => process.stdout.write(`${msg}\n`);
const complain = (msg: string) => process.stderr.write(`hil: ${msg}\n`);
const stamp = () => new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);

export interface BaselineOptions {
  suite?: string;
  qemuCase?: string;
  baselines?: string;
  image?: string;
  workspace?: string;
  buildConfig?: string;
  out?: string;
}

interface Target {
  name: string;
  file: string;
  /** The board case's markers and normalisation, when the case came from a suite. */
  baseline?: CaseBaseline;
}

function targetsOf(o: BaselineOptions): Target[] {
  const targets: Target[] = [];
  if (o.qemuCase) targets.push({ name: path.basename(o.qemuCase, '.toml'), file: path.resolve(o.qemuCase) });
  if (o.suite) {
    for (const c of loadSuite(o.suite).cases)
      if (c.kind === 'toml' && c.baseline)
        targets.push({ name: c.name, file: c.baseline.qemuCase, baseline: c.baseline });
    if (!targets.length)
      throw new ConfigError(
        `suite ${o.suite} has no case with a qemu_case: nothing to record (or give --qemu-case FILE)`,
      );
  }
  if (!targets.length)
    throw new ConfigError('say which QEMU cases: --suite S (the qemu_case of each of its cases) or --qemu-case FILE');
  return targets;
}

/** Loads every case first, so a bad file stops the command before any QEMU runs. */
function load(o: BaselineOptions): { t: Target; qc: QemuCase }[] {
  const image = o.image ?? process.env.HIL_IMAGE;
  return targetsOf(o).map((t) => ({
    t,
    qc: loadQemuCase(t.file, {
      workspace: o.workspace && path.resolve(o.workspace),
      image: image && path.resolve(image),
      buildConfig: o.buildConfig,
    }),
  }));
}

const outFor = (o: BaselineOptions, what: string, t: Target) =>
  path.join(
    o.out ? path.resolve(o.out) : path.join(reportsDir(), `${stamp()}-baseline-${what}`),
    t.name.replace(/[^A-Za-z0-9._-]+/g, '_'),
  );

/** The exit status of one case that could not be run through. */
function exitOf(e: unknown): number {
  const k = kindOf(e);
  if (k === 'config') return EXIT.config;
  if (k === 'lab') return EXIT.error;
  if (k === 'guest' || k === 'timeout') return EXIT.fail;
  if (k === 'interrupted') return EXIT.interrupted;
  return EXIT.internal;
}

export async function recordBaselines(o: BaselineOptions): Promise<number> {
  const dir = path.resolve(o.baselines ?? defaultBaselineDir());
  const image = o.image ?? process.env.HIL_IMAGE;
  let worst = 0;
  for (const { t, qc } of load(o)) {
    const file = baselinePath(dir, qc.file);
    const out = outFor(o, 'record', t);
    try {
      const b = await recordBaseline(qc, out, { image: image && path.resolve(image) });
      writeBaseline(file, b);
      say(`${t.name}: recorded ${b.lines.length} lines from ${shown(qc.file)} (${qc.qemu}) into ${shown(file)}`);
    } catch (e) {
      const code = exitOf(e);
      if (code === EXIT.internal) throw e;
      worst = Math.max(worst, code);
      complain(`${t.name}: not recorded: ${(e as Error).message.split('\n')[0]} (transcript in ${shown(out)})`);
    }
  }
  return worst;
}

/** The markers a QEMU case is compared by on its own: ours `baseline_markers`, else its success_regex. */
function ownBaseline(qc: QemuCase): CaseBaseline {
  const doc = readToml(qc.file);
  const markers = Array.isArray(doc.baseline_markers) ? (doc.baseline_markers as string[]) : undefined;
  return {
    qemuCase: qc.file,
    mode: 'report',
    markers: markers ? compileAll(markers, `${shown(qc.file)}: baseline_markers`) : qc.success,
    rules: DEFAULT_RULES,
  };
}

export async function checkBaselines(o: BaselineOptions): Promise<number> {
  const dir = path.resolve(o.baselines ?? defaultBaselineDir());
  const image = o.image ?? process.env.HIL_IMAGE;
  let worst = 0;
  for (const { t, qc } of load(o)) {
    const out = outFor(o, 'check', t);
    try {
      const run = await recordBaseline(qc, out, { image: image && path.resolve(image) });
      const report = compareWithBaseline(qc, t.baseline ?? ownBaseline(qc), run.lines, out, dir);
      if (report.status === 'same') say(`${t.name}: ${summary(report)}`);
      else {
        worst = Math.max(worst, EXIT.fail);
        complain(
          `${t.name}: ${summary(report)}${'diff' in report ? ` (side by side in ${shown(path.join(out, report.diff))})` : ''}`,
        );
      }
    } catch (e) {
      const code = exitOf(e);
      if (code === EXIT.internal) throw e;
      worst = Math.max(worst, code);
      complain(`${t.name}: not checked: ${(e as Error).message.split('\n')[0]} (transcript in ${shown(out)})`);
    }
  }
  return worst;
}
