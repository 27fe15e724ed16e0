// Allure results for every run, written by the runner itself (every fact is in the case
// results; a mocha reporter would see only pass/fail): <run>/allure-results/, one
// *-result.json per case in Allure 2's format, with a step per phase (build, power, U-Boot,
// deploy, load with its figures, boot, guest checks, VMs, baseline comparison), the
// console transcript and the baseline diff attached, and labels for board, SoC, guest and
// hypervisor build. Lab errors are Allure's "broken", failures and timeouts "failed",
// so Allure too keeps the lab apart from the hypervisor.
//
// A test's identity is its board, suite and case, and nothing else: Allure (2.46) keys its
// history and retries by testCaseId plus the test's parameters, so a result has no
// parameters; what changes from build to build (the images' digests, the configuration's
// digest, the build itself) is in labels and the description. A nightly rebuild therefore
// continues the test's history instead of starting a new one. The earlier attempts of a
// lab-error retry keep the same identity: Allure shows them as the test's retries.
// executor.json names the build (buildName) and the CI run, for Allure's trend.
import { randomUUID, createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Verdict } from '../errors.js';
import { redactDeep } from '../config/env.js';
import type { CaseResult, RunResult } from './results.js';
import { PHASES } from './results.js';

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

const STATUS: Record<Verdict, Status> = {
  pass: 'passed',
  fail: 'failed',
  timeout: 'failed',
  error: 'broken',
  internal: 'broken',
};
const PHASE_NAMES: Record<(typeof PHASES)[number], string> = {
  build: 'build the hypervisor',
  power: 'power on, console attached',
  uboot: 'reach the U-Boot prompt',
  guard: "check the board's storage against its golden image",
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
    const s = step(
      PHASE_NAMES[p],
      failedHere ? STATUS[c.verdict] : 'passed',
      start,
      t,
      failedHere ? { statusDetails: { message: c.reason } } : {},
    );
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
              ...(f.fallback_from
                ? [param('fell back from', f.fallback_from.map((x) => `${x.method}: ${x.reason}`).join('; '))]
                : []),
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
      if (c.matched)
        s.steps.push(step(`success pattern ${c.matched.pattern} matched "${c.matched.line}"`, 'passed', t, t));
      for (const r of c.records ?? []) {
        const st: Status =
          r.status === 'pass' ? 'passed' : r.status === 'skip' ? 'skipped' : r.status === 'fail' ? 'failed' : 'broken';
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
          step(
            `VM[${vm.id}] ${vm.name}`,
            STATUS[vm.verdict],
            start + (vm.created_s ?? 0) * 1000,
            start + (vm.up_s ?? vm.booted_s ?? 0) * 1000,
            {
              statusDetails: vm.reason ? { message: vm.reason } : undefined,
              parameters: [
                param('config', vm.config),
                ...(vm.booted_s !== undefined ? [param('booted s', vm.booted_s)] : []),
                ...(vm.first_output_s !== undefined ? [param('first output s', vm.first_output_s)] : []),
              ],
            },
          ),
        );
      }
    }
    steps.push(s);
  }
  if (c.baseline) {
    const b = c.baseline;
    const differs = b.status === 'differs';
    const s = step(
      `compare with the QEMU baseline: ${b.status}`,
      differs && b.mode === 'require' ? 'failed' : 'passed',
      t,
      t,
      {
        parameters: [param('mode', b.mode), ...('file' in b ? [param('baseline', b.file)] : [])],
      },
    );
    if ('diff' in b && c.transcript) {
      const a = attach(dir, 'baseline.diff', path.join(runDir, c.transcript, b.diff), 'text/plain');
      if (a) s.attachments.push(a);
    }
    steps.push(s);
  }
  return steps;
}

/** A test's identity in Allure: board, suite and case (the same in every build). */
export const allureTestId = (board: string, suite: string, name: string): string =>
  createHash('md5').update(`${board}/${suite}/${name}`).digest('hex');

/** Allure's executor.json: who ran, which build, where the CI run is. */
export interface AllureExecutor {
  name: string;
  type: string;
  url?: string;
  /** Orders the points of Allure's trend: the CI run number, else the run's start (Unix seconds). */
  buildOrder: number;
  buildName: string;
  buildUrl?: string;
  reportName: string;
  reportUrl?: string;
}

