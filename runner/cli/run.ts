// `hil run` and `hil preflight`: plan (everything validated before the board is touched),
// then the job, then what to read next.
import { existsSync } from 'node:fs';
import { shown } from '../config/paths.js';
import { redact } from '../config/env.js';
import { ConfigError, EXIT } from '../errors.js';
import { formatFinding, type Finding } from '../axvisor/findings.js';
import { planJob, type JobPlan } from '../job/00-plan.js';
import type { RunResult } from '../model/results.js';
import { resultFiles } from '../job/90-report.js';

const say = (msg: string) => process.stdout.write(`${redact(msg)}\n`);

interface PlanFlags {
  board: string;
  suite: string;
  image?: string;
  workspace?: string;
}

function plan(o: PlanFlags): JobPlan {
  const image = o.image ?? process.env.HIL_IMAGE;
  if (image && !existsSync(image))
    throw new ConfigError(`--image ${image} does not exist: build it first, or give the path of the built image`);
  return planJob({ board: o.board, suite: o.suite, image, workspace: o.workspace });
}

function sayFindings(findings: Finding[], notes: boolean): void {
  for (const f of findings) if (notes || f.level !== 'note') say(`preflight ${formatFinding(f)}`);
}

export async function preflightCmd(o: PlanFlags & { json?: boolean }): Promise<number> {
  const p = plan(o);
  const vms = p.plans.flatMap((x) => x.axvisor?.vms ?? []);
  if (o.json)
    say(
      JSON.stringify(
        { board: p.board.name, suite: p.suite.name, cases: p.plans.length, skipped: p.skipped, findings: p.findings },
        null,
        2,
      ),
    );
  else {
    sayFindings(p.findings, true);
    const warnings = p.findings.filter((f) => f.level === 'warning').length;
    say(
      `preflight of ${p.suite.name} on ${p.board.name}: ${p.errors.length} error(s), ${warnings} warning(s); ` +
        `${p.plans.length} case(s), ${vms.length} VM(s)${
          vms.length
            ? `: ${vms.map((v) => `${v.config.id} ${v.config.name} (${v.config.imageLocation})`).join(', ')}`
            : ''
        }${p.skipped.length ? `; ${p.skipped.length} case(s) for other boards` : ''}`,
    );
  }
  return p.errors.length ? EXIT.config : 0;
}

function sayPlan(p: JobPlan): void {
  say(`plan valid: ${p.plans.length + p.specs.length} case(s) of ${p.suite.name} on ${p.board.name}`);
  for (const c of p.plans) {
    const from =
      c.imageSource === 'build'
        ? `built by \`${c.build!.command} ${c.build!.args.join(' ')}\` in ${shown(c.build!.cwd)}`
        : c.imageSource === 'board-storage'
          ? "from the board's own storage (the last uboot_cmd boots)"
          : c.imageSource === 'image-option'
            ? `--image ${shown(c.images!.kernel)}`
            : shown(c.images!.kernel);
    say(`  case ${c.case.name}  (${shown(c.case.file)})`);
    say(
      `       image: ${from}; load: ${c.methods.join(' then ')}${c.fit ? ', as a FIT image (bootm)' : ''}` +
        `${c.case.timeout !== undefined ? `; timeout ${c.case.timeout || 'none'} s from the boot command` : ''}`,
    );
    if (c.axvisor?.vms.length)
      say(
        `       VMs: ${c.axvisor.vms.map((v) => `${v.config.id} ${v.config.name} (${v.config.imageLocation})`).join(', ')}`,
      );
    if (c.case.unknownKeys.length) say(`       unknown keys (ignored): ${c.case.unknownKeys.join(', ')}`);
  }
  for (const s of p.specs) say(`  spec ${s.name}  (${shown(s.file)})`);
  for (const s of p.skipped) say(`  skipped ${s.name}: ${s.reason}`);
  for (const s of p.suite.skipped)
    if (!/build config|QEMU case|VM config/.test(s.why)) say(`  not a case: ${shown(s.file)} (${s.why})`);
  if (p.board.caseDefaults?.unknown.length)
    say(`  board ${shown(p.board.file)}: unknown keys (ignored): ${p.board.caseDefaults.unknown.join(', ')}`);
}

type RunFlags = PlanFlags & {
  out?: string;
  dryRun?: boolean;
  reporter?: string;
  baselines?: string;
  history?: string | false;
  build?: string;
  hypervisor?: string;
  wait?: string;
};

export async function run(o: RunFlags): Promise<number> {
  const waitS = waitSeconds(o.wait); // a bad --wait is told before anything starts
  const p = plan(o);
  if (p.board.lab_host && o.dryRun) await (await import('../remote/lab-host.js')).checkLabHost(p.board.lab_host);
  sayFindings(p.findings, Boolean(o.dryRun));
  if (o.dryRun) {
    if (p.errors.length) throw new ConfigError(`preflight found ${p.errors.length} error(s): the plan is not valid`);
    sayPlan(p);
    return 0;
  }
  // The run's life on the board, in order: runner/lifecycle/.
  const { runOnBoard } = await import('../lifecycle/index.js');
  return runOnBoard(p, {
    out: o.out,
    build: o.build ?? o.hypervisor,
    history: o.history,
    reporter: o.reporter,
    baselines: o.baselines,
    waitS,
    rerun: `hil preflight --board ${o.board} --suite ${o.suite}`,
    log: say,
    starting: (outDir) =>
      say(
        `hil: ${p.plans.length + p.specs.length} case(s) of ${p.suite.name} on ${p.board.name}${p.skipped.length ? ` (${p.skipped.length} for other boards skipped)` : ''}; output in ${shown(outDir)}`,
      ),
    finished: sayResult,
  });
}

/** What the run decided, and where to read more. */
function sayResult(result: RunResult, outDir: string): void {
  const c = result.counts;
  say(
    `\n${result.verdict.toUpperCase()}: ${c.pass} passed, ${c.fail + c.timeout} failed, ${c.error} lab errors ` +
      `(${c.timeout} timeouts)${c.internal ? `, ${c.internal} runner bug(s)` : ''} in ` +
      `${result.duration_s.toFixed(1)} s`,
  );
  for (const r of result.cases.filter((x) => x.verdict !== 'pass')) say(`  ${r.name}: ${r.verdict}: ${r.reason}`);
  if (result.build)
    say(
      `build: ${result.build.id}${result.build.source === 'images' ? ' (named by its images: give --build or HIL_BUILD to name it)' : ''}`,
    );
  const f = resultFiles(outDir);
  say(`results: ${shown(f.results)}  junit: ${shown(f.junit)}  allure: ${shown(f.allure)}`);
}

/** Seconds from `--wait`: 90, 90s, 10m, 1h. */
export function waitSeconds(v: string | undefined): number {
  if (v === undefined) return 0;
  const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(v.trim());
  if (!m) throw new ConfigError(`--wait ${v}: give a duration such as 90, 90s, 10m or 1h`);
  return Number(m[1]) * ({ s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'] ?? 1);
}
