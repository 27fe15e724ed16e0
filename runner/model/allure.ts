// Allure results for every run, written by the runner itself (every fact is in the case
// results; a mocha reporter would see only pass/fail): <run>/allure-results/, one
// *-result.json per case in Allure 2's format, with a step per phase (build, power, U-Boot,
// deploy, load with its figures, boot, guest checks, VMs, baseline comparison), the
// console transcript and the baseline diff attached, and labels for board, SoC, guest and
// hypervisor build. Lab errors are Allure's "broken", failures and timeouts "failed",
// so Allure too keeps the lab apart from the hypervisor.
import { randomUUID, createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Verdict } from '../errors.js';
import type { CaseResult, RunResult } from './results.js';
import { allAttempts, PHASES } from './results.js';

type Status = 'passed' | 'failed' | 'broken' | 'skipped';

interface Step {
  name: string;
  status: Status;
  start: number;
  stop: number;
  stage: 'finished';
  steps: Step[];
  attachments: Attachment[];
  parameters: { name: string; value: string }[];
  statusDetails?: { message: string };
}

interface Attachment {
  name: string;
  source: string;
  type: string;
}

const STATUS: Record<Verdict, Status> = { pass: 'passed', fail: 'failed', timeout: 'failed', error: 'broken', internal: 'broken' };
const PHASE_NAMES: Record<(typeof PHASES)[number], string> = {
  build: 'build the hypervisor',
  power: 'power on, console attached',
  uboot: 'reach the U-Boot prompt',
  deploy: "deploy guests to the board's storage",
  load: 'load images into RAM',
  boot: 'boot: hand-off to the guest',
  guest: 'guest checks',
  baseline: 'compare with the QEMU baseline',
  health: "health check: U-Boot's version and environment",
  flash: "write an image to the board's storage through U-Boot's fastboot",
};

const step = (name: string, status: Status, start: number, stop: number, extra: Partial<Step> = {}): Step => ({
  name,
  status,
  start,
  stop,
  stage: 'finished',
  steps: [],
  attachments: [],
  parameters: [],
  ...extra,
});
const param = (name: string, value: unknown) => ({ name, value: String(value) });

/** Copies a file of the run into the results folder as an attachment. */
function attach(dir: string, name: string, file: string, type: string): Attachment | undefined {
  if (!existsSync(file)) return undefined;
  const source = `${randomUUID()}-attachment${path.extname(file) || '.txt'}`;
  copyFileSync(file, path.join(dir, source));
  return { name, source, type };
}

function phaseSteps(c: CaseResult, t0: number, runDir: string, dir: string): Step[] {
  const steps: Step[] = [];
  let t = t0;
  const decided = c.verdict === 'pass' ? undefined : c.phase;
  const ran = PHASES.filter((p) => c.phases[p] !== undefined && p !== 'baseline');
  for (const p of ran) {
    const secs = c.phases[p]!;
    if (secs === undefined) continue;
    const start = t;
    t += secs * 1000;
    // A case timeout is decided in whatever phase was running when time ran out: the last one.
    const failedHere = decided === p || (decided === 'case' && p === ran[ran.length - 1]);
    const s = step(PHASE_NAMES[p], failedHere ? STATUS[c.verdict] : 'passed', start, t, failedHere ? { statusDetails: { message: c.reason } } : {});
    if (p === 'build' && c.build) {
      s.parameters.push(param('command', c.build.command), param('exit code', c.build.exit_code));
      const a = attach(dir, 'build.log', path.join(runDir, c.build.log), 'text/plain');
      if (a) s.attachments.push(a);
    }
    if (p === 'load') {
      for (const f of c.transfers.filter((x) => x.role !== 'guest' && x.role !== 'raw')) {
        s.steps.push(
          step(`${f.role} ${path.basename(f.image)} by ${f.method}`, 'passed', start, start + f.seconds * 1000, {
            parameters: [
              param('bytes', f.bytes),
              param('seconds', f.seconds),
              param('bytes/s', f.bytes_per_s),
              param('retries', f.retries),
              param('CRC-32', f.crc32),
              param('verified', f.verified),
              ...(f.fallback_from ? [param('fell back from', f.fallback_from.map((x) => `${x.method}: ${x.reason}`).join('; '))] : []),
            ],
          }),
        );
      }
    }
    if (p === 'deploy') {
      for (const d of c.deploys ?? []) {
        s.steps.push(
          step(`${path.basename(d.image)} -> ${d.target}`, 'passed', start, start + d.seconds * 1000, {
            parameters: [
              param('bytes', d.bytes),
              param('load s', d.load_s),
              param('write s', d.write_s),
              param('read back s', d.verify_s),
              param('CRC-32', d.crc32),
              ...(d.vm ? [param('VM', d.vm)] : []),
            ],
          }),
        );
      }
    }
    if (p === 'guest') {
      if (c.matched) s.steps.push(step(`success pattern ${c.matched.pattern} matched "${c.matched.line}"`, 'passed', t, t));
      for (const r of c.records ?? []) {
        const st: Status = r.status === 'pass' ? 'passed' : r.status === 'skip' ? 'skipped' : r.status === 'fail' ? 'failed' : 'broken';
        s.steps.push(
          step(`test record ${r.case_id}: ${r.status}`, st, start + r.at_s * 1000, start + r.at_s * 1000, {
            statusDetails: r.message ? { message: r.message } : undefined,
            parameters: r.details !== undefined ? [param('details', JSON.stringify(r.details))] : [],
          }),
        );
      }
      if (c.metrics?.length) s.parameters.push(...c.metrics.map((m) => param(m.name, m.value)));
      for (const vm of c.vms ?? []) {
        s.steps.push(
          step(`VM[${vm.id}] ${vm.name}`, STATUS[vm.verdict], start + (vm.created_s ?? 0) * 1000, start + (vm.up_s ?? vm.booted_s ?? 0) * 1000, {
            statusDetails: vm.reason ? { message: vm.reason } : undefined,
            parameters: [
              param('config', vm.config),
              ...(vm.booted_s !== undefined ? [param('booted s', vm.booted_s)] : []),
              ...(vm.first_output_s !== undefined ? [param('first output s', vm.first_output_s)] : []),
            ],
          }),
        );
      }
    }
    steps.push(s);
  }
  if (c.baseline) {
    const b = c.baseline;
    const differs = b.status === 'differs';
    const s = step(`compare with the QEMU baseline: ${b.status}`, differs && b.mode === 'require' ? 'failed' : 'passed', t, t, {
      parameters: [param('mode', b.mode), ...('file' in b ? [param('baseline', b.file)] : [])],
    });
    if ('diff' in b && c.transcript) {
      const a = attach(dir, 'baseline.diff', path.join(runDir, c.transcript, b.diff), 'text/plain');
      if (a) s.attachments.push(a);
    }
    steps.push(s);
  }
  return steps;
}

