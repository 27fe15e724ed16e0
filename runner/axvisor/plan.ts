// The Axvisor side of a case: the build config beside it, the VM configs it lists, and the
// host file of every guest image (and DTB) those configs name. Declared in the case's
// `[axvisor]` table (and the board's, for what a board's lab keeps in one place):
//
//   [axvisor]
//   build_config = "build-aarch64-unknown-none-softfloat.toml"  # default: the build-*.toml beside the case
//   workspace = "${env:TGOSKITS}/os/axvisor"    # where vm_configs are relative to and the build runs
//   guest_image_dirs = ["../images"]            # searched for each kernel_path / dtb_path
//   [axvisor.guest_images]                       # or named one by one
//   "/guest/Image" = "../images/linux-rk3568.Image"
//   [axvisor.vms.linux]                          # per-VM expectations, by VM name
//   success_regex = ["^Linux version"]
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { shown } from '../config/paths.js';
import { translateAll, type Pattern } from '../config/regex.js';
import { readBuildConfig, type BuildConfig } from './build-config.js';
import { FindingList } from './findings.js';
import { int, readVmConfig, type VmConfig } from './vm-config.js';

/** Where guest images come from: shared by the case's and the board's `[axvisor]`. */
export const guestImageKeys = {
  /** The board's path (a VM's kernel_path or dtb_path) -> a host file. */
  guest_images: z.record(z.string().min(1)).default({}),
  /** Folders searched for a board path's file name (and for the path itself below them). */
  guest_image_dirs: z.array(z.string().min(1)).default([]),
};

export const boardAxvisorSchema = z.object(guestImageKeys).strict();

export const caseAxvisorSchema = z.object({
  build_config: z.string().min(1).optional(),
  workspace: z.string().min(1).optional(),
  ...guestImageKeys,
  /** Write `image_location = "fs"` guests to the board's FAT partition before booting. */
  deploy: z.boolean().default(true),
  /** Every VM of vm_configs must be created and boot (Axvisor's log says so by id and name). */
  expect_vms: z.boolean().default(true),
  /** Identity-mapped ranges two VMs may both map on purpose: [[base, size], ...]. */
  shared_regions: z.array(z.tuple([int, int])).default([]),
  vms: z.record(z.object({
    success_regex: z.array(z.string()).default([]),
    fail_regex: z.array(z.string()).default([]),
  }).strict()).default({}),
  /** The users' own build, run before the board is powered. */
  build: z.object({
    command: z.string().min(1).default('cargo'),
    /** `--config <build_config>` and one `--vmconfigs <file>` per VM config are added. */
    args: z.array(z.string()).default(['axvisor', 'build']),
    /** The image the build writes (relative to the workspace); loaded as the kernel. */
    output: z.string().min(1).optional(),
    timeout: z.number().positive().default(1800),
  }).strict().optional(),
}).strict();

export type CaseAxvisor = z.infer<typeof caseAxvisorSchema>;
export type BoardAxvisor = z.infer<typeof boardAxvisorSchema>;

export interface PlannedVm {
  config: VmConfig;
  /** Host files of the guest image and its DTB, when found. */
  kernel?: string;
  dtb?: string;
  success: Pattern[];
  fail: Pattern[];
}

export interface AxvisorPlan {
  caseFile: string;
  workspace: string;
  build?: BuildConfig;
  /** The VM configs' files, resolved, in vm_configs order. */
  vmConfigFiles: string[];
  vms: PlannedVm[];
  settings: CaseAxvisor;
  findings: FindingList;
}

/** Where the images come from: a case's and a board's lookup, the case's first. */
export interface ImageSources {
  tables: { map: Record<string, string>; dir: string }[];
  dirs: string[];
}

export function imageSources(caseFile: string, c: CaseAxvisor, boardFile?: string, b?: BoardAxvisor): ImageSources {
  const cdir = path.dirname(caseFile);
  const bdir = boardFile ? path.dirname(boardFile) : cdir;
  return {
    tables: [{ map: c.guest_images, dir: cdir }, ...(b ? [{ map: b.guest_images, dir: bdir }] : [])],
    dirs: [...c.guest_image_dirs.map((d) => path.resolve(cdir, d)), ...(b?.guest_image_dirs ?? []).map((d) => path.resolve(bdir, d))],
  };
}

