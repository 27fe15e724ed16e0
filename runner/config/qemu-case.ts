// A QEMU case in TGOSKits' format (`qemu-<arch>.toml`), run as ostool runs it (ostool 0.24
// run/qemu.rs): `qemu-system-<arch>` with the architecture of the build target; the case's
// `args`; `-machine virt` (`q35` on x86_64) unless the args name a machine; `-kernel` with
// the built image (its `.bin` when `to_bin`); with `uefi = true` the firmware in pflash
// and the image as the EFI boot file on a FAT drive instead of -kernel. Here a QEMU run
// is a guest's baseline. `${workspace}`/`${workspaceFolder}` are the TGOSKits workspace.
//
// Where we differ: QEMU's default network card needs a ROM from ipxe-qemu; a case whose
// args configure no network gets `-nic none`, so it runs without one (ostool's QEMU gets
// the default card). ostool downloads OVMF; we use Debian's (ovmf, qemu-efi-aarch64, ...)
// or HIL_UEFI_CODE / HIL_UEFI_VARS.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { OSTOOL_FAIL_PATTERNS } from './case.js';
import { expandEnvDeep } from './env.js';
import { projectRoot, shown } from './paths.js';
import { compileAll, type Pattern } from './regex.js';
import { nearestBuildWrapper } from './tree.js';
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

/** The architecture: the nearest build config's target, else the file name (qemu-<arch>*.toml). */
function archOf(file: string, doc: Record<string, unknown>): string | undefined {
  const wrapper = nearestBuildWrapper(path.dirname(file));
  for (const cfg of wrapper?.configs ?? []) {
    try {
      const t = readToml(cfg).target;
      if (typeof t === 'string' && targetArch(t)) return targetArch(t);
    } catch {
      // an unreadable build config says nothing about the architecture
    }
  }
  const m = /^qemu-(aarch64|riscv64|x86_64|loongarch64)/.exec(path.basename(file));
  if (m) return m[1];
  if (typeof doc.qemu === 'string') return doc.qemu.replace(/^qemu-system-/, '');
  return undefined;
}

const NETWORK_ARGS = new Set(['-netdev', '-nic', '-net']);

export function loadQemuCase(file: string, opts: { env?: NodeJS.ProcessEnv; workspace?: string } = {}): QemuCase {
  const where = shown(file);
  const env = opts.env ?? process.env;
  const raw = readToml(file);
  if (!isQemuCaseDoc(raw)) throw new ConfigError(`${where}: not a QEMU case (no "args"): a board case is run with \`hil run\``);
  const doc = expandEnvDeep(raw, where, env);
  const c = validate(schema, doc, where);
  const arch = archOf(file, doc);
  if (!arch && !c.qemu)
    throw new ConfigError(`${where}: cannot tell the architecture (no build-<target>.toml above it, no qemu-<arch> file name): set qemu = "qemu-system-<arch>"`);
  if (c.shell_init_cmd && !c.shell_prefix) throw new ConfigError(`${where}: shell_init_cmd: needs shell_prefix, as in ostool`);
  const workspace = opts.workspace ?? findWorkspace(path.dirname(file), env) ?? projectRoot;
  const fill = (a: string) => a.replaceAll('${workspaceFolder}', workspace).replaceAll('${workspace}', workspace);
  const args = c.args.map(fill);
  if (args.includes('-daemonize')) throw new ConfigError(`${where}: args: -daemonize would detach QEMU from the runner`);
  if (!args.includes('-machine') && !args.includes('-M')) args.push('-machine', arch === 'x86_64' || arch === 'i386' ? 'q35' : 'virt');
  if (!args.some((a) => NETWORK_ARGS.has(a))) args.push('-nic', 'none');
  const named = (flag: string) => args.filter((_, i) => args[i - 1] === flag).map((a) => path.resolve(path.dirname(file), a));
  const drives = args
    .filter((_, i) => args[i - 1] === '-drive')
    .map((d) => /(?:^|,)file=([^,]+)/.exec(d)?.[1])
    .filter((f): f is string => !!f && !f.startsWith('fat:'));
  const kernel = c.kernel ? path.resolve(path.dirname(file), fill(c.kernel)) : named('-kernel')[0];
  const failSources = [...c.fail_regex, ...OSTOOL_FAIL_PATTERNS.filter((p) => !c.fail_regex.includes(p))];
  return {
    file,
    arch: arch ?? c.qemu!.replace(/^qemu-system-/, ''),
    qemu: c.qemu ?? `qemu-system-${arch}`,
    args,
    uefi: c.uefi,
    toBin: c.to_bin,
    timeout: c.timeout ?? 0,
    images: [...named('-initrd'), ...named('-dtb'), ...named('-bios'), ...drives.map((d) => path.resolve(path.dirname(file), d))],
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
    riscv64: ['/usr/share/qemu-efi-riscv64/RISCV_VIRT_CODE.fd', '/usr/share/qemu-efi-riscv64/RISCV_VIRT_VARS.fd', 'qemu-efi-riscv64'],
  };
  const t = table[arch];
  if (!t) throw new ConfigError(`uefi = true: no UEFI firmware known for ${arch}; set HIL_UEFI_CODE and HIL_UEFI_VARS`);
  if (!existsSync(t[0])) throw new ConfigError(`uefi = true: ${t[0]} is missing: install Debian's ${t[2]}, or set HIL_UEFI_CODE and HIL_UEFI_VARS`);
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
