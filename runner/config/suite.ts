// A suite: a folder of cases (searched recursively), one case file, or a spec. Discovery and
// names follow TGOSKits (scripts/axbuild/src/test/board.rs, test/qemu/discovery.rs):
// - a board case is a `board-<board>.toml`; the file name names the board;
// - its build config is the nearest `build-*.toml` (exactly one in a folder) from its own
//   folder upwards: the "build wrapper";
// - its name is its folder relative to the wrapper (or, when it sits in the wrapper's own
//   folder, relative to the suite), then "/<board>": `smoke/roc-rk3568-pc-linux`,
//   `boot/orangepi-5-plus`. Several `board-orangepi-5-plus.toml` in one suite are fine.
// Our own cases (any other TOML with a board case's keys) are named by their file.
// Build configs (`build-*.toml`, `.build.toml`), QEMU cases (they have QEMU `args`), VM
// configs ([base] and [kernel]) and ostool run configs in a suite folder are not cases.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import type { OstoolDefaults } from './ostool.js';
import { loadCase, type Case } from './case.js';
import { searchDirs, shown } from './paths.js';
import { readToml } from './toml.js';
import { findUp, nearestBuildWrapper } from './tree.js';

export const isSpec = (f: string) => /\.spec\.(ts|mts|js|mjs)$/.test(f);
export const isBuildConfigName = (f: string) =>
  /^build-.*\.toml$/.test(path.basename(f)) || path.basename(f) === '.build.toml';

/** What a TOML in a suite folder is. */
export function tomlKind(file: string): 'case' | 'build' | 'qemu' | 'vm' | 'run-config' | 'other' {
  if (isBuildConfigName(file)) return 'build';
  let doc: Record<string, unknown>;
  try {
    doc = readToml(file);
  } catch {
    // A file that does not parse is reported when it is loaded as a case: a typo in a
    // user's case must never make the case silently vanish from the run.
    return 'case';
  }
  if (Array.isArray(doc.args)) return 'qemu';
  if (doc.base && doc.kernel) return 'vm';
  if (doc.name === undefined && ('serial' in doc || 'baud_rate' in doc || 'board_reset_cmd' in doc))
    return 'run-config';
  if (path.basename(file).startsWith('board-')) return 'case';
  return 'success_regex' in doc || 'board_type' in doc || 'images' in doc ? 'case' : 'other';
}

/** A suite by name (suites/<name> in the lab, then the runner's own), or a path. */
export function resolveSuite(nameOrPath: string): string {
  if (existsSync(nameOrPath)) return path.resolve(nameOrPath);
  for (const dir of searchDirs('suites')) {
    const named = path.join(dir, nameOrPath);
    for (const candidate of [named, `${named}.toml`]) if (existsSync(candidate)) return candidate;
  }
  throw new ConfigError(
    `unknown suite "${nameOrPath}": known suites are ${listSuiteNames().join(', ')} (or give a path to a folder, a case .toml or a .spec.ts)`,
  );
}

export function listSuiteNames(): string[] {
  const names = new Set<string>();
  for (const dir of searchDirs('suites')) {
    if (!existsSync(dir)) continue;
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      if (
        d.isDirectory() ||
        isSpec(d.name) ||
        (d.name.endsWith('.toml') && tomlKind(path.join(dir, d.name)) === 'case')
      )
        names.add(d.name.replace(/\.toml$/, ''));
    }
  }
  return [...names].sort();
}

/**
 * A `.spec.ts` is loaded as an ES module only inside a package that says `"type":
 * "module"`; elsewhere Node (and tsx) read it as CommonJS, and its `import ... from
 * 'axvisor-hil/spec'` cannot be resolved. Found now, not after the board is powered.
 */