/** The host file for a path on the board, or undefined. */
export function findHostImage(boardPath: string, src: ImageSources): string | undefined {
  for (const t of src.tables) if (t.map[boardPath]) return path.resolve(t.dir, t.map[boardPath]);
  const rel = boardPath.replace(/^\/+/, '');
  for (const d of src.dirs) {
    for (const candidate of [path.join(d, rel), path.join(d, path.basename(rel))]) {
      if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
    }
  }
  return undefined;
}

function defaultBuildConfig(caseFile: string): string {
  const dir = path.dirname(caseFile);
  const found = readdirSync(dir).filter((f) => /^build-.*\.toml$/.test(f) || f === '.build.toml');
  const where = `${shown(caseFile)}: axvisor.build_config`;
  if (found.length === 0) throw new ConfigError(`${where}: no build-*.toml beside the case; name the build config (build_config = "...")`);
  if (found.length > 1) throw new ConfigError(`${where}: ${found.join(', ')} are all beside the case; name the one this case uses`);
  return path.join(dir, found[0]);
}

/** Reads the Axvisor side of a case. Missing or broken files become findings. */
export function planAxvisor(caseFile: string, settings: CaseAxvisor, board?: { file: string; axvisor?: BoardAxvisor }): AxvisorPlan {
  const findings = new FindingList();
  const dir = path.dirname(caseFile);
  const caseWhere = shown(caseFile);
  const buildFile = settings.build_config ? path.resolve(dir, settings.build_config) : defaultBuildConfig(caseFile);
  const workspace = settings.workspace ? path.resolve(dir, settings.workspace) : path.dirname(buildFile);
  const plan: AxvisorPlan = { caseFile, workspace, vmConfigFiles: [], vms: [], settings, findings };
  if (settings.workspace && !existsSync(workspace)) findings.error(caseWhere, 'axvisor.workspace', `${shown(workspace)} does not exist`);
  if (!existsSync(buildFile)) {
    findings.error(caseWhere, 'axvisor.build_config', `${shown(buildFile)} does not exist (the build config whose vm_configs this case boots)`);
    return plan;
  }
  plan.build = readBuildConfig(buildFile, findings);
  const listed = plan.build?.vmConfigs;
  if (!plan.build) return plan;
  const buildWhere = shown(buildFile);
  if (!listed || listed.length === 0) {
    findings.error(buildWhere, 'vm_configs', `${listed ? 'empty' : 'missing'}: Axvisor would start no VM; list the VM configs (vm_configs = ["configs/vms/<guest>.toml"])`);
    return plan;
  }
  const src = imageSources(caseFile, settings, board?.file, board?.axvisor);
  listed.forEach((p, i) => {
    // vm_configs are relative to the workspace `cargo axvisor` runs in; also accepted
    // relative to the build config itself.
    const file = [path.resolve(workspace, p), path.resolve(path.dirname(buildFile), p)].find((f) => existsSync(f));
    if (!file) {
      findings.error(buildWhere, `vm_configs[${i}]`, `${p} does not exist (looked in ${shown(workspace)}${settings.workspace ? '' : '; set axvisor.workspace to the folder vm_configs are relative to'})`);
      return;
    }
    plan.vmConfigFiles.push(file);
    const vm = readVmConfig(file, findings);
    if (!vm) return;
    plan.vms.push({ config: vm, ...hostFiles(vm, src, workspace), success: [], fail: [] });
  });
  for (const [name, p] of Object.entries(settings.vms)) {
    const vm = plan.vms.find((v) => v.config.name === name || String(v.config.id) === name);
    const key = `axvisor.vms.${name}`;
    if (!vm) {
      // A VM config that could not be read has its own finding already.
      if (plan.vms.length < listed.length) continue;
      findings.error(caseWhere, key, `no VM named "${name}" in vm_configs (VMs: ${plan.vms.map((v) => v.config.name).join(', ') || 'none'})`);
      continue;
    }
    vm.success = translateAll(p.success_regex, `${caseWhere}: ${key}.success_regex`);
    vm.fail = translateAll(p.fail_regex, `${caseWhere}: ${key}.fail_regex`);
  }
  return plan;
}

/** Finds a VM's images on the host: fs guests by the board path, memory guests (built
 * into the hypervisor image) by kernel_path on the build machine, relative to the workspace. */
function hostFiles(vm: VmConfig, src: ImageSources, workspace: string): { kernel?: string; dtb?: string } {
  const find = (p: string) => (vm.imageLocation === 'fs' ? findHostImage(p, src) : [path.resolve(workspace, p)].find((f) => existsSync(f)) ?? findHostImage(p, src));
  return { kernel: find(vm.kernelPath), dtb: vm.dtbPath ? find(vm.dtbPath) : undefined };
}
