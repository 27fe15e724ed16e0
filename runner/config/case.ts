// A board case in TGOSKits' format (test-suit/**/board-<board>.toml), read unchanged and
// with ostool's meaning of every key (ostool 0.24 board/config.rs BoardRunConfig, the
// version TGOSKits pins; run/uboot.rs for how they are used):
//   board_type        the board the case is for (ostool leases by it)
//   success_regex     Rust patterns; any one decides a pass
//   fail_regex        Rust patterns, checked first; ostool's own `(?i)\bpanic(?:ked)?\b` and
//                     `(?i)kernel panic` are always added
//   shell_prefix      text whose appearance anywhere in the output means "the shell is up"
//   shell_init_cmd    typed once shell_prefix appeared (needs shell_prefix)
//   timeout           seconds from the boot command to the verdict; 0 = no limit
//   uboot_cmd         U-Boot commands run before the boot (ostool runs them right after
//                     reaching the prompt)
//   dtb_file          the device tree packed with the kernel
//   kernel_load_addr, fit_load_addr, bootm_addr   the FIT image's addresses (bootm)
//   server, port      the ostool-server board pool (used by a board of power kind
//                     "ostool-server"; a board the runner drives itself ignores them)
// Strings are trimmed and an empty one is absent, as ostool normalises them. Board-case
// values override an ostool run config's (board.caseDefaults) as ostool merges them.
//
// Our own keys, next to theirs: [images] (what to load, when nothing is built),
// load_method, qemu_case and baseline*, [axvisor], [[storage_write]], metrics, boot_silence.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { caseAxvisorSchema, type CaseAxvisor } from './axvisor-settings.js';
import { CPU_RULES, DEFAULT_RULES, type NormalizeRule } from './normalize-rules.js';
import type { OstoolDefaults } from './ostool.js';
import { buildSchema, type BuildSettings } from './build-settings.js';
import { expandEnvDeep } from './env.js';
import { projectRoot, shown } from './paths.js';
import { compileAll, type Pattern } from './regex.js';
import { readToml, validate } from './toml.js';
import { findUp } from './tree.js';

/** ostool's output_matcher.rs DEFAULT_FAIL_PATTERNS: added to every case's failures. */
export const OSTOOL_FAIL_PATTERNS = ['(?i)\\bpanic(?:ked)?\\b', '(?i)kernel panic'];

/** ostool trims strings; an empty one is absent. */
const text = z
  .string()
  .transform((s) => s.trim())
  .transform((s) => (s === '' ? undefined : s));
const addr = z
  .union([z.string(), z.number().int().nonnegative()])
  .transform((v) => (typeof v === 'number' ? `0x${v.toString(16)}` : v.trim() || undefined));