/** Writes <runDir>/allure-results for a finished run; returns the folder. */
export function writeAllure(runDir: string, run: RunResult): string {
  const dir = path.join(runDir, 'allure-results');
  mkdirSync(dir, { recursive: true });
  // Earlier attempts share the case's historyId: Allure shows them as its retries.
  for (const c of allAttempts(run)) {
    const start = Date.parse(c.started);
    const stop = start + c.phases.total * 1000;
    const uuid = randomUUID();
    const fullName = `${run.board}/${run.suite}/${c.name}`;
    const attachments = c.transcript
      ? [
          attach(dir, 'console.log', path.join(runDir, c.transcript, 'console.log'), 'text/plain'),
          attach(dir, 'console.timed.log', path.join(runDir, c.transcript, 'console.timed.log'), 'text/plain'),
          attach(dir, 'power.log', path.join(runDir, c.transcript, 'power.log'), 'text/plain'),
        ].filter((a): a is Attachment => a !== undefined)
      : [];
    const result = {
      uuid,
      // Same board and case = same history in Allure's trend and retries views.
      historyId: createHash('md5').update(fullName).digest('hex'),
      testCaseId: createHash('md5').update(`${run.suite}/${c.name}`).digest('hex'),
      fullName,
      name: c.name,
      status: STATUS[c.verdict],
      statusDetails: c.verdict === 'pass' ? undefined : { message: `${c.verdict}${c.phase ? ` in ${c.phase}` : ''}: ${c.reason}`, trace: c.last_lines.join('\n') },
      stage: 'finished',
      start,
      stop,
      description: `${c.kind === 'toml' ? 'Case' : 'Spec'} ${c.file} on ${run.board}; verdict ${c.verdict}${c.reason ? `: ${c.reason}` : ''}`,
      labels: [
        { name: 'parentSuite', value: run.board },
        { name: 'suite', value: run.suite },
        { name: 'subSuite', value: c.guest ?? c.name },
        { name: 'board', value: run.board },
        ...(run.soc ? [{ name: 'soc', value: run.soc }] : []),
        { name: 'guest', value: c.guest ?? c.name },
        ...(run.build ? [{ name: 'build', value: run.build.id }] : []),
        { name: 'verdict', value: c.verdict },
        { name: 'host', value: process.env.HOSTNAME ?? 'hil' },
        { name: 'framework', value: 'axvisor-hil' },
      ],
      parameters: [
        param('board', run.board),
        ...(c.config ? [param('configuration', c.config)] : []),
        ...(c.images ?? []).map((i) => param(`${i.role} sha256`, i.sha256.slice(0, 16))),
      ],
      steps: phaseSteps(c, start, runDir, dir),
      attachments,
      links: [],
    };
    writeFileSync(path.join(dir, `${uuid}-result.json`), JSON.stringify(result, null, 1));
  }
  writeFileSync(
    path.join(dir, 'environment.properties'),
    `${[`board=${run.board}`, ...(run.soc ? [`soc=${run.soc}`] : []), `suite=${run.suite}`, ...(run.build ? [`build=${run.build.id}`] : []), `started=${run.started}`].join(
      '\n',
    )}\n`,
  );
  writeFileSync(
    path.join(dir, 'categories.json'),
    JSON.stringify(
      [
        { name: 'Runner bugs (report them)', matchedStatuses: ['broken'], messageRegex: '^internal.*' },
        { name: 'Lab errors (the lab failed, not the hypervisor)', matchedStatuses: ['broken'] },
        { name: 'Timeouts', matchedStatuses: ['failed'], messageRegex: '^timeout.*' },
        { name: 'Differs from the QEMU baseline', matchedStatuses: ['failed'], messageRegex: '.*differs from the QEMU baseline.*' },
        { name: 'Guest failures', matchedStatuses: ['failed'] },
      ],
      null,
      1,
    ),
  );
  return dir;
}