function checkSpecScope(file: string): void {
  if (!file.endsWith('.ts') || file.endsWith('.mts')) return;
  const pkg = findUp(path.dirname(file), 'package.json');
  let type: unknown;
  try {
    type = pkg ? (JSON.parse(readFileSync(pkg, 'utf8')) as { type?: unknown }).type : undefined;
  } catch {
    type = undefined;
  }
  if (type !== 'module') {
    throw new ConfigError(
      `${shown(file)}: a .spec.ts is read as CommonJS here (` +
        `${pkg ? `${shown(pkg)} does not say "type": "module"` : 'no package.json above it says "type": "module"'})` +
        `, so it cannot import axvisor-hil/spec: name it .spec.mts, or add "type": "module" to the lab's ` +
        `package.json`,
    );
  }
}

/** TGOSKits' name of a board case found under `root`. */
export function tgoskitsName(file: string, root: string): string | undefined {
  const stem = path.basename(file, '.toml');
  if (!stem.startsWith('board-')) return undefined;
  const board = stem.slice(6);
  const caseDir = path.dirname(file);
  const wrapper = nearestBuildWrapper(caseDir);
  const base = wrapper && wrapper.dir !== caseDir ? wrapper.dir : root;
  const rel = path.relative(base, caseDir).split(path.sep).filter(Boolean).join('/');
  return rel ? `${rel}/${board}` : board;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => !d.name.startsWith('.') || d.name === '.build.toml')
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((d) =>
      d.isDirectory() ? (d.name === 'node_modules' ? [] : walk(path.join(dir, d.name))) : [path.join(dir, d.name)],
    );
}

export interface Suite {
  root: string;
  /** The suite's name as reports show it. */
  name: string;
  cases: Case[];
  /** TOMLs in the folder that are not cases, and why (shown by --dry-run). */
  skipped: { file: string; why: string }[];
}

const WHY: Record<string, string> = {
  build: 'a build config',
  qemu: 'a QEMU case (its baseline recipe)',
  vm: 'an Axvisor VM config',
  'run-config': 'an ostool U-Boot run config',
  other: 'not a board case',
};

/** Every case of a suite (recursively for folders, in name order), validated. */
export function loadSuite(
  nameOrPath: string,
  opts: { env?: NodeJS.ProcessEnv; defaults?: OstoolDefaults } = {},
): Suite {
  const root = resolveSuite(nameOrPath);
  const isDir = statSync(root).isDirectory();
  const files = isDir ? walk(root) : [root];
  const base = isDir ? root : path.dirname(root);
  const cases: Case[] = [];
  const skipped: Suite['skipped'] = [];
  for (const f of files) {
    if (isSpec(f)) {
      checkSpecScope(f);
      cases.push({ kind: 'spec', name: path.basename(f).replace(/\.spec\.\w+$/, ''), file: f });
      continue;
    }
    if (!f.endsWith('.toml')) continue;
    const kind = tomlKind(f);
    if (kind !== 'case') {
      if (!isDir) {
        if (kind === 'qemu') loadCase(f, opts); // says what it is
        throw new ConfigError(
          `${shown(f)} is ${WHY[kind]}, not a board case: give the case file or the folder of cases`,
        );
      }
      skipped.push({ file: f, why: WHY[kind] });
      continue;
    }
    cases.push(loadCase(f, { ...opts, name: tgoskitsName(f, base) }));
  }
  if (cases.length === 0)
    throw new ConfigError(`suite ${shown(root)} has no cases (board-*.toml, case *.toml or *.spec.ts)`);
  // Names that still collide (our own cases in two folders) take their path in the suite.
  const counts = new Map<string, number>();
  for (const c of cases) counts.set(c.name, (counts.get(c.name) ?? 0) + 1);
  for (const c of cases) {
    if ((counts.get(c.name) ?? 0) > 1) c.name = path.relative(base, c.file).replace(/\.(toml|spec\.\w+)$/, '');
  }
  return { root, name: path.basename(root).replace(/\.toml$/, ''), cases, skipped };
}