/** The GitHub Actions run this process is part of, from the variables Actions sets. */
export function githubRun(
  env: NodeJS.ProcessEnv = process.env,
): { repo: string; run: string; number?: number } | undefined {
  const server = env.GITHUB_SERVER_URL?.replace(/\/+$/, '');
  if (!server || !env.GITHUB_REPOSITORY || !env.GITHUB_RUN_ID) return undefined;
  const repo = `${server}/${env.GITHUB_REPOSITORY}`;
  const number = Number(env.GITHUB_RUN_NUMBER);
  return {
    repo,
    run: `${repo}/actions/runs/${env.GITHUB_RUN_ID}`,
    number: Number.isSafeInteger(number) && number > 0 ? number : undefined,
  };
}

export function allureExecutor(run: RunResult, env: NodeJS.ProcessEnv = process.env): AllureExecutor {
  const gh = githubRun(env);
  const build = run.build?.id ?? 'unknown build';
  return {
    name: 'hil',
    type: gh ? 'github' : 'hil',
    url: gh?.repo,
    buildOrder: gh?.number ?? Math.floor(Date.parse(run.started) / 1000),
    buildName: build,
    buildUrl: gh?.run,
    reportName: `${run.board} ${run.suite}: build ${build}`,
    // The report is published with (or as an artifact of) the CI run that made it.
    reportUrl: gh?.run,
  };
}

/** environment.properties, as Allure reads it (java.util.Properties.load: Latin-1, so
 * anything else as \uXXXX; backslash and line breaks escaped; a key's separators too). */
