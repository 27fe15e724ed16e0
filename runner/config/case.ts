// A case: a TOML in the TGOSKits board-test format, read unchanged, plus an [images] table
// for what our runner loads. Board-case values override the board's defaults (as they
// override ostool's run config); serial, baud and addresses stay the board's.
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { caseAxvisorSchema, type CaseAxvisor } from '../axvisor/plan.js';
import { CPU_RULES, DEFAULT_RULES, type NormalizeRule } from '../baseline/normalize.js';
import { loadMethods } from './board.js';
import { isQemuCaseDoc, loadQemuCase } from './qemu-case.js';
import { expandEnvDeep } from './env.js';
import { projectRoot, shown } from './paths.js';
import { translateAll, type Pattern } from './regex.js';
import { readToml, validate } from './toml.js';

const caseSchema = z.object({
  board_type: z.string().optional(),
  success_regex: z.array(z.string()).min(1, 'at least one success pattern is needed, or the case can never pass'),
  fail_regex: z.array(z.string()).default([]),
  shell_prefix: z.string().min(1).optional(),
  shell_init_cmd: z.string().min(1).optional(),
  /** Seconds from power-on to verdict; 0 = no limit (the ecosystem's meaning). */
  timeout: z.number().nonnegative().optional(),
  /** Load method(s) for this case, overriding the board's `load.methods`. */
  load_method: z.union([loadMethods, z.array(loadMethods).min(1)]).optional(),
  /** Commands that replace the default load-and-boot; the last one boots. */
  uboot_cmd: z.array(z.string().min(1)).optional(),
  /** The QEMU case (TGOSKits format) whose recorded run is this case's baseline. */
  qemu_case: z.string().min(1).optional(),
  /** "report" (default): the comparison is told; "require": a missing marker, a new error
   * line, a marker out of order or far slower fails the case. */
  baseline: z.enum(['report', 'require']).default('report'),
  /** Marker lines (Rust-syntax patterns) checked for presence, order and timing; default:
   * the success patterns. */
  baseline_markers: z.array(z.string()).optional(),
  /** Extra normalisation rules, after the defaults. */
  baseline_normalize: z.array(z.object({ match: z.string(), replace: z.string().optional() }).strict()).default([]),
  /** QEMU and the board may run the guest on different CPU counts. */
  baseline_cpus_may_differ: z.boolean().default(false),
  /** Axvisor: the build config and VM configs this case boots (runner/axvisor/plan.ts). */
  axvisor: caseAxvisorSchema.optional(),
  /** Raw images written to the board's block device before booting, each read back and
   * checked: `[[storage_write]] image = "idbloader.img"  offset = 32768` (bytes). */
  storage_write: z.array(z.object({
    image: z.string().min(1),
    offset: z.number().int().nonnegative(),
  }).strict()).default([]),
  images: z.object({
    kernel: z.string().min(1),
    initrd: z.string().min(1).optional(),
    dtb: z.string().min(1).optional(),
  }).strict().optional(),
}).passthrough();

/** Keys the ecosystem's files carry that this runner reads but does not use. */
const ECOSYSTEM_KEYS = new Set(['to_bin', 'uefi', 'dtb_file', 'serial', 'baud_rate']);

export interface CaseImages { kernel: string; initrd?: string; dtb?: string }

export interface TomlCase {
  kind: 'toml';
  name: string;
  file: string;
  boardType?: string;
  success: Pattern[];
  fail: Pattern[];
  shellPrefix?: string;
  shellInitCmd?: string;
  timeout?: number;
  ubootCmd?: string[];
  images?: CaseImages;
  loadMethods?: ('tftp' | 'ymodem')[];
  baseline?: CaseBaseline;
  axvisor?: CaseAxvisor;
  storageWrites: { image: string; offset: number }[];
  warnings: string[];
}

export interface CaseBaseline {
  qemuCase: string;
  mode: 'report' | 'require';
  markers: Pattern[];
  rules: NormalizeRule[];
}

export interface SpecCase {
  kind: 'spec';
  name: string;
  file: string;
}

export type Case = TomlCase | SpecCase;

export const suitesDir = () => path.join(projectRoot, 'suites');