export const caseSchema = z
  .object({
    board_type: text.optional(),
    success_regex: z.array(z.string()).default([]),
    fail_regex: z.array(z.string()).default([]),
    shell_prefix: text.optional(),
    shell_init_cmd: text.optional(),
    /** Seconds from the boot command to the verdict; 0 = no limit (ostool's meaning). */
    timeout: z.number().int().nonnegative().optional(),
    /** Seconds with no console output at all after U-Boot's hand-off that end the case as
     * a timeout naming the last line (a boot gone silent after "Starting kernel"), rather
     * than waiting out `timeout`. Shorter than `timeout`. */
    boot_silence: z.number().positive().optional(),
    /** U-Boot commands run at the prompt before the boot; empty ones are dropped. */
    uboot_cmd: z
      .array(z.string())
      .transform((cmds) => cmds.map((c) => c.trim()).filter(Boolean))
      .optional(),
    dtb_file: text.optional(),
    kernel_load_addr: addr.optional(),
    fit_load_addr: addr.optional(),
    bootm_addr: addr.optional(),
    server: text.optional(),
    port: z.number().int().min(1).max(65535).optional(),
    /** Load method(s) for this case, overriding the board's `load.methods`. */
    load_method: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
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
    storage_write: z
      .array(
        z
          .object({
            image: z.string().min(1),
            offset: z.number().int().nonnegative(),
          })
          .strict(),
      )
      .default([]),
    /** Lines whose numeric key=value fields are kept as metrics, besides the `*_RESULT` lines. */
    metrics: z.array(z.string()).default([]),
    /** Runs that end as lab errors may be run again this many times (never a failure);
     * default: the board's `retries`. */
    retries: z.number().int().nonnegative().optional(),
    /** How the case's image is built, when not TGOSKits' default (build/tgoskits.ts). */
    build: buildSchema.optional(),
    /** What to load when the case is not built: paths relative to this file. */
    images: z
      .object({
        kernel: z.string().min(1),
        initrd: z.string().min(1).optional(),
        dtb: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .passthrough();

/** Keys the ecosystem's files carry that a board case does not use. */
const ECOSYSTEM_KEYS = new Set(['to_bin', 'uefi', 'serial', 'baud_rate']);

export interface CaseImages {
  kernel: string;
  initrd?: string;
  dtb?: string;
}

export interface CaseBaseline {
  qemuCase: string;
  mode: 'report' | 'require';
  markers: Pattern[];
  rules: NormalizeRule[];
}

export interface FitAddresses {
  kernel_load_addr?: string;
  fit_load_addr?: string;
  bootm_addr?: string;
}

export interface TomlCase {
  kind: 'toml';
  /** TGOSKits' name: `<case folder>/<board>` (see config/suite.ts). */
  name: string;
  file: string;
  boardType?: string;
  /** ostool-server's address, when the case names one (a pool board uses it). */
  server?: string;
  port?: number;
  /** The board the file name names (`board-<board>.toml`), TGOSKits' discovery key. */
  fileBoard?: string;
  success: Pattern[];
  /** The case's own failure patterns, then ostool's defaults. */
  fail: Pattern[];
  shellPrefix?: string;
  shellInitCmd?: string;
  /** Seconds from the boot command to the verdict; 0 = none; undefined = the board's. */
  timeout?: number;
  /** Seconds of console silence after the hand-off that end the case (a timeout). */
  bootSilence?: number;
  ubootCmd?: string[];
  /** The case's own [images] (paths resolved). */
  images?: CaseImages;
  /** dtb_file, resolved against the case's folder. */
  dtbFile?: string;
  fit: FitAddresses;
  loadMethods?: string[];
  baseline?: CaseBaseline;
  axvisor?: CaseAxvisor;
  build?: BuildSettings;
  storageWrites: { image: string; offset: number }[];
  metrics: Pattern[];
  retries?: number;
  /** Keys neither ostool nor the runner knows (listed by --dry-run). */
  unknownKeys: string[];
  warnings: string[];
}

export interface SpecCase {
  kind: 'spec';
  name: string;
  file: string;
}

export type Case = TomlCase | SpecCase;

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

/** Reads one case file. `defaults` are an ostool run config's, used where the case is silent. */
export function loadCase(
  file: string,
  opts: { env?: NodeJS.ProcessEnv; name?: string; defaults?: OstoolDefaults } = {},
): TomlCase {
  const where = shown(file);
  const doc = expandEnvDeep(readToml(file), where, opts.env);
  if (Array.isArray(doc.args)) {
    throw new ConfigError(
      `${where}: this is a QEMU case (it has QEMU "args"), not a board case: name it as a case's qemu_case, or ` +
        `record its baseline with \`hil baseline record --qemu-case ${where} --image <built image>\``,
    );
  }
  const c = validate(caseSchema, doc, where);
  const unknownKeys = Object.keys(doc).filter((k) => !(k in caseSchema.shape) && !ECOSYSTEM_KEYS.has(k));
  const warnings = unknownKeys.map(
    (k) => `${where}: ${k}: unknown key, ignored (neither ostool nor the runner reads it)`,
  );
  if (c.shell_init_cmd && !c.shell_prefix) {
    throw new ConfigError(
      `${where}: shell_init_cmd: needs shell_prefix (the text that says the guest's shell is up), as in ostool`,
    );
  }
  const timeout = c.timeout ?? opts.defaults?.timeout;
  if (c.boot_silence !== undefined && timeout !== undefined && timeout > 0 && c.boot_silence >= timeout) {
    throw new ConfigError(
      `${where}: boot_silence: ${c.boot_silence} s is not shorter than the case's timeout (${timeout} s): it could never end the case first`,
    );
  }
  if (c.success_regex.length === 0)
    warnings.push(`${where}: success_regex: empty: the case can never pass (only fail or time out)`);
  const d = opts.defaults;
  const dir = path.dirname(file);
  const images = c.images && {
    kernel: resolveImage(dir, c.images.kernel, `${where}: images.kernel`),
    initrd: c.images.initrd && resolveImage(dir, c.images.initrd, `${where}: images.initrd`),
    dtb: c.images.dtb && resolveImage(dir, c.images.dtb, `${where}: images.dtb`),
  };
  const dtbFile = c.dtb_file ?? d?.dtb_file;
  const failSources = [...c.fail_regex, ...OSTOOL_FAIL_PATTERNS.filter((p) => !c.fail_regex.includes(p))];
  const stem = path.basename(file, '.toml');
  return {
    kind: 'toml',
    name: opts.name ?? stem,
    file,
    boardType: c.board_type,
    server: c.server,
    port: c.port,
    fileBoard: stem.startsWith('board-') ? stem.slice(6) : undefined,
    success: compileAll(c.success_regex, `${where}: success_regex`),
    fail: [
      ...compileAll(c.fail_regex, `${where}: fail_regex`),
      ...compileAll(failSources.slice(c.fail_regex.length), "ostool's default fail_regex"),
    ],
    shellPrefix: c.shell_prefix,
    shellInitCmd: c.shell_init_cmd,
    timeout,
    bootSilence: c.boot_silence,
    ubootCmd: c.uboot_cmd?.length ? c.uboot_cmd : undefined,
    images,
    dtbFile: dtbFile ? resolveDtb(file, dtbFile, `${where}: dtb_file`) : undefined,
    fit: {
      kernel_load_addr: c.kernel_load_addr ?? d?.kernel_load_addr,
      fit_load_addr: c.fit_load_addr ?? d?.fit_load_addr,
      bootm_addr: c.bootm_addr ?? d?.bootm_addr,
    },
    loadMethods: c.load_method === undefined ? undefined : ([] as string[]).concat(c.load_method),
    baseline:
      c.qemu_case === undefined
        ? undefined
        : {
            qemuCase: resolveQemuCase(dir, c.qemu_case, `${where}: qemu_case`),
            mode: c.baseline,
            markers: compileAll(
              c.baseline_markers ?? c.success_regex,
              `${where}: ${c.baseline_markers ? 'baseline_markers' : 'success_regex'}`,
            ),
            rules: [...DEFAULT_RULES, ...(c.baseline_cpus_may_differ ? CPU_RULES : []), ...c.baseline_normalize],
          },
    axvisor: c.axvisor,
    build: c.build,
    storageWrites: c.storage_write.map((w, i) => ({
      image: resolveImage(dir, w.image, `${where}: storage_write[${i}].image`),
      offset: w.offset,
    })),
    metrics: compileAll(c.metrics, `${where}: metrics`),
    retries: c.retries,
    unknownKeys,
    warnings,
  };
}

/** ostool reads dtb_file relative to where it runs: TGOSKits' workspace root. So a
 * relative path is looked for from the case's folder upwards (the workspace root is one
 * of those folders), the nearest first. */
function resolveDtb(caseFile: string, p: string, where: string): string {
  if (path.isAbsolute(p)) return resolveImage(path.dirname(caseFile), p, where);
  return resolveImage(path.dirname(caseFile), findUp(path.dirname(caseFile), p) ?? p, where);
}

function resolveQemuCase(dir: string, p: string, where: string): string {
  const abs = path.resolve(dir, p);
  if (!existsSync(abs))
    throw new ConfigError(
      `${where}: ${shown(abs)} does not exist (the QEMU case TOML whose run is the baseline, relative to the case file)`,
    );
  return abs;
}

/** Whether the case asks for a FIT image (ostool boots every image that way). */
export const wantsFit = (c: TomlCase) => Boolean(c.fit.kernel_load_addr || c.fit.fit_load_addr || c.fit.bootm_addr);