export function propertiesText(entries: [string, string][]): string {
  const esc = (s: string, key: boolean) =>
    s.replace(key ? /[^\x21-\x7e]|[\\=:#!]/g : /[^\x20-\x7e]|\\|^ /g, (c) => {
      const named: Record<string, string> = {
        '\\': '\\\\',
        '\n': '\\n',
        '\r': '\\r',
        '\t': '\\t',
        '\f': '\\f',
        ' ': '\\ ',
      };
      if (named[c]) return named[c];
      if (/[=:#!]/.test(c)) return `\\${c}`;
      return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
    });
  return entries.map(([k, v]) => `${esc(k, true)}=${esc(v, false)}\n`).join('');
}

/** Writes <runDir>/allure-results for a finished run; returns the folder. */
export function writeAllure(runDir: string, result: RunResult): string {
  // A secret the guest printed back (in a step's name, a reason) is masked here too.
  const run = redactDeep(result);
  const dir = path.join(runDir, 'allure-results');
  mkdirSync(dir, { recursive: true });
  const gh = githubRun();
  // Earlier attempts share the case's identity: Allure shows them as its retries.
  const runs = run.cases.flatMap((x) => {
    const tries = [...(x.attempts ?? []), x];
    return tries.map((c, i) => ({ c, attempt: tries.length > 1 ? i + 1 : undefined, of: tries.length }));
  });
  for (const { c, attempt, of } of runs) {
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
    const id = allureTestId(run.board, run.suite, c.name);
    const b = run.build;
    const description = [
      `${c.kind === 'toml' ? 'Case' : 'Spec'} \`${c.file}\` on ${run.board}; verdict ${c.verdict}${c.reason ? `: ${c.reason}` : ''}`,
      '',
      ...(b
        ? [`- build: ${b.id} (${b.source}${b.commit ? `, commit ${b.commit}${b.dirty ? ', dirty tree' : ''}` : ''})`]
        : []),
      ...(c.config ? [`- configuration digest: ${c.config}`] : []),
      ...(c.images ?? []).map((i) => `- ${i.role} \`${path.basename(i.file)}\`: sha256 ${i.sha256}`),
      ...(attempt ? [`- attempt ${attempt} of ${of}`] : []),
    ].join('\n');
    const result = {
      uuid,
      // Board, suite and case: the same test in every build (no parameters: Allure would
      // make each parameter value a test of its own, with a history of its own).
      historyId: id,
      testCaseId: id,
      fullName,
      name: c.name,
      status: STATUS[c.verdict],
      statusDetails:
        c.verdict === 'pass'
          ? undefined
          : { message: `${c.verdict}${c.phase ? ` in ${c.phase}` : ''}: ${c.reason}`, trace: c.last_lines.join('\n') },
      stage: 'finished',
      start,
      stop,
      description,
      labels: [
        { name: 'parentSuite', value: run.board },
        { name: 'suite', value: run.suite },
        { name: 'subSuite', value: c.guest ?? c.name },
        { name: 'board', value: run.board },
        ...(run.soc ? [{ name: 'soc', value: run.soc }] : []),
        { name: 'guest', value: c.guest ?? c.name },
        ...(b ? [{ name: 'build', value: b.id }] : []),
        ...(b?.commit ? [{ name: 'commit', value: `${b.commit}${b.dirty ? '-dirty' : ''}` }] : []),
        ...(c.config ? [{ name: 'configuration', value: c.config }] : []),
        ...(c.images ?? []).map((i) => ({
          name: 'image',
          value: `${i.role} ${path.basename(i.file)} sha256:${i.sha256}`,
        })),
        ...(attempt ? [{ name: 'attempt', value: String(attempt) }] : []),
        { name: 'verdict', value: c.verdict },
        { name: 'host', value: process.env.HOSTNAME ?? 'hil' },
        { name: 'framework', value: 'axvisor-hil' },
      ],
      parameters: [],
      steps: phaseSteps(c, start, runDir, dir),
      attachments,
      links: gh ? [{ name: 'CI run', url: gh.run, type: 'link' }] : [],
    };
    writeFileSync(path.join(dir, `${uuid}-result.json`), JSON.stringify(result, null, 1));
  }
  writeFileSync(
    path.join(dir, 'environment.properties'),
    propertiesText([
      ['board', run.board],
      ...(run.soc ? [['soc', run.soc] as [string, string]] : []),
      ['suite', run.suite],
      ...(run.build ? [['build', run.build.id] as [string, string]] : []),
      ...(run.build?.commit
        ? [['build.commit', `${run.build.commit}${run.build.dirty ? ' (dirty tree)' : ''}`] as [string, string]]
        : []),
      ['started', run.started],
    ]),
  );
  writeFileSync(path.join(dir, 'executor.json'), `${JSON.stringify(allureExecutor(run), null, 1)}\n`);
  writeFileSync(
    path.join(dir, 'categories.json'),
    JSON.stringify(
      [
        { name: 'Runner bugs (report them)', matchedStatuses: ['broken'], messageRegex: '^internal.*' },
        { name: 'Lab errors (the lab failed, not the hypervisor)', matchedStatuses: ['broken'] },
        { name: 'Timeouts', matchedStatuses: ['failed'], messageRegex: '^timeout.*' },
        {
          name: 'Differs from the QEMU baseline',
          matchedStatuses: ['failed'],
          messageRegex: '.*differs from the QEMU baseline.*',
        },
        { name: 'Guest failures', matchedStatuses: ['failed'] },
      ],
      null,
      1,
    ),
  );
  return dir;
}

/** One Allure report made of the allure-results of several runs: what `hil report allure`
 * hands to `allure generate`. */
export interface MergedResults {
  /** The builds the runs tested, in the order given. */
  builds: string[];
  /** The report's name: its title, and its point's name in the trend. */
  reportName: string;
  executor: AllureExecutor;
}

/** What a merge reads of a result file (every other field is kept as it is). */
interface ResultDoc {
  testCaseId?: string;
  historyId?: string;
  fullName?: string;
  name?: string;
  labels?: { name?: string; value?: string }[];
  parameters?: { name: string; value: string }[];
}

const readJson = (file: string): unknown => {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
};

/** `key=value` lines of a properties file we wrote (values kept escaped, as written). */
const propertiesEntries = (text: string): [string, string][] =>
  text
    .split(/\r?\n/)
    .filter((l) => l.trim() && !/^\s*[#!]/.test(l))
    .map((l) => {
      const m = /^((?:\\.|[^=:\\])*)[=:](.*)$/.exec(l);
      return m ? [m[1].trim(), m[2]] : [l.trim(), ''];
    });

/**
 * Copies the allure-results folders `dirs` into `into` as one report's results:
 * - every result as it is, except that a test (board, suite, case) that ran under more than
 *   one build here gets the build as a parameter: each build is then a test of its own in
 *   this report, rather than Allure taking the earlier builds for retries of the latest (the
 *   attempts of one run of one build stay its retries). A report of one build, the nightly's,
 *   adds nothing, and a test keeps one history from night to night;
 * - one environment.properties, each key with the values of every run;
 * - one executor.json naming the builds, ordered after the previous report's last point
 *   (`previousTrend`: its history/history-trend.json), with this CI run's address when it
 *   is one (GITHUB_* variables);
 * - the previous report's history (`previousHistory`), for Allure's trends.
 */
export function mergeAllureResults(
  dirs: string[],
  into: string,
  o: { previousHistory?: string; env?: NodeJS.ProcessEnv } = {},
): MergedResults {
  mkdirSync(into, { recursive: true });
  const results: { file: string; doc: ResultDoc }[] = [];
  const executors: Partial<AllureExecutor>[] = [];
  const env = new Map<string, string[]>();
  for (const dir of dirs) {
    for (const f of readdirSync(dir)) {
      const from = path.join(dir, f);
      if (f.endsWith('-result.json')) {
        const doc = readJson(from);
        if (doc && typeof doc === 'object') results.push({ file: f, doc: doc as ResultDoc });
        else copyFileSync(from, path.join(into, f));
      } else if (f === 'executor.json') {
        const doc = readJson(from);
        if (doc && typeof doc === 'object') executors.push(doc as Partial<AllureExecutor>);
      } else if (f === 'environment.properties') {
        for (const [k, v] of propertiesEntries(readFileSync(from, 'utf8'))) {
          const values = env.get(k) ?? [];
          if (!values.includes(v)) values.push(v);
          env.set(k, values);
        }
      } else if (f !== 'history') {
        // Attachments (unique names), categories.json (the same in every run), containers.
        cpSync(from, path.join(into, f), { recursive: true });
      }
    }
  }
  const labelOf = (doc: ResultDoc, name: string): string | undefined =>
    Array.isArray(doc.labels) ? doc.labels.find((l) => l?.name === name)?.value : undefined;
  const identity = (doc: ResultDoc): string => String(doc.testCaseId ?? doc.historyId ?? doc.fullName ?? doc.name);
  const buildsOf = new Map<string, Set<string>>();
  for (const { doc } of results) {
    const s = buildsOf.get(identity(doc)) ?? new Set<string>();
    s.add(labelOf(doc, 'build') ?? '');
    buildsOf.set(identity(doc), s);
  }
  for (const { file, doc } of results) {
    if ((buildsOf.get(identity(doc))?.size ?? 0) > 1)
      doc.parameters = [...(doc.parameters ?? []), { name: 'build', value: labelOf(doc, 'build') || '(unnamed)' }];
    writeFileSync(path.join(into, file), JSON.stringify(doc, null, 1));
  }
  // The builds, in the order the runs were given (older runs have no executor.json).
  const builds = [
    ...new Set(
      [...executors.map((e) => e.buildName), ...results.map(({ doc }) => labelOf(doc, 'build'))].filter(
        (b): b is string => Boolean(b),
      ),
    ),
  ];
  if (env.size) {
    const started = env.get('started');
    if (started) env.set('started', [[...started].sort()[0]]);
    writeFileSync(
      path.join(into, 'environment.properties'),
      [...env].map(([k, values]) => `${k}=${values.join(', ')}\n`).join(''),
    );
  }
  // After the previous report's last point, so that the trend reads left to right.
  const previous = o.previousHistory ? readJson(path.join(o.previousHistory, 'history-trend.json')) : undefined;
  const lastOrder = Math.max(
    0,
    ...(Array.isArray(previous)
      ? previous.map((p: { buildOrder?: unknown } | null) => Number(p?.buildOrder)).filter(Number.isFinite)
      : []),
  );
  const gh = githubRun(o.env);
  // A CI run's number (this report's, else its runs'); elsewhere the report after the last.
  const ciOrders = executors.filter((e) => e.type === 'github').map((e) => Number(e.buildOrder));
  const ownOrder = gh?.number ?? Math.max(0, ...ciOrders.filter(Number.isFinite));
  const ci = [...executors].reverse().find((e) => e.buildUrl);
  const buildName = builds.length ? builds.join(', ') : 'unknown build';
  const reportName =
    executors.length === 1 && executors[0].reportName
      ? executors[0].reportName
      : `hil, ${dirs.length} run(s): build${builds.length > 1 ? 's' : ''} ${buildName}`;
  const executor: AllureExecutor = {
    name: 'hil',
    type: gh ? 'github' : (ci?.type ?? 'hil'),
    url: gh?.repo ?? ci?.url,
    buildOrder: ownOrder > lastOrder ? ownOrder : lastOrder + 1,
    buildName,
    buildUrl: gh?.run ?? ci?.buildUrl,
    reportName,
    reportUrl: gh?.run ?? ci?.reportUrl,
  };
  writeFileSync(path.join(into, 'executor.json'), `${JSON.stringify(executor, null, 1)}\n`);
  if (o.previousHistory && existsSync(o.previousHistory))
    cpSync(o.previousHistory, path.join(into, 'history'), { recursive: true });
  return { builds, reportName, executor };
}
