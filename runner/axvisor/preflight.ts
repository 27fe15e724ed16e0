// Preflight: the misalignments that, by the Axvisor development guide's own account, are
// why Axvisor usually fails to start (a build config for another board, an empty
// vm_configs, a kernel_path with nothing behind it, an entry point or load address that
// does not fit the VM's memory) and their relatives, found in milliseconds before the
// board is touched. Each finding names the file and the key.
import { existsSync, statSync } from 'node:fs';
import type { Board } from '../config/board.js';
import { shown } from '../config/paths.js';
import { targetArch } from './build-config.js';
import type { Finding } from './findings.js';
import type { AxvisorPlan, PlannedVm } from './plan.js';
import { addr, hostRange, range, type MemoryRegion, type VmConfig } from './vm-config.js';

/** SoC and board words that appear in feature names and VM config file names. */
const BOARD_WORDS = [['rk3568'], ['rk3588'], ['e2000', 'phytium'], ['a1000'], ['s100'], ['tac_e400', 'tac-e400']];

export function preflight(plan: AxvisorPlan, board: Board): Finding[] {
  const f = plan.findings;
  const identity = [board.name, ...board.aliases, board.soc, board.description].join(' ').toLowerCase();
  const foreign = (text: string) =>
    BOARD_WORDS.find(
      (words) => words.some((w) => text.toLowerCase().includes(w)) && !words.some((w) => identity.includes(w)),
    );

  const b = plan.build;
  if (b) {
    const where = shown(b.file);
    if (!b.target) f.warn(where, 'target', `not set: cannot check that the build is for ${board.arch}`);
    else if (board.archKnown !== false && targetArch(b.target) !== board.arch) {
      f.error(
        where,
        'target',
        `"${b.target}" builds for ${targetArch(b.target)}, but board ${board.name} is ${board.arch}: use the build config for this board (cargo axvisor defconfig <board>)`,
      );
    }
    for (const feat of b.features) {
      const words = foreign(feat);
      if (words)
        f.warn(
          where,
          'features',
          `"${feat}" is for ${words[0].toUpperCase()}, but the board is ${board.name} (${board.soc}): is this the intended board's build config?`,
        );
    }
  }

  const ids = new Map<number, VmConfig>();
  for (const vm of plan.vms) {
    const c = vm.config;
    const where = shown(c.file);
    const dup = ids.get(c.id);
    if (dup) f.error(where, 'base.id', `VM id ${c.id} is also the id of ${shown(dup.file)}: every VM needs its own id`);
    ids.set(c.id, c);
    const words = foreign(c.file.split('/').pop()!);
    if (words)
      f.warn(
        where,
        '',
        `the file name says ${words[0].toUpperCase()}, but the board is ${board.name}: is this VM config meant for this board?`,
      );
    checkCpus(c, f.error.bind(f), f.warn.bind(f));
    checkCpuSets(c, f.error.bind(f));
    checkImages(vm, plan, board, f.error.bind(f), f.note.bind(f));
    checkMemory(vm, f.error.bind(f), f.warn.bind(f), f.note.bind(f));
  }
  checkSharedRegions(plan, f.error.bind(f));
  return f.all;
}

type Report = (file: string, key: string, message: string) => void;

function checkCpus(c: VmConfig, error: Report, warn: Report): void {
  const where = shown(c.file);
  if (!c.physCpuIds) return;
  if (c.cpuNum > c.physCpuIds.length) {
    error(
      where,
      'base.cpu_num',
      `${c.cpuNum} vCPUs but phys_cpu_ids lists ${c.physCpuIds.length} (${c.physCpuIds.map(addr).join(', ')}): give each vCPU a physical CPU, or lower cpu_num`,
    );
  }
  if (new Set(c.physCpuIds).size !== c.physCpuIds.length)
    warn(where, 'base.phys_cpu_ids', 'lists a physical CPU twice');
}

function checkCpuSets(c: VmConfig, error: Report): void {
  // axvmconfig: "It will phrase an error if the number of vCpus is not equal to the length of phys_cpu_sets".
  if (c.physCpuSets && c.physCpuSets.length !== c.cpuNum) {
    error(
      shown(c.file),
      'base.phys_cpu_sets',
      `${c.physCpuSets.length} CPU set(s) for ${c.cpuNum} vCPU(s): Axvisor wants one set per vCPU`,
    );
  }
}

/** Characters U-Boot's shell would take for its own (quotes, `$`, `;`, spaces...). */
/** What U-Boot's fatwrite refuses in a file or folder name (fs/fat/fat_write.c,
 * normalize_longname): `<>:"\|?*`, control characters (which cannot be typed at its prompt
 * either), a trailing dot. Blanks, quotes and `$` are fine: the runner quotes names for
 * U-Boot's shell (runner/uboot/driver.ts, hushQuote). */
