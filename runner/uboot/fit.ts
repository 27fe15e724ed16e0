// FIT images, as ostool boots every image: the kernel (and the device tree, and an
// initramfs when there is one) packed into one Flattened Image Tree with the kernel's load
// and entry address, loaded at the FIT address and started with `bootm`. ostool writes the
// FIT with its own fitimage crate (configuration "config-ostool", an uncompressed kernel,
// the DTB at fdt_addr_r); we let U-Boot's own mkimage write it (Debian's u-boot-tools),
// the reference for the format.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, LabError } from '../errors.js';
import type { UBoot } from './driver.js';

/** mkimage's name for an architecture. */
const MKIMAGE_ARCH: Record<string, string> = {
  aarch64: 'arm64',
  riscv64: 'riscv',
  x86_64: 'x86_64',
  loongarch64: 'loongarch',
};

export function mkimagePath(): string | undefined {
  return ['/usr/bin/mkimage', '/usr/local/bin/mkimage'].find((p) => existsSync(p));
}

export function checkFitTools(arch: string): string | undefined {
  if (!mkimagePath())
    return "a FIT image is written with U-Boot's mkimage, which is not installed (Debian: u-boot-tools; scripts/setup installs it)";
  if (!MKIMAGE_ARCH[arch]) return `mkimage has no FIT architecture for ${arch}`;
  return undefined;
}

export interface FitAddresses {
  kernel: number;
  fit: number;
  bootm?: number;
  fdt?: number;
}

const hex = (n: number) => `0x${n.toString(16)}`;

/** The configuration mkimage's automatic FIT layout names. */
export const FIT_CONFIG = 'conf-1';

/**
 * ostool's address rules (run/uboot.rs): the kernel runs at kernel_load_addr, else
 * $kernel_addr_r, else $loadaddr; the FIT is loaded at fit_load_addr, else
 * $kernel_comp_addr_r, else $kernel_addr_c, else 32 MiB above the kernel rounded down to
 * 16 MiB; bootm is given bootm_addr, else the FIT's address.
 */
export async function fitAddresses(
  u: UBoot,
  given: { kernel_load_addr?: string; fit_load_addr?: string; bootm_addr?: string },
): Promise<FitAddresses> {
  const first = async (exprs: (string | undefined)[]) => {
    for (const e of exprs) {
      if (e === undefined) continue;
      const n = await u.address(e);
      if (n !== undefined) return n;
    }
    return undefined;
  };
  const kernel = await first([given.kernel_load_addr, '${kernel_addr_r}', '${loadaddr}']);
  if (kernel === undefined)
    throw new LabError(
      'load',
      "cannot tell where the kernel runs: U-Boot has no kernel_addr_r or loadaddr; set kernel_load_addr in the case or the board's [load]",
    );
  const fit =
    (await first([given.fit_load_addr, '${kernel_comp_addr_r}', '${kernel_addr_c}'])) ??
    Number((BigInt(kernel) + 0x2000000n) & 0xffff_ffff_ff00_0000n);
  const bootm = given.bootm_addr ? await u.address(given.bootm_addr) : undefined;
  const fdt = await u.address('${fdt_addr_r}');
  return { kernel, fit, bootm, fdt };
}

/** Writes `out` (image.fit) from the kernel, its DTB and initramfs. */
export function makeFit(o: {
  arch: string;
  kernel: string;
  dtb?: string;
  initrd?: string;
  at: FitAddresses;
  out: string;
}): string {
  const mkimage = mkimagePath();
  if (!mkimage || !MKIMAGE_ARCH[o.arch]) throw new ConfigError(checkFitTools(o.arch)!);
  const args = [
    '-f',
    'auto',
    '-A',
    MKIMAGE_ARCH[o.arch],
    '-O',
    'linux',
    '-T',
    'kernel',
    '-C',
    'none',
    '-a',
    hex(o.at.kernel),
    '-e',
    hex(o.at.kernel),
    '-n',
    'hil',
    '-d',
    o.kernel,
  ];
  if (o.dtb) args.push('-b', o.dtb);
  if (o.initrd) args.push('-i', o.initrd);
  args.push(o.out);
  const r = spawnSync(mkimage, args, { encoding: 'utf8' });
  if (r.status !== 0)
    throw new LabError(
      'load',
      `mkimage could not write the FIT image: ${(r.stderr || r.stdout || String(r.error)).trim().split('\n').pop()} (mkimage ${args.join(' ')})`,
    );
  return path.resolve(o.out);
}
