// The users' own build, run before the board is powered: `cargo axvisor build --config
// <build config> --vmconfigs <vm> [--vmconfigs <vm> ...]` in their TGOSKits workspace, its
// output streamed line by line to the run's log and to build.log. A build that fails is a
// lab error (the run cannot test anything) that names the command.
import { createWriteStream, existsSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { LabError } from '../errors.js';
import { shown } from '../config/paths.js';
import type { AxvisorPlan } from './plan.js';

export interface BuildResult {
  command: string;
  cwd: string;
  seconds: number;
  exit_code: number;
  /** build.log, relative to the run's folder. */
  log: string;
  /** The image the build wrote, loaded as the kernel. */
  output?: string;
}

/** A path as the build command should see it: relative to the workspace when inside it. */
const inWorkspace = (ws: string, p: string) => {
  const rel = path.relative(ws, p);
  return rel && !rel.startsWith('..') ? rel : p;
};

export function buildCommand(plan: AxvisorPlan): { command: string; args: string[] } {
  const b = plan.settings.build!;
  const args = [...b.args];
  if (plan.build) args.push('--config', inWorkspace(plan.workspace, plan.build.file));
  for (const f of plan.vmConfigFiles) args.push('--vmconfigs', inWorkspace(plan.workspace, f));
  return { command: b.command, args };
}

/** Runs the build; `record` gets its figures whether it succeeds or not. */
export async function runBuild(plan: AxvisorPlan, caseDir: string, runDir: string, log: (line: string) => void, signal: AbortSignal, record: (r: BuildResult) => void): Promise<BuildResult> {
  const b = plan.settings.build!;
  const { command, args } = buildCommand(plan);
  const shownCmd = [command, ...args].join(' ');
  const logFile = path.join(caseDir, 'build.log');
  const out = createWriteStream(logFile);
  out.write(`$ cd ${plan.workspace} && ${shownCmd}\n`);
  log(`build: ${shownCmd} (in ${shown(plan.workspace)})`);
  const t0 = performance.now();
  const proc = execa(command, args, {
    cwd: plan.workspace, all: true, reject: false, buffer: false, stdin: 'ignore',
    timeout: b.timeout * 1000, cancelSignal: signal, forceKillAfterDelay: 5000, cleanup: true,
  });
  let last = '';
  let partial = '';
  proc.all?.on('data', (d: Buffer) => {
    out.write(d);
    const lines = (partial + d.toString()).split(/\r?\n/);
    partial = lines.pop() ?? '';
    for (const l of lines) if (l.trim()) { last = l.trim(); log(`build| ${l}`); }
  });
  const r = await proc;
  if (partial.trim()) { last = partial.trim(); log(`build| ${partial}`); }
  await new Promise<void>((resolve) => out.end(resolve));
  const result: BuildResult = {
    command: shownCmd, cwd: shown(plan.workspace), seconds: Math.round(performance.now() - t0) / 1000,
    exit_code: r.exitCode ?? -1, log: path.relative(runDir, logFile),
  };
  record(result);
  signal.throwIfAborted();
  const fail = (why: string) => new LabError('build', `build "${shownCmd}" ${why}`);
  if ((r as { code?: string }).code === 'ENOENT' || /ENOENT/.test(String(r.message ?? ''))) {
    throw fail(`could not start: ${command} is not on PATH (install the toolchain, or set [axvisor.build] command)`);
  }
  if (r.timedOut) throw fail(`did not finish within ${b.timeout} s (see ${shown(logFile)})`);
  if (r.exitCode !== 0) {
    throw fail(`failed (exit ${r.exitCode ?? r.signal}): ${last || 'no output'} (see ${shown(logFile)})`);
  }
  if (b.output) {
    const output = path.resolve(plan.workspace, b.output);
    if (!existsSync(output)) throw fail(`succeeded but wrote no ${shown(output)} ([axvisor.build] output)`);
    result.output = output;
  }
  return result;
}
