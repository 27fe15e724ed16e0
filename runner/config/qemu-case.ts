// A QEMU case in TGOSKits' format (`qemu-<arch>.toml`), run as ostool runs it (ostool 0.24
// run/qemu.rs): `qemu-system-<arch>` with the architecture ostool's context holds (the built
// ELF's machine, else the build config's target); the case's `args`; `-machine virt` (`q35`
// on x86_64) unless the args name a machine; `-kernel` with the built image (its `.bin`
// when `to_bin`); with `uefi = true` the firmware in pflash and the image as the EFI boot
// file on a FAT drive instead of -kernel. Here a QEMU run is a guest's baseline.
// `${workspace}`/`${workspaceFolder}` are the TGOSKits workspace.
//
// Which build a QEMU case runs, as TGOSKits' xtask pairs them (axbuild test/qemu/discovery.rs,
// starry/app/qemu.rs): `qemu-<arch>[-<variant>].toml` goes with the build config of the same
// architecture (and variant) in its build wrapper, `build-<target>[-<variant>].toml`, so
// `qemu-x86_64-vmx.toml` builds with `build-x86_64-unknown-none-vmx.toml` and
// `qemu-riscv64.toml` with `build-riscv64gc-unknown-none-elf.toml`, whatever sorts first.
// The architecture, in order: that paired build config's target; the image's ELF machine
// (ostool reads it from the built ELF); the architecture the file name names; the build
// this case is run with (`--build-config`, the wrapper's only build config, or beside
// `configs/qemu/` the `configs/board/` build config of the same name: StarryOS's
// `qemu-k230.toml` and `k230-canmv.toml`); our `qemu` key.
//
// Where we differ: QEMU's default network card needs a ROM from ipxe-qemu; a case whose
// args configure no network gets `-nic none`, so it runs without one (ostool's QEMU gets
// the default card). ostool downloads OVMF; we use Debian's (ovmf, qemu-efi-aarch64, ...)
// or HIL_UEFI_CODE / HIL_UEFI_VARS. riscv64's firmware is QEMU's own default, OpenSBI
// (`-bios default`), as under ostool.
import { closeSync, existsSync, openSync, readdirSync, readSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { OSTOOL_FAIL_PATTERNS } from './case.js';
import { expandEnvDeep } from './env.js';
import { projectRoot, shown } from './paths.js';
import { compileAll, type Pattern } from './regex.js';
import { ancestors, nearestBuildWrapper } from './tree.js';
import { findWorkspace } from './workspace.js';
import { readToml, validate } from './toml.js';

const text = z
  .string()
  .transform((s) => s.trim())
  .transform((s) => (s === '' ? undefined : s));

const schema = z
  .object({
    args: z.array(z.string()),
    uefi: z.boolean().default(false),
    to_bin: z.boolean().default(false),
    success_regex: z.array(z.string()).default([]),
    fail_regex: z.array(z.string()).default([]),
    shell_prefix: text.optional(),
    shell_init_cmd: text.optional(),
    /** Seconds; absent or 0 = no limit (ostool). */
    timeout: z.number().int().nonnegative().optional(),
    /** Ours: the emulator, when the architecture cannot be told from a build target. */
    qemu: z.string().optional(),
    /** Ours: the image booted with -kernel, relative to this file (else --image or the build). */
    kernel: z.string().optional(),
  })
  .passthrough();

export interface QemuCase {
  file: string;
  arch: string;
  /** Where the architecture came from, for the plan and the error messages. */
  archFrom: string;
  /** The build config the case runs with, when one is known (paired, given, or the only one). */
  buildConfig?: string;
  qemu: string;
  /** The command line, without the image (`imageArgs` adds it). */
  args: string[];
  uefi: boolean;
  toBin: boolean;
  success: Pattern[];
  fail: Pattern[];
  shellPrefix?: string;
  shellInitCmd?: string;
  timeout: number;
  /** Files the arguments name (kernel, initrd, dtb, drives...): their digests go into the baseline. */
  images: string[];
  /** The image the case itself names (our `kernel` key, or a -kernel in its args). */
  kernel?: string;
}

/** Whether a parsed TOML is a QEMU case (it has QEMU arguments) rather than a board case. */
export const isQemuCaseDoc = (doc: Record<string, unknown>) => Array.isArray(doc.args);

/** ostool's infer_target_arch. */
export function targetArch(target: string): string | undefined {
  const t = target.trim().split('-')[0];
  if (t === 'aarch64') return 'aarch64';
  if (t === 'riscv64' || t === 'riscv64gc') return 'riscv64';
  if (t === 'x86_64') return 'x86_64';
  if (t === 'loongarch64') return 'loongarch64';
  if (/^(arm|armv7|armv7a|armv7r|thumbv7em)$/.test(t)) return 'arm';
  if (/^i[356]86$/.test(t)) return 'i386';
  return undefined;
}

export const KNOWN_ARCHES = ['aarch64', 'riscv64', 'x86_64', 'loongarch64', 'arm', 'i386'] as const;

/** The part of a QEMU case's name after `qemu-`: `x86_64-vmx`, `riscv64`, `k230`. */
export function qemuKey(file: string): string | undefined {
  return /^\.?qemu-(.+)\.toml$/.exec(path.basename(file))?.[1];
}

/** The architecture a `qemu-<arch>[-<variant>]` name names, as xtask reads it (the first `-` part). */
export function nameArch(file: string): string | undefined {
  const key = qemuKey(file);
  const first = key?.split('-')[0];
  return first && (KNOWN_ARCHES as readonly string[]).includes(first) ? first : undefined;
}

/** A build config's target (its `target`, else its file name's), architecture and variant. */
function buildKey(file: string): { target?: string; arch?: string; variant: string } {
  const rest = /^\.?build-(.+)\.toml$/.exec(path.basename(file))?.[1] ?? '';
  let target: string | undefined;
  try {
    const t = readToml(file).target;
    if (typeof t === 'string' && t.trim()) target = t.trim();
  } catch {
    // an unreadable build config says nothing about the architecture
  }
  target ??= rest || undefined;
  const variant = target && rest.startsWith(`${target}-`) ? rest.slice(target.length + 1) : '';
  return { target, arch: target ? targetArch(target) : undefined, variant };
}

const buildConfigsIn = (dir: string): string[] => {
  try {
    return readdirSync(dir)
      .filter((f) => /^\.?build-.*\.toml$/.test(f))
      .sort()
      .map((f) => path.join(dir, f));
  } catch {
    return [];
  }
};

/** The build config TGOSKits' xtask pairs with a `qemu-<arch>[-<variant>].toml`: the nearest
 * `build-<target>[-<variant>].toml` at or above it whose architecture and variant are the
 * name's (a StarryOS app's `qemu-<arch>-<anything>.toml` goes with its plain build-<target>). */
export function pairedBuildConfig(file: string): { file: string; target: string; arch: string } | undefined {
  const key = qemuKey(file);
  if (!key) return undefined;
  for (const dir of ancestors(path.dirname(file))) {
    const builds = buildConfigsIn(dir).map((f) => ({ file: f, ...buildKey(f) }));
    const exact = builds.find((b) => b.arch && key === (b.variant ? `${b.arch}-${b.variant}` : b.arch));
    const loose = builds.find((b) => b.arch && !b.variant && key.startsWith(`${b.arch}-`));
    const hit = exact ?? loose;
    if (hit) return { file: hit.file, target: hit.target!, arch: hit.arch! };
  }
  return undefined;
}

/** ELF e_machine -> the architecture ostool's `object` crate names (and QEMU's binary suffix). */
const ELF_MACHINES: Record<number, string> = {
  3: 'i386',
  40: 'arm',
  62: 'x86_64',
  183: 'aarch64',
  243: 'riscv64',
  258: 'loongarch64',
};

/** The architecture of an ELF file (ostool reads the built ELF), or undefined for anything else. */
export function elfArch(file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const h = Buffer.alloc(20);
    if (readSync(fd, h, 0, 20, 0) < 20 || h.readUInt32BE(0) !== 0x7f454c46) return undefined;
    const machine = h[5] === 2 ? h.readUInt16BE(18) : h.readUInt16LE(18);
    const arch = ELF_MACHINES[machine];
    // EM_RISCV covers riscv32 too: only a 64-bit ELF is riscv64.
    return arch === 'riscv64' && h[4] !== 2 ? 'riscv32' : arch;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The build this case runs with when none pairs: the one given, the wrapper's only one, or
 * for `<tree>/configs/qemu/qemu-<name>.toml` the build config `<tree>/configs/board/` keeps
 * under that name (`qemu-<name>.toml`, `<name>.toml`, or the one `<name>-*.toml`). */
function buildOf(file: string, given?: string): string | undefined {
  if (given) return given;
  const wrapper = nearestBuildWrapper(path.dirname(file));
  if (wrapper?.configs.length === 1) return wrapper.configs[0];
  const key = qemuKey(file);
  if (
    !key ||
    path.basename(path.dirname(file)) !== 'qemu' ||
    path.basename(path.dirname(path.dirname(file))) !== 'configs'
  )
    return undefined;
  const boardDir = path.join(path.dirname(path.dirname(file)), 'board');
  let names: string[];
  try {
    names = readdirSync(boardDir).filter((f) => f.endsWith('.toml'));
  } catch {
    return undefined;
  }
  const exact = [`qemu-${key}.toml`, `${key}.toml`].find((n) => names.includes(n));
  // Board run configs (-board, -uboot) are not builds.
  const prefixed = names.filter((n) => n.startsWith(`${key}-`) && !/-(board|uboot)\.toml$/.test(n));
  const pick = exact ?? (prefixed.length === 1 ? prefixed[0] : undefined);
  return pick && path.join(boardDir, pick);
}

function targetOf(build: string): string | undefined {
  try {
    const t = readToml(build).target;
    return typeof t === 'string' && targetArch(t) ? t : undefined;
  } catch {
    return undefined;
  }
}

/** The architecture of a QEMU case, and where it came from (see the head of this file). */
function archOf(
  file: string,
  doc: Record<string, unknown>,
  o: { image?: string; buildConfig?: string },
): { arch?: string; from: string; buildConfig?: string } {
  const where = shown(file);
  const paired = o.buildConfig ? undefined : pairedBuildConfig(file);
  const image = o.image && elfArch(o.image);
  if (paired) {
    if (image && image !== paired.arch)
      throw new ConfigError(
        `${where}: the image ${shown(o.image!)} is a ${image} ELF, but this case goes with ${shown(paired.file)} (target ${paired.target}, ${paired.arch}): give the image that build makes`,
      );
    return { arch: paired.arch, from: `${shown(paired.file)} (target ${paired.target})`, buildConfig: paired.file };
  }
  if (image) return { arch: image, from: `the image's ELF machine (${shown(o.image!)})` };
  const named = nameArch(file);
  if (named) return { arch: named, from: `the file name (qemu-${named})`, buildConfig: buildOf(file, o.buildConfig) };
  const build = buildOf(file, o.buildConfig);
  const target = build && targetOf(build);
  if (build && target)
    return { arch: targetArch(target), from: `${shown(build)} (target ${target})`, buildConfig: build };
  if (typeof doc.qemu === 'string')
    return { arch: doc.qemu.replace(/^.*qemu-system-/, ''), from: "the case's qemu key" };
  return { from: '' };
}

const NETWORK_ARGS = new Set(['-netdev', '-nic', '-net']);

export interface QemuCaseOptions {
  env?: NodeJS.ProcessEnv;
  workspace?: string;
  /** The image the case will boot (--image): an ELF tells the architecture, as in ostool. */
  image?: string;
  /** The build config the case runs with (--build-config), when no build config pairs with it. */
  buildConfig?: string;
}

export function loadQemuCase(file: string, opts: QemuCaseOptions = {}): QemuCase {
  const where = shown(file);
  const env = opts.env ?? process.env;
  const raw = readToml(file);
  if (!isQemuCaseDoc(raw))
    throw new ConfigError(`${where}: not a QEMU case (no "args"): a board case is run with \`hil run\``);
  const doc = expandEnvDeep(raw, where, env);
  const c = validate(schema, doc, where);
  if (c.shell_init_cmd && !c.shell_prefix)
    throw new ConfigError(`${where}: shell_init_cmd: needs shell_prefix, as in ostool`);
  const workspace = opts.workspace ?? findWorkspace(path.dirname(file), env) ?? projectRoot;
  const fill = (a: string) => a.replaceAll('${workspaceFolder}', workspace).replaceAll('${workspace}', workspace);
  const args = c.args.map(fill);
  if (args.includes('-daemonize'))
    throw new ConfigError(`${where}: args: -daemonize would detach QEMU from the runner`);
  const named = (flag: string) =>
    args.filter((_, i) => args[i - 1] === flag).map((a) => path.resolve(path.dirname(file), a));
  const kernel = c.kernel ? path.resolve(path.dirname(file), fill(c.kernel)) : named('-kernel')[0];
  const { arch, from, buildConfig } = archOf(file, doc, {
    image: opts.image ?? kernel,
    buildConfig: opts.buildConfig && path.resolve(opts.buildConfig),
  });
  if (!arch)
    throw new ConfigError(
      `${where}: cannot tell the architecture: no build-<target>.toml pairs with it, the image is no ELF, the name ` +
        `is not qemu-<arch>, and no build config is given: give the build (--build-config <build-<target>.toml>) ` +
        `or the built ELF (--image), or set qemu = "qemu-system-<arch>"`,
    );
  if (!args.includes('-machine') && !args.includes('-M'))
    args.push('-machine', arch === 'x86_64' || arch === 'i386' ? 'q35' : 'virt');
  if (!args.some((a) => NETWORK_ARGS.has(a))) args.push('-nic', 'none');
  const drives = args
    .filter((_, i) => args[i - 1] === '-drive')
    .map((d) => /(?:^|,)file=([^,]+)/.exec(d)?.[1])
    .filter((f): f is string => !!f && !f.startsWith('fat:'));
  const failSources = [...c.fail_regex, ...OSTOOL_FAIL_PATTERNS.filter((p) => !c.fail_regex.includes(p))];
  return {
    file,
    arch,
    archFrom: from,
    buildConfig,
    qemu: c.qemu ?? `qemu-system-${arch}`,
    args,
    uefi: c.uefi,
    toBin: c.to_bin,
    timeout: c.timeout ?? 0,
    images: [
      ...named('-initrd'),
      ...named('-dtb'),
      ...named('-bios'),
      ...drives.map((d) => path.resolve(path.dirname(file), d)),
    ],
    kernel,
    success: compileAll(c.success_regex, `${where}: success_regex`),
    fail: compileAll(failSources, `${where}: fail_regex`),
    shellPrefix: c.shell_prefix,
    shellInitCmd: c.shell_init_cmd,
  };
}

/** Debian's UEFI firmware for an architecture (code, vars template). */
export function uefiFirmware(arch: string, env: NodeJS.ProcessEnv = process.env): { code: string; vars: string } {
  if (env.HIL_UEFI_CODE && env.HIL_UEFI_VARS) return { code: env.HIL_UEFI_CODE, vars: env.HIL_UEFI_VARS };
  const table: Record<string, [string, string, string]> = {
    x86_64: ['/usr/share/OVMF/OVMF_CODE_4M.fd', '/usr/share/OVMF/OVMF_VARS_4M.fd', 'ovmf'],
    aarch64: ['/usr/share/AAVMF/AAVMF_CODE.fd', '/usr/share/AAVMF/AAVMF_VARS.fd', 'qemu-efi-aarch64'],
    riscv64: [
      '/usr/share/qemu-efi-riscv64/RISCV_VIRT_CODE.fd',
      '/usr/share/qemu-efi-riscv64/RISCV_VIRT_VARS.fd',
      'qemu-efi-riscv64',
    ],
  };
  const t = table[arch];
  if (!t) throw new ConfigError(`uefi = true: no UEFI firmware known for ${arch}; set HIL_UEFI_CODE and HIL_UEFI_VARS`);
  if (!existsSync(t[0]))
    throw new ConfigError(
      `uefi = true: ${t[0]} is missing: install Debian's ${t[2]}, or set HIL_UEFI_CODE and HIL_UEFI_VARS`,
    );
  return { code: t[0], vars: t[1] };
}

/** The EFI boot file name ostool puts the image under (EFI/BOOT/<name>). */
export const EFI_BOOT_NAME: Record<string, string> = {
  aarch64: 'BOOTAA64.EFI',
  x86_64: 'BOOTX64.EFI',
  riscv64: 'BOOTRISCV64.EFI',
  loongarch64: 'BOOTLOONGARCH64.EFI',
  i386: 'BOOTIA32.EFI',
};