export function loadCase(file: string, env?: NodeJS.ProcessEnv): TomlCase {
  const where = shown(file);
  const doc = expandEnvDeep(readToml(file), where, env);
  const c = validate(caseSchema, doc, where);
  const warnings = Object.keys(doc)
    .filter((k) => !(k in caseSchema.shape) && !ECOSYSTEM_KEYS.has(k))
    .map((k) => `${where}: ${k}: unknown key, ignored`);
  if (c.shell_init_cmd && !c.shell_prefix) {
    throw new ConfigError(`${where}: shell_init_cmd: needs shell_prefix (the guest prompt to type it at)`);
  }
  const built = c.axvisor?.build?.output;
  if (!c.images && !c.uboot_cmd && !built) {
    throw new ConfigError(`${where}: images: give [images] kernel = "..." (or uboot_cmd to boot from the board's own storage, or [axvisor.build] output = "..." for the image a build writes)`);
  }
  if (c.images && built) throw new ConfigError(`${where}: images.kernel: the kernel is the build's output ([axvisor.build] output); remove one of them`);
  const dir = path.dirname(file);
  const images = c.images && {
    kernel: resolveImage(dir, c.images.kernel, `${where}: images.kernel`),
    initrd: c.images.initrd && resolveImage(dir, c.images.initrd, `${where}: images.initrd`),
    dtb: c.images.dtb && resolveImage(dir, c.images.dtb, `${where}: images.dtb`),
  };
  return {
    kind: 'toml',
    name: path.basename(file, '.toml'),
    file,
    boardType: c.board_type,
    success: translateAll(c.success_regex, `${where}: success_regex`),
    fail: translateAll(c.fail_regex, `${where}: fail_regex`),
    shellPrefix: c.shell_prefix,
    shellInitCmd: c.shell_init_cmd,
    timeout: c.timeout,
    ubootCmd: c.uboot_cmd,
    images,
    baseline: c.qemu_case === undefined ? undefined : {
      qemuCase: resolveQemuCase(dir, c.qemu_case, `${where}: qemu_case`),
      mode: c.baseline,
      markers: c.baseline_markers ? translateAll(c.baseline_markers, `${where}: baseline_markers`) : translateAll(c.success_regex, `${where}: success_regex`),
      rules: [...DEFAULT_RULES, ...(c.baseline_cpus_may_differ ? CPU_RULES : []), ...c.baseline_normalize],
    },
    axvisor: c.axvisor,
    storageWrites: c.storage_write.map((w, i) => ({ image: resolveImage(dir, w.image, `${where}: storage_write[${i}].image`), offset: w.offset })),
    loadMethods: c.load_method === undefined ? undefined : ([] as ('tftp' | 'ymodem')[]).concat(c.load_method),
    warnings,
  };
}

function resolveImage(dir: string, p: string, where: string): string {
  const abs = path.resolve(dir, p);
  if (!existsSync(abs)) {
    const hint = abs.startsWith(path.join(projectRoot, 'fixtures'))
      ? 'build the fixtures with `npm run fixtures`'
      : 'build the image or fix the path (relative to the case file)';
    throw new ConfigError(`${where}: image ${shown(abs)} does not exist; ${hint}`);
  }
  if (!statSync(abs).isFile()) throw new ConfigError(`${where}: ${shown(abs)} is not a file`);
  return abs;
}

function resolveQemuCase(dir: string, p: string, where: string): string {
  const abs = path.resolve(dir, p);
  if (!existsSync(abs)) throw new ConfigError(`${where}: ${shown(abs)} does not exist (the QEMU case TOML whose run is the baseline, relative to the case file)`);
  loadQemuCase(abs); // validated now, not after the board has run
  return abs;
}

const isSpec = (f: string) => /\.spec\.(ts|js|mjs)$/.test(f);
// TGOSKits keeps build configs (build-<target>.toml) beside its cases: not cases.
// QEMU cases (they carry QEMU `args`) are baseline recipes, not board cases.
const isCaseToml = (f: string) => f.endsWith('.toml') && !path.basename(f).startsWith('build-') && !isQemuCaseDoc(readToml(f));

/** A suite by name (suites/<name>), or a path to a folder, a case TOML or a spec. */
export function resolveSuite(nameOrPath: string): string {
  if (existsSync(nameOrPath)) return path.resolve(nameOrPath);
  const named = path.join(suitesDir(), nameOrPath);
  for (const candidate of [named, `${named}.toml`]) if (existsSync(candidate)) return candidate;
  throw new ConfigError(`unknown suite "${nameOrPath}": known suites are ${listSuiteNames().join(', ')} (or give a path to a folder, a case .toml or a .spec.ts)`);
}

export function listSuiteNames(): string[] {
  return readdirSync(suitesDir(), { withFileTypes: true })
    .filter((d) => d.isDirectory() || isCaseToml(d.name) || isSpec(d.name))
    .map((d) => d.name.replace(/\.toml$/, ''))
    .sort();
}

/** Every case of a suite (recursively for folders, in name order), validated. */
export function loadSuite(nameOrPath: string, env?: NodeJS.ProcessEnv): Case[] {
  const root = resolveSuite(nameOrPath);
  const files = statSync(root).isDirectory() ? walk(root) : [root];
  const cases = files.filter((f) => isSpec(f) || isCaseToml(f)).map((f): Case =>
    isSpec(f) ? { kind: 'spec', name: path.basename(f).replace(/\.spec\.\w+$/, ''), file: f } : loadCase(f, env));
  if (cases.length === 0) throw new ConfigError(`suite ${shown(root)} has no cases (*.toml or *.spec.ts)`);
  const seen = new Map<string, string>();
  for (const c of cases) {
    const other = seen.get(c.name);
    if (other) throw new ConfigError(`suite ${shown(root)}: two cases are named "${c.name}" (${shown(other)} and ${shown(c.file)}); rename one`);
    seen.set(c.name, c.file);
  }
  return cases;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((d) => (d.isDirectory() ? walk(path.join(dir, d.name)) : [path.join(dir, d.name)]));
}
