// The users' own build, run before the board is powered: what `cargo axvisor test board`
// does first (TGOSKits, scripts/axbuild): `cargo axvisor build --config <build config>` in
// the workspace (`cargo starry ...` for StarryOS, `cargo arceos ...` for ArceOS), which
// builds with that config's target, features and vm_configs and leaves the image at
// target/<target>/release/<package>(.bin). Output is streamed to the run's log and to the
// case's build.log. A build that fails is a lab error (nothing can be tested) that names
// the command. Cases that share a build config and workspace are built once per run.
//
// A nightly that builds once and runs many boards gives the image instead (--image).
import { createWriteStream, existsSync } from 'node:fs';
import path from 'node:path';
import { LabError } from '../errors.js';
import { redact } from '../config/env.js';
import { shown } from '../config/paths.js';
import type { BuildConfig } from '../axvisor/build-config.js';

export { buildSchema, type BuildSettings } from '../config/build-settings.js';
import { buildSchema, type BuildSettings } from '../config/build-settings.js';

export type Family = 'axvisor' | 'starry' | 'arceos';

/** Which TGOSKits OS a build config belongs to, from where it is and what it says. */
export function familyOf(file: string, b?: BuildConfig): Family | undefined {
  const p = file.split(path.sep).join('/');
  if (b?.vmConfigs !== undefined || /\/(test-suit\/axvisor|os\/axvisor)\//.test(p)) return 'axvisor';
  if (/\/(test-suit\/starryos|apps\/starry|os\/StarryOS)\//.test(p)) return 'starry';
  if (b?.package || /\/(test-suit\/arceos|os\/arceos)\//.test(p)) return 'arceos';
  return undefined;
}

const PACKAGE: Record<Family, string | undefined> = { axvisor: 'axvisor', starry: 'starryos', arceos: undefined };

export interface BuildSpec {
  command: string;
  args: string[];
  cwd: string;
  /** Candidates for the image it writes, best first (the .bin, then the ELF). */
  outputs: string[];
  timeoutS: number;
  /** The build config it builds. */
  config: string;
}

/** The build a case needs, or why there can be none. */
export function buildSpec(config: BuildConfig, workspace: string, settings?: BuildSettings): BuildSpec | string {
  const family = familyOf(config.file, config);
  const rel = path.relative(workspace, config.file);
  const cfg = rel && !rel.startsWith('..') ? rel : config.file;
  const s = settings ?? buildSchema.parse({});
  const args = s.args
    ? s.args.map((a) => a.replaceAll('{config}', cfg))
    : family
      ? [family, 'build', '--config', cfg]
      : undefined;
  if (!args)
    return `${shown(config.file)} is not in a TGOSKits axvisor, starryos or arceos tree: say how to build it in the case's [build] table (command, args, output), or give --image`;
  let outputs: string[];
  if (s.output) outputs = [path.resolve(workspace, s.output)];
  else {
    const pkg = config.package ?? (family ? PACKAGE[family] : undefined);
    if (!pkg || !config.target)
      return `cannot tell what ${shown(config.file)} builds (${!config.target ? 'no target' : 'no package'}): set [build] output = "...", or give --image`;
    const elf = path.join(workspace, 'target', config.target, 'release', pkg);
    outputs = [`${elf}.bin`, elf];
  }
  return { command: s.command, args, cwd: workspace, outputs, timeoutS: s.timeout, config: config.file };
}

export interface BuildResult {
  command: string;
  cwd: string;
  seconds: number;
  exit_code: number;
  /** build.log, relative to the run's folder. */
  log: string;
  /** The image the build wrote. */
  output?: string;
}

/** Runs a build; `record` gets its figures whether it succeeds or not. */
export async function runBuild(
  spec: BuildSpec,
  logFile: string,
  runDir: string,
  log: (line: string) => void,
  signal: AbortSignal,
): Promise<BuildResult> {
  const { execa } = await import('execa');
  const shownCmd = [spec.command, ...spec.args].join(' ');
  const out = createWriteStream(logFile);
  out.write(`$ cd ${spec.cwd} && ${shownCmd}\n`);
  log(`build: ${shownCmd} (in ${shown(spec.cwd)})`);
  const t0 = performance.now();
  const proc = execa(spec.command, spec.args, {
    cwd: spec.cwd,
    all: true,
    reject: false,
    buffer: false,
    stdin: 'ignore',
    timeout: spec.timeoutS * 1000,
    cancelSignal: signal,
    forceKillAfterDelay: 5000,
    cleanup: true,
  });
  let last = '';
  let partial = '';
  proc.all?.on('data', (d: Buffer) => {
    out.write(redact(d.toString()));
    const lines = (partial + d.toString()).split(/\r?\n/);
    partial = lines.pop() ?? '';
    for (const l of lines)
      if (l.trim()) {
        last = l.trim();
        log(`build| ${redact(l)}`);
      }
  });
  const r = await proc;
  if (partial.trim()) {
    last = partial.trim();
    log(`build| ${redact(partial)}`);
  }
  await new Promise<void>((resolve) => out.end(resolve));
  const result: BuildResult = {
    command: shownCmd,
    cwd: shown(spec.cwd),
    seconds: Math.round(performance.now() - t0) / 1000,
    exit_code: r.exitCode ?? -1,
    log: path.relative(runDir, logFile),
  };
  signal.throwIfAborted();
  const fail = (why: string) => Object.assign(new LabError('build', `build "${shownCmd}" ${why}`), { result });
  if ((r as { code?: string }).code === 'ENOENT' || /ENOENT/.test(String(r.message ?? ''))) {
    throw fail(
      `could not start: ${spec.command} is not on PATH (install the toolchain, or give a prebuilt image with --image)`,
    );
  }
  if (r.timedOut) throw fail(`did not finish within ${spec.timeoutS} s (see ${shown(logFile)})`);
  if (r.exitCode !== 0)
    throw fail(`failed (exit ${r.exitCode ?? r.signal}): ${redact(last) || 'no output'} (see ${shown(logFile)})`);
  const output = spec.outputs.find((f) => existsSync(f));
  if (!output)
    throw fail(`succeeded but wrote none of ${spec.outputs.map(shown).join(', ')} (set [build] output = "...")`);
  result.output = output;
  return result;
}
