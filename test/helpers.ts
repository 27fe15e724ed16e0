// Shared by the runner's own tests: the real `hil` CLI as a subprocess, temporary board
// and case files derived from the shipped ones, and a watch on QEMU processes.
import assert from 'node:assert/strict';
import { execa, type Options, type ResultPromise } from 'execa';
import { type Dirent, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'smol-toml';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const hilBin = path.join(root, 'bin', 'hil.js');

export function tmpDir(prefix = 'hil-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface HilRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  out: string;
  results?: any;
  /** The history the command recorded into (HIL_HISTORY, unless the test gave --history). */
  history: string;
}

/** Runs `hil <args>`; for `run`, an --out folder is added and results.json read back. */
export async function hil(args: string[], opts: Options = {}): Promise<HilRun> {
  const given = args.indexOf('--out');
  const out = given >= 0 ? args[given + 1] : tmpDir('hil-out-');
  watchRun(out);
  const full = args[0] === 'run' && given < 0 ? [...args, '--out', out] : args;
  // Runs record into a history of their own, not the checkout's reports/history, and keep
  // board leases and health apart from other tests' (and from the machine's).
  const env = { HIL_HISTORY: tmpDir('hil-history-'), HIL_LEASE_DIR: tmpDir('hil-leases-'), ...opts.env };
  const r = await execa('node', [hilBin, ...full], { cwd: root, reject: false, timeout: 170_000, ...opts, env });
  let results: any;
  try {
    results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
  } catch {
    results = undefined;
  }
  return {
    exitCode: r.exitCode ?? -1,
    stdout: String(r.stdout),
    stderr: String(r.stderr),
    out,
    results,
    history: String(env.HIL_HISTORY),
  };
}

/** Starts `hil run <args> --out <out>` and resolves once it reached U-Boot's prompt (QEMU
 * runs, U-Boot is busy): the moment a person presses Ctrl-C, or a CI job is killed. */
export async function runUntilUBoot(args: string[], out: string, opts: Options = {}): Promise<{ proc: ResultPromise }> {
  watchRun(out);
  const proc = execa('node', [hilBin, 'run', ...args, '--out', out], {
    cwd: root,
    reject: false,
    ...opts,
    env: { HIL_LEASE_DIR: tmpDir('hil-leases-'), ...opts.env },
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the run never reached U-Boot')), 30_000);
    proc.stdout!.on('data', (d: Buffer) => {
      if (/U-Boot prompt after/.test(d.toString())) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  // Wrapped: the subprocess is a promise itself, which an async function would wait out.
  return { proc };
}

/** Writes a TOML file built from `base` (a TOML file) with `change` applied to its data. */
export function deriveToml(
  base: string,
  change: (doc: any) => void,
  dir = tmpDir(),
  name = path.basename(base),
): string {
  const doc = parse(readFileSync(base, 'utf8')) as any;
  change(doc);
  const file = path.join(dir, name);
  writeFileSync(file, stringify(doc));
  return file;
}

export const virtualBoard = path.join(root, 'boards', 'qemu-virt-aarch64.toml');
export const helloCase = path.join(root, 'suites', 'virtual-board', 'hello.toml');
export const helloImage = path.join(root, 'fixtures', 'hello', 'hello.Image');

/** A case file like hello.toml, with an absolute image path so it can live anywhere. */
export function helloCaseWith(change: (doc: any) => void = () => {}, dir = tmpDir()): string {
  return deriveToml(
    helloCase,
    (d) => {
      d.images.kernel = helloImage;
      d.qemu_case = path.join(root, 'suites', 'virtual-board', 'qemu', 'hello.toml');
      change(d);
    },
    dir,
  );
}

/** Output folders of the runs started by the test now running (hil() registers them). */
const runsOfTest: string[] = [];
export const watchRun = (dir: string) => void runsOfTest.push(dir);

/** The processes the power drivers of a run's cases started (their power.log says "[pid N]"). */
export function pidsOf(outDir: string): number[] {
  const pids: number[] = [];
  const walk = (d: string) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) walk(f);
      else if (e.name === 'power.log')
        for (const m of readFileSync(f, 'utf8').matchAll(/^\[pid (\d+)\]$/gm)) pids.push(Number(m[1]));
    }
  };
  walk(outDir);
  return pids;
}

export const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Registers hooks that fail a test when a QEMU one of its runs started is still running
 * afterwards: only those, never another process on the machine. `started()` lists the
 * QEMU processes its runs started that are alive now.
 */
export function checkNoQemuLeft(): { started: () => Promise<number[]> } {
  const started = async () => runsOfTest.flatMap(pidsOf).filter(alive);
  beforeEach(() => {
    runsOfTest.length = 0;
  });
  afterEach(async () => {
    // A process ending after SIGTERM is reaped by its parent in a moment.
    for (let i = 0; i < 20 && (await started()).length; i++) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await started(), [], 'no QEMU outlives a run');
  });
  return { started };
}

export const axvisorSuite = path.join(root, 'suites', 'axvisor-fs');
export const axvisorCase = path.join(axvisorSuite, 'board-qemu-virt-aarch64-two-vms.toml');
export const axvisorBuild = path.join(axvisorSuite, 'build-aarch64-unknown-none-softfloat.toml');
export const vmConfigsDir = path.join(root, 'fixtures', 'axvisor', 'configs', 'vms');
export const guestsDir = path.join(root, 'fixtures', 'axvisor', 'guests');
export const VM_FILES = {
  arceos: 'arceos-aarch64-qemu-virt-smp1.toml',
  nimbos: 'nimbos-aarch64-qemu-virt-smp1.toml',
} as const;

export interface AxvisorSetup {
  /** The suite folder: the case and its build config. */
  suite: string;
  caseFile: string;
  buildFile: string;
  /** The Axvisor workspace: configs/vms/*.toml. */
  ws: string;
  vmFile: (name: keyof typeof VM_FILES) => string;
}

/**
 * suites/axvisor-fs copied into a temporary folder (its case, its build config, and the
 * VM configs in a workspace of their own), each file changeable, paths made absolute.
 */
export function axvisorSetup(
  o: {
    case?: (d: any) => void;
    build?: (d: any) => void;
    vms?: Partial<Record<keyof typeof VM_FILES, (d: any) => void>>;
  } = {},
): AxvisorSetup {
  const top = tmpDir('hil-axvisor-');
  const suite = path.join(top, 'suite');
  const ws = path.join(top, 'ws');
  const vmDir = path.join(ws, 'configs', 'vms');
  mkdirSync(suite, { recursive: true });
  mkdirSync(vmDir, { recursive: true });
  for (const [name, file] of Object.entries(VM_FILES))
    deriveToml(path.join(vmConfigsDir, file), o.vms?.[name as keyof typeof VM_FILES] ?? (() => {}), vmDir);
  const buildFile = deriveToml(axvisorBuild, o.build ?? (() => {}), suite);
  const caseFile = deriveToml(
    axvisorCase,
    (d) => {
      d.images.kernel = path.join(root, 'fixtures', 'hello', 'axvisor-standin.Image');
      d.axvisor.workspace = ws;
      d.axvisor.guest_image_dirs = [guestsDir];
      o.case?.(d);
    },
    suite,
  );
  return { suite, caseFile, buildFile, ws, vmFile: (n) => path.join(vmDir, VM_FILES[n]) };
}

/** Waits for `cond` to hold, however long the machine takes (the test's own timeout bounds
 * it): an event the test cannot subscribe to (a process ending, a file appearing), never a
 * fixed time window that a busy machine would miss. */
export async function until(cond: () => boolean, what: string, everyMs = 20): Promise<void> {
  const started = Date.now();
  while (!cond()) {
    await new Promise((r) => setTimeout(r, everyMs));
    // A hint for the test's timeout message, not a limit.
    if (Date.now() - started > 600_000) throw new Error(`still waiting for ${what}`);
  }
}
