// The Axvisor side of a case: the build config above it, the VM configs that lists, and the
// host file of every guest image those configs name. Unchanged TGOSKits cases need no
// table of ours: the build config is the nearest `build-*.toml` from the case's folder up
// (TGOSKits' build wrapper), `vm_configs` are relative to the workspace root (the folder
// whose Cargo.toml has the [workspace]: the TGOSKits or axvisor checkout), and a case can
// still say more in an `[axvisor]` table (the board file may keep the lab's guest images):
//
//   [axvisor]
//   build_config = "build-aarch64-unknown-none-softfloat.toml"  # default: the build wrapper's
//   workspace = "${env:TGOSKITS}"               # default: found above the build config
//   guest_image_dirs = ["../images"]            # searched for each fs guest's files
//   [axvisor.guest_images]                       # or named one by one
//   "/guest/Image" = "../images/linux-rk3568.Image"
//   [axvisor.vms.linux]                          # per-VM expectations, by VM name
//   success_regex = ["^Linux version"]
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { shown } from '../config/paths.js';
import { compileAll, type Pattern } from '../config/regex.js';
import { ancestors, findUp, nearestBuildWrapper } from '../config/tree.js';
import { findWorkspace } from '../config/workspace.js';
import { readBuildConfig, type BuildConfig } from './build-config.js';
import { FindingList } from './findings.js';
import { readVmConfig, type VmConfig } from './vm-config.js';

export {
  boardAxvisorSchema,
  caseAxvisorSchema,
  guestImageKeys,
  type BoardAxvisor,
  type CaseAxvisor,
} from '../config/axvisor-settings.js';
import { caseAxvisorSchema, type BoardAxvisor, type CaseAxvisor } from '../config/axvisor-settings.js';

/** The files a VM needs, as the VM config names them and as found on this host. */
export interface VmFile {
  key:
    | 'kernel.kernel_path'
    | 'kernel.dtb_path'
    | 'kernel.ramdisk_path'
    | 'kernel.uefi_firmware_path'
    | 'kernel.bios_path';
  role: 'guest' | 'dtb' | 'ramdisk' | 'firmware';
  /** As written in the VM config (a path on the board, or on the build machine). */
  boardPath: string;
  host?: string;
}

export interface PlannedVm {
  config: VmConfig;
  files: VmFile[];
  success: Pattern[];
  fail: Pattern[];
}

export interface AxvisorPlan {
  caseFile: string;
  workspace?: string;
  build?: BuildConfig;
  /** The VM configs' files, resolved, in vm_configs order. */
  vmConfigFiles: string[];
  vms: PlannedVm[];
  settings: CaseAxvisor;
  deploy: boolean;
  expectVms: boolean;
  /** Whether this run builds the hypervisor (then "memory" guests must be on this host). */
  willBuild: boolean;
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
    dirs: [
      ...c.guest_image_dirs.map((d) => path.resolve(cdir, d)),
      ...(b?.guest_image_dirs ?? []).map((d) => path.resolve(bdir, d)),
    ],
  };
}

const isFile = (f: string) => existsSync(f) && statSync(f).isFile();

/** The host file for a path on the board, or undefined. */
export function findHostImage(boardPath: string, src: ImageSources): string | undefined {
  for (const t of src.tables) if (t.map[boardPath]) return path.resolve(t.dir, t.map[boardPath]);
  const rel = boardPath.replace(/^\/+/, '');
  for (const d of src.dirs) {
    for (const candidate of [path.join(d, rel), path.join(d, path.basename(rel))])
      if (isFile(candidate)) return candidate;
  }
  return undefined;
}

/** The build config a case boots: named in [axvisor], or the nearest build wrapper's. */
export function buildConfigOf(caseFile: string, settings?: Pick<CaseAxvisor, 'build_config'>): string | undefined {
  if (settings?.build_config) return path.resolve(path.dirname(caseFile), settings.build_config);
  const sibling = boardRunConfigBuild(caseFile);
  if (sibling) return sibling;
  const w = nearestBuildWrapper(path.dirname(caseFile));
  if (!w) {
    // A StarryOS app case (apps/starry/<app>/board-<board>.toml) with no build config of its
    // own builds with its board's default, os/StarryOS/configs/board/<board>.toml.
    const board = /^board-(.+)\.toml$/.exec(path.basename(caseFile))?.[1];
    return board && /[/\\]apps[/\\]starry[/\\]/.test(caseFile)
      ? findUp(path.dirname(caseFile), `os/StarryOS/configs/board/${board}.toml`)
      : undefined;
  }
  if (w.configs.length > 1) {
    throw new ConfigError(
      `${shown(caseFile)}: ${w.configs.map((f) => path.basename(f)).join(', ')} are all in ${shown(w.dir)}: TGOSKits ` +
        `wants one build config per wrapper folder; name the one this case uses ([axvisor] build_config = "...")`,
    );
  }
  return w.configs[0];
}

/** StarryOS keeps a board's run config as `configs/board/<board>-board.toml` beside the
 * build config `<board>.toml`, and TGOSKits' xtask builds the one with the other
 * (axbuild ktest: default_board_run_config / default_board_build_config). */
export function boardRunConfigBuild(caseFile: string): string | undefined {
  const board = /^(.+)-board\.toml$/.exec(path.basename(caseFile))?.[1];
  const dir = path.dirname(caseFile);
  if (!board || path.basename(dir) !== 'board' || path.basename(path.dirname(dir)) !== 'configs') return undefined;
  const build = path.join(dir, `${board}.toml`);
  return existsSync(build) ? build : undefined;
}

/** Whether a build config is Axvisor's (it lists VM configs, or lives in an Axvisor tree). */
export const isAxvisorBuild = (file: string, b?: BuildConfig) =>
  b?.vmConfigs !== undefined || /(^|[/\\])(axvisor)([/\\])/.test(file);