const fatUnwritable = (boardPath: string) =>
  boardPath.split('/').some((part) => part !== '' && (/[\x00-\x1f\x7f<>:"\\|?*]/.test(part) || part.endsWith('.')));

function checkImages(vm: PlannedVm, plan: AxvisorPlan, board: Board, error: Report, note: Report): void {
  const c = vm.config;
  const where = shown(c.file);
  if (c.imageLocation !== 'fs' && c.imageLocation !== 'memory') {
    error(where, 'kernel.image_location', `"${c.imageLocation}" is neither "memory" nor "fs"`);
    return;
  }
  const hint = (p: string) =>
    `map it in the case's or the board's [axvisor.guest_images] ("${p}" = "<host file>") or put it in a guest_image_dirs folder`;
  for (const f of vm.files) {
    if (c.imageLocation === 'fs') {
      if (!plan.deploy) continue;
      if (!f.host)
        error(
          where,
          f.key,
          `no host file for "${f.boardPath}", so it cannot be deployed to the board: ${hint(f.boardPath)}, or set deploy = false in [axvisor] if the board's storage already holds it`,
        );
      else if (!existsSync(f.host))
        error(where, f.key, `"${f.boardPath}" maps to ${shown(f.host)}, which does not exist`);
      else if (fatUnwritable(f.boardPath))
        error(
          where,
          f.key,
          `"${f.boardPath}" is a name U-Boot's fatwrite refuses (<>:"\\|?*, a control character, or a trailing dot); rename the file on the board`,
        );
    } else if (!f.host) {
      // A "memory" guest is built into the hypervisor image from this path, beside the VM config.
      const say = plan.willBuild ? error : note;
      say(
        where,
        f.key,
        `"${f.boardPath}" is not on this machine (looked beside ${shown(c.file)}): the build embeds it into the hypervisor image`,
      );
    }
  }
  if (c.imageLocation === 'fs' && plan.deploy && !board.storage) {
    error(
      where,
      'kernel.image_location',
      `"fs" guests are deployed to the board's storage, but board ${board.name} has no [storage] table (interface, ` +
        `device, partition); add one, or set deploy = false in [axvisor] if the card already holds the images`,
    );
  }
  if (c.imageLocation === 'fs' && !plan.deploy) {
    note(
      where,
      'kernel.kernel_path',
      `not deployed by this run: the board's storage must already hold "${c.kernelPath}"${c.ramdiskPath ? ` and "${c.ramdiskPath}"` : ''}`,
    );
  }
  if (c.dtbPath && c.dtbLoadAddr === undefined)
    error(
      where,
      'kernel.dtb_load_addr',
      `dtb_path is "${c.dtbPath}" but dtb_load_addr is not set: Axvisor has nowhere to put the DTB`,
    );
  // dtb_load_addr without dtb_path is fine: Axvisor then builds the guest's DTB from the host's.
  if (c.ramdiskPath && c.ramdiskLoadAddr === undefined)
    error(
      where,
      'kernel.ramdisk_load_addr',
      `ramdisk_path is "${c.ramdiskPath}" but ramdisk_load_addr is not set: Axvisor has nowhere to load it ("Ramdisk load addr is missed")`,
    );
}

const within = (a: number, r: MemoryRegion) => a >= r.base && a < r.base + r.size;
const sizeOf = (file?: string) => (file && existsSync(file) ? statSync(file).size : undefined);

function checkMemory(vm: PlannedVm, error: Report, warn: Report, note: Report): void {
  const c = vm.config;
  const where = shown(c.file);
  const listKey = c.format === 'machine' ? 'memory.regions' : 'kernel.memory_regions';
  const listName = c.format === 'machine' ? '[[memory.regions]]' : 'memory_regions';
  // An identity-allocate region's guest_base is a placeholder, not the range [0, size): its
  // address is the host RAM Axvisor allocates at run time, so only fixed regions are checked.
  const regions = c.memoryRegions.filter((r) => !r.placeholder);
  const runtime = c.memoryRegions.length > regions.length;
  if (c.memoryRegions.length === 0) {
    note(where, listKey, 'empty: the load addresses cannot be checked (the memory comes from the device tree?)');
    return;
  }
  if (regions.length === 0) {
    note(
      where,
      listKey,
      'identity-allocate RAM only: its address is chosen when the VM is created (GPA = HPA), so the load addresses are checked then, not here',
    );
    return;
  }
  if (c.format === 'machine') {
    for (let i = 0; i < regions.length; i++)
      for (let j = i + 1; j < regions.length; j++) {
        const [a, b] = [regions[i], regions[j]];
        if (a.base < b.base + b.size && b.base < a.base + a.size)
          error(
            where,
            b.key ?? listKey,
            `${range(b.base, b.size)} overlaps ${a.key} ${range(a.base, a.size)}: fixed guest memory regions of one VM must not overlap`,
          );
      }
  }
  const list = regions.map((r) => range(r.base, r.size)).join(', ');
  const place = (key: string, a: number | undefined, size: number | undefined, what: string) => {
    if (a === undefined) return;
    const r = regions.find((x) => within(a, x));
    if (!r && runtime) {
      note(
        where,
        key,
        `${addr(a)} is in no fixed region (${list}): it must fall in the identity-allocated RAM, whose address is chosen at run time`,
      );
    } else if (!r) {
      error(
        where,
        key,
        `${addr(a)} is outside every ${listName} entry (${list}): the ${what} would land in memory the VM does not have`,
      );
    } else if (size !== undefined && a + size > r.base + r.size) {
      error(
        where,
        key,
        `the ${what} (${size} bytes at ${addr(a)}) runs past the end of its region ${range(r.base, r.size)} by ${a + size - (r.base + r.size)} bytes`,
      );
    }
  };
  const hostOf = (role: string) => vm.files.find((f) => f.role === role)?.host;
  const kernelSize = sizeOf(hostOf('guest'));
  place('kernel.entry_point', c.entryPoint, undefined, 'entry point');
  place('kernel.kernel_load_addr', c.kernelLoadAddr, kernelSize, 'kernel image');
  place('kernel.dtb_load_addr', c.dtbLoadAddr, sizeOf(hostOf('dtb')), 'DTB');
  place('kernel.ramdisk_load_addr', c.ramdiskLoadAddr, sizeOf(hostOf('ramdisk')), 'ramdisk');
  const load = c.kernelLoadAddr;
  if (
    c.entryPoint !== undefined &&
    load !== undefined &&
    kernelSize !== undefined &&
    (c.entryPoint < load || c.entryPoint >= load + kernelSize)
  ) {
    warn(
      where,
      'kernel.entry_point',
      `${addr(c.entryPoint)} is not inside the loaded image (${range(load, kernelSize)}): check it against the image's link address`,
    );
  }
  const dtbSize = sizeOf(hostOf('dtb'));
  if (
    load !== undefined &&
    kernelSize !== undefined &&
    c.dtbLoadAddr !== undefined &&
    dtbSize !== undefined &&
    c.dtbLoadAddr < load + kernelSize &&
    load < c.dtbLoadAddr + dtbSize
  ) {
    error(
      where,
      'kernel.dtb_load_addr',
      `the DTB at ${range(c.dtbLoadAddr, dtbSize)} overlaps the kernel image at ${range(load, kernelSize)}`,
    );
  }
}

/** Identity-mapped regions (and the next format's `host` and `reserved` backings) are host
 * memory: two VMs must not both take the same range unless the case says they share it.
 * (MAP_ALLOC regions, `allocate` and `identity-allocate` backings are memory the hypervisor
 * allocates, so equal guest addresses in two VMs do not collide; `shared` says it is shared.) */
function checkSharedRegions(plan: AxvisorPlan, error: Report): void {
  const shared = plan.settings.shared_regions;
  const isShared = (a: number, b: number) => shared.some(([base, size]) => a >= base && b <= base + size);
  const fixed = plan.vms.flatMap((vm) =>
    vm.config.memoryRegions.flatMap((region) => {
      const r = hostRange(region);
      return r ? [{ vm: vm.config, r, key: region.backing ? region.key! : 'kernel.memory_regions' }] : [];
    }),
  );
  for (let i = 0; i < fixed.length; i++) {
    for (let j = i + 1; j < fixed.length; j++) {
      const a = fixed[i];
      const b = fixed[j];
      if (a.vm === b.vm) continue;
      const lo = Math.max(a.r.base, b.r.base);
      const hi = Math.min(a.r.base + a.r.size, b.r.base + b.r.size);
      if (lo < hi && !isShared(lo, hi)) {
        error(
          shown(b.vm.file),
          b.key,
          `${range(b.r.base, b.r.size)} overlaps ${range(a.r.base, a.r.size)} of VM ${a.vm.id} "${a.vm.name}" ` +
            `(${shown(a.vm.file)}) in ${range(lo, hi - lo)}: host memory of two VMs; move one, or list the range ` +
            `in the case's [axvisor] shared_regions`,
        );
      }
    }
  }
}