const LOG_AT_INFO = /^(info|debug|trace)$/i;

/** Reads the Axvisor side of a case. Missing or broken files become findings. */
export function planAxvisor(
  caseFile: string,
  caseSettings: CaseAxvisor | undefined,
  board?: { file: string; axvisor?: BoardAxvisor },
  opts: { workspace?: string } = {},
): AxvisorPlan | undefined {
  const settings = caseSettings ?? caseAxvisorSchema.parse({});
  const findings = new FindingList();
  const caseWhere = shown(caseFile);
  const buildFile = buildConfigOf(caseFile, settings);
  if (!buildFile) {
    if (!caseSettings) return undefined;
    throw new ConfigError(
      `${caseWhere}: axvisor: no build-*.toml in the case's folder or above it; name the build config (build_config = "...")`,
    );
  }
  if (!existsSync(buildFile)) {
    findings.error(
      caseWhere,
      'axvisor.build_config',
      `${shown(buildFile)} does not exist (the build config whose vm_configs this case boots)`,
    );
    return {
      caseFile,
      vmConfigFiles: [],
      vms: [],
      settings,
      deploy: false,
      expectVms: false,
      willBuild: false,
      findings,
    };
  }
  const build = readBuildConfig(buildFile, findings);
  if (!caseSettings && !isAxvisorBuild(buildFile, build)) return undefined;
  const workspace = settings.workspace
    ? path.resolve(path.dirname(caseFile), settings.workspace)
    : (opts.workspace ?? findWorkspace(path.dirname(buildFile)));
  if (settings.workspace && !existsSync(workspace!))
    findings.error(caseWhere, 'axvisor.workspace', `${shown(workspace!)} does not exist`);
  const src = imageSources(caseFile, settings, board?.file, board?.axvisor);
  const hasSources = src.dirs.length > 0 || src.tables.some((t) => Object.keys(t.map).length > 0);
  const plan: AxvisorPlan = {
    caseFile,
    workspace,
    build,
    vmConfigFiles: [],
    vms: [],
    settings,
    findings,
    deploy: settings.deploy ?? hasSources,
    expectVms: settings.expect_vms ?? (build?.log === undefined || LOG_AT_INFO.test(build.log)),
    willBuild: false,
  };
  const listed = build?.vmConfigs ?? [];
  // vm_configs are relative to the workspace root; without one found, to the nearest folder
  // above the build config that holds the path (a copy of the tree elsewhere).
  const roots = [...(workspace ? [workspace] : []), ...ancestors(path.dirname(buildFile))];
  listed.forEach((p, i) => {
    const file = path.isAbsolute(p)
      ? existsSync(p)
        ? p
        : undefined
      : roots.map((r) => path.resolve(r, p)).find(isFile);
    if (!file) {
      findings.error(
        shown(buildFile),
        `vm_configs[${i}]`,
        `${p} does not exist (looked in ${workspace ? shown(workspace) : 'the folders above the build config'}; ` +
          `vm_configs are relative to the workspace root` +
          `${settings.workspace ? '' : ': set [axvisor] workspace, or hil run --workspace'})`,
      );
      return;
    }
    plan.vmConfigFiles.push(file);
    const vm = readVmConfig(file, findings);
    if (vm) plan.vms.push({ config: vm, files: vmFiles(vm, src), success: [], fail: [] });
  });
  for (const [name, p] of Object.entries(settings.vms)) {
    const vm = plan.vms.find((v) => v.config.name === name || String(v.config.id) === name);
    const key = `axvisor.vms.${name}`;
    if (!vm) {
      // A VM config that could not be read has its own finding already.
      if (plan.vms.length < listed.length) continue;
      findings.error(
        caseWhere,
        key,
        `no VM named "${name}" in vm_configs (VMs: ${plan.vms.map((v) => v.config.name).join(', ') || 'none'})`,
      );
      continue;
    }
    vm.success = compileAll(p.success_regex, `${caseWhere}: ${key}.success_regex`);
    vm.fail = compileAll(p.fail_regex, `${caseWhere}: ${key}.fail_regex`);
  }
  return plan;
}

/**
 * The files a VM needs and where they are on this host. "memory" guests are built into the
 * hypervisor image from paths relative to the VM config's own folder (Axvisor's build.rs,
 * convert_to_absolute); "fs" guests are read by Axvisor from the board's filesystem at
 * these paths, so the host files come from the case's or the board's guest images.
 */
function vmFiles(vm: VmConfig, src: ImageSources): VmFile[] {
  const beside = path.dirname(vm.file);
  const firmware = vm.enableBios
    ? vm.bootProtocol === 'uefi' || vm.bootProtocol === 'efi'
      ? (vm.uefiFirmwarePath ?? vm.biosPath)
      : vm.biosPath
    : undefined;
  const wanted: [VmFile['key'], VmFile['role'], string | undefined][] = [
    ['kernel.kernel_path', 'guest', vm.kernelPath],
    ['kernel.dtb_path', 'dtb', vm.dtbPath],
    ['kernel.ramdisk_path', 'ramdisk', vm.ramdiskPath],
    [
      vm.uefiFirmwarePath && firmware === vm.uefiFirmwarePath ? 'kernel.uefi_firmware_path' : 'kernel.bios_path',
      'firmware',
      firmware,
    ],
  ];
  return wanted
    .filter(([, , p]) => p)
    .map(([key, role, boardPath]) => {
      const host =
        vm.imageLocation === 'memory'
          ? ([path.resolve(beside, boardPath!)].find(isFile) ?? findHostImage(boardPath!, src))
          : findHostImage(boardPath!, src);
      return { key, role, boardPath: boardPath!, host };
    });
}
