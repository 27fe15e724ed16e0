// Axvisor's VM configs (configs/vms/*.toml), read unchanged:
//   [base]    id name vm_type cpu_num phys_cpu_ids (or phys_cpu_sets)
//   [kernel]  entry_point image_location ("memory" | "fs") kernel_path kernel_load_addr
//             dtb_path dtb_load_addr ramdisk_path ramdisk_load_addr enable_bios
//             boot_protocol bios_path uefi_firmware_path bios_load_addr
//             memory_regions = [[base, size, flags, map_type]]
//   [devices] interrupt_mode emu_devices passthrough_devices excluded_devices
// The next format (axvmconfig's machine request, on Axvisor's codex/axvm-interrupt-topology
// branch and in TGOSKits): no vm_type, no kernel.memory_regions, no emu/passthrough device
// lists, but
//   [machine] mode ("virtual" | "passthrough") firmware ("auto" | "fdt" | "acpi")
//             interrupts_passthrough (passthrough only)
//   [[memory.regions]] guest_base size permissions ("r", "rw", "rwx"...) backing = { kind =
//             "allocate" | "identity-allocate" | "host" | "shared" | "reserved", host_base }
// where an identity-allocate region's guest_base must be the placeholder 0: its address is
// the host RAM allocated at run time (GPA = HPA), not the range [0, size).
// A VM config that cannot be read becomes a finding, not an exception: preflight reports
// every problem of every file at once instead of stopping at the first.
import { z } from 'zod';
import { readToml } from '../config/toml.js';
import { shown } from '../config/paths.js';
import { readTomlChecked, type FindingList } from './findings.js';

/** A TOML integer (hex with underscores, as the configs write addresses). */
export { int } from '../config/axvisor-settings.js';
import { int } from '../config/axvisor-settings.js';

/** `map_type`: 0 MAP_ALLOC (guest memory the hypervisor allocates), 1 MAP_IDENTICAL
 * (guest-physical = host-physical), higher values are reserved host ranges. */
export const MAP_ALLOC = 0;

const vmSchema = z
  .object({
    base: z
      .object({
        id: int,
        name: z.string().min(1),
        vm_type: int.optional(),
        cpu_num: int.refine((n) => n >= 1, 'a VM needs at least one vCPU'),
        phys_cpu_ids: z.array(int).optional(),
        /** x86_64 configs pin vCPUs by mask instead. */
        phys_cpu_sets: z.array(int).optional(),
      })
      .passthrough(),
    kernel: z
      .object({
        entry_point: int.optional(),
        image_location: z.string({ required_error: 'missing: Axvisor loads the guest only from "memory" or "fs"' }),
        kernel_path: z.string().min(1),
        kernel_load_addr: int.optional(),
        dtb_path: z.string().optional(),
        dtb_load_addr: int.optional(),
        ramdisk_path: z.string().optional(),
        ramdisk_load_addr: int.optional(),
        enable_bios: z.boolean().default(false),
        boot_protocol: z.string().optional(),
        bios_path: z.string().optional(),
        uefi_firmware_path: z.string().optional(),
        bios_load_addr: int.optional(),
        memory_regions: z
          .array(z.tuple([int, int, int, int]).rest(z.unknown()), {
            errorMap: () => ({ message: 'expected [[base, size, flags, map_type], ...]' }),
          })
          .default([]),
      })
      .passthrough(),
    devices: z.object({}).passthrough().optional(),
  })
  .passthrough();

export interface MemoryRegion {
  base: number;
  size: number;
  flags: number;
  mapType: number;
  /** The next format's backing kind (allocate, identity-allocate, host, shared, reserved). */
  backing?: string;
  /** Where a `host` or `shared` backing is in host memory. */
  hostBase?: number;
  /** An identity-allocate region: `base` is a placeholder, its address is chosen at run time. */
  placeholder?: boolean;
  /** Its key in the file, for findings: `kernel.memory_regions[1]`, `memory.regions[0]`. */
  key?: string;
}

export interface VmConfig {
  file: string;
  /** "legacy": [kernel] memory_regions; "machine": [machine] and [[memory.regions]]. */
  format: 'legacy' | 'machine';
  machine?: { mode: string; firmware: string; interruptsPassthrough?: boolean };
  id: number;
  name: string;
  cpuNum: number;
  physCpuIds?: number[];
  physCpuSets?: number[];
  entryPoint?: number;
  imageLocation: string;
  kernelPath: string;
  kernelLoadAddr?: number;
  dtbPath?: string;
  dtbLoadAddr?: number;
  ramdiskPath?: string;
  ramdiskLoadAddr?: number;
  enableBios: boolean;
  bootProtocol?: string;
  biosPath?: string;
  uefiFirmwarePath?: string;
  biosLoadAddr?: number;
  memoryRegions: MemoryRegion[];
}

/** Reads one VM config; problems go to `findings` and the result is undefined. */
export function readVmConfig(file: string, findings: FindingList): VmConfig | undefined {
  let raw: Record<string, unknown> | undefined;
  try {
    raw = readToml(file);
  } catch {
    // readTomlChecked below reports it
  }
  if (raw && ('machine' in raw || 'memory' in raw)) return readMachineVmConfig(file, findings);
  const data = readTomlChecked(file, vmSchema, findings, (issue) =>
    issue.code === 'invalid_type' && issue.received === 'undefined'
      ? 'missing: Axvisor needs it to create the VM'
      : issue.message,
  );
  if (!data) return undefined;
  const { base, kernel } = data;
  return {
    file,
    format: 'legacy',
    id: base.id,
    name: base.name,
    cpuNum: base.cpu_num,
    physCpuIds: base.phys_cpu_ids,
    physCpuSets: base.phys_cpu_sets,
    entryPoint: kernel.entry_point,
    imageLocation: kernel.image_location,
    kernelPath: kernel.kernel_path,
    kernelLoadAddr: kernel.kernel_load_addr,
    dtbPath: kernel.dtb_path,
    dtbLoadAddr: kernel.dtb_load_addr,
    ramdiskPath: kernel.ramdisk_path,
    ramdiskLoadAddr: kernel.ramdisk_load_addr,
    enableBios: kernel.enable_bios,
    bootProtocol: kernel.boot_protocol,
    biosPath: kernel.bios_path,
    uefiFirmwarePath: kernel.uefi_firmware_path,
    biosLoadAddr: kernel.bios_load_addr,
    memoryRegions: kernel.memory_regions.map(([b, s, f, m], i) => ({
      base: b,
      size: s,
      flags: f,
      mapType: m,
      key: `kernel.memory_regions[${i}]`,
    })),
  };
}

export const addr = (n: number) => `0x${n.toString(16)}`;
export const range = (base: number, size: number) => `${addr(base)}..${addr(base + size)}`;

const BACKINGS = ['allocate', 'identity-allocate', 'host', 'shared', 'reserved'] as const;

const machineSchema = z
  .object({
    machine: z
      .object({
        mode: z.enum(['virtual', 'passthrough'], {
          errorMap: () => ({ message: 'expected "virtual" or "passthrough"' }),
        }),
        firmware: z
          .enum(['auto', 'fdt', 'acpi'], { errorMap: () => ({ message: 'expected "auto", "fdt" or "acpi"' }) })
          .default('auto'),
        interrupts_passthrough: z.boolean().optional(),
      })
      .passthrough(),
    base: z
      .object({
        id: int,
        name: z.string().min(1),
        cpu_num: int.refine((n) => n >= 1, 'a VM needs at least one vCPU'),
        phys_cpu_ids: z.array(int).optional(),
        phys_cpu_sets: z.array(int).optional(),
      })
      .passthrough(),
    kernel: z
      .object({
        entry_point: int.optional(),
        image_location: z.string({ required_error: 'missing: Axvisor loads the guest only from "memory" or "fs"' }),
        kernel_path: z.string().min(1),
        kernel_load_addr: int.optional(),
        dtb_path: z.string().optional(),
        dtb_load_addr: int.optional(),
        ramdisk_path: z.string().optional(),
        ramdisk_load_addr: int.optional(),
        enable_bios: z.boolean().default(false),
        boot_protocol: z.string().optional(),
        bios_path: z.string().optional(),
        uefi_firmware_path: z.string().optional(),
        bios_load_addr: int.optional(),
      })
      .passthrough(),
    memory: z
      .object({
        regions: z
          .array(
            z
              .object({
                guest_base: int,
                size: int.refine((n) => n > 0, 'a region of no bytes'),
                permissions: z.string().default('rwx'),
                backing: z
                  .object({
                    kind: z.enum(BACKINGS, {
                      errorMap: () => ({ message: `expected one of ${BACKINGS.map((b) => `"${b}"`).join(', ')}` }),
                    }),
                    host_base: int.optional(),
                  })
                  .passthrough(),
              })
              .passthrough(),
          )
          .default([]),
      })
      .passthrough()
      .default({}),
    devices: z.object({}).passthrough().optional(),
  })
  .passthrough();

/** Keys of the old format that axvmconfig's machine request refuses (deny_unknown_fields). */
const REMOVED: [string, string, string][] = [
  ['base', 'vm_type', 'the machine mode replaces it ([machine] mode)'],
  ['kernel', 'memory_regions', 'guest RAM is declared in [[memory.regions]]'],
  ['devices', 'interrupt_mode', '[machine] interrupts_passthrough replaces it'],
  ['devices', 'emu_devices', 'emulated devices are [[devices.virtual]]'],
  [
    'devices',
    'passthrough_devices',
    'passthrough is the default in mode "passthrough"; [devices] deny takes devices away',
  ],
  [
    'devices',
    'passthrough_addresses',
    'passthrough is the default in mode "passthrough"; [devices] deny takes devices away',
  ],
  ['devices', 'excluded_devices', '[devices] deny replaces it'],
];

/** Reads a VM config in the next format ([machine], [[memory.regions]]). */
function readMachineVmConfig(file: string, findings: FindingList): VmConfig | undefined {
  const data = readTomlChecked(file, machineSchema, findings, (issue) =>
    issue.code === 'invalid_type' && issue.received === 'undefined'
      ? 'missing: Axvisor needs it to create the VM'
      : issue.message,
  );
  if (!data) return undefined;
  const where = shown(file);
  const { base, kernel, machine } = data;
  const tables: Record<string, Record<string, unknown> | undefined> = { base, kernel, devices: data.devices };
  let broken = false;
  for (const [table, key, instead] of REMOVED) {
    if (tables[table] && key in tables[table]!) {
      findings.error(
        where,
        `${table}.${key}`,
        `removed in the [machine] format, and Axvisor refuses the file with it: ${instead}`,
      );
      broken = true;
    }
  }
  if (machine.interrupts_passthrough !== undefined && machine.mode !== 'passthrough') {
    findings.error(
      where,
      'machine.interrupts_passthrough',
      `only a "passthrough" machine has it (mode is "${machine.mode}"): remove it`,
    );
    broken = true;
  }
  const regions: MemoryRegion[] = [];
  data.memory.regions.forEach((r, i) => {
    const key = `memory.regions[${i}]`;
    if (!/^r(w)?(x)?$/.test(r.permissions)) {
      findings.error(
        where,
        `${key}.permissions`,
        `"${r.permissions}": r, w and x in that order, each at most once, and r always ("r", "rw", "rx", "rwx")`,
      );
      broken = true;
    }
    const kind = r.backing.kind;
    if ((kind === 'host' || kind === 'shared') && r.backing.host_base === undefined) {
      findings.error(where, `${key}.backing.host_base`, `missing: a "${kind}" backing says where it is in host memory`);
      broken = true;
    }
    if (kind === 'identity-allocate' && r.guest_base !== 0) {
      findings.error(
        where,
        `${key}.guest_base`,
        `${addr(r.guest_base)}: an identity-allocate region's guest_base is the placeholder 0 (its address is the host RAM allocated at run time)`,
      );
      broken = true;
    }
    regions.push({
      base: r.guest_base,
      size: r.size,
      flags: 0,
      mapType: kind === 'allocate' ? MAP_ALLOC : 1,
      backing: kind,
      hostBase: r.backing.host_base,
      placeholder: kind === 'identity-allocate',
      key,
    });
  });
  if (regions.length === 0) {
    findings.error(
      where,
      'memory.regions',
      'none: a [machine] VM gets no RAM it does not declare; add a [[memory.regions]]',
    );
    broken = true;
  }
  if (broken) return undefined;
  return {
    file,
    format: 'machine',
    machine: { mode: machine.mode, firmware: machine.firmware, interruptsPassthrough: machine.interrupts_passthrough },
    id: base.id,
    name: base.name,
    cpuNum: base.cpu_num,
    physCpuIds: base.phys_cpu_ids,
    physCpuSets: base.phys_cpu_sets,
    entryPoint: kernel.entry_point,
    imageLocation: kernel.image_location,
    kernelPath: kernel.kernel_path,
    kernelLoadAddr: kernel.kernel_load_addr,
    dtbPath: kernel.dtb_path,
    dtbLoadAddr: kernel.dtb_load_addr,
    ramdiskPath: kernel.ramdisk_path,
    ramdiskLoadAddr: kernel.ramdisk_load_addr,
    enableBios: kernel.enable_bios,
    bootProtocol: kernel.boot_protocol,
    biosPath: kernel.bios_path,
    uefiFirmwarePath: kernel.uefi_firmware_path,
    biosLoadAddr: kernel.bios_load_addr,
    memoryRegions: regions,
  };
}

/** Where a region sits in host memory, when that is fixed by the file (two VMs must not both
 * take it): legacy identity-mapped regions, `host` (at host_base) and `reserved` (identity)
 * backings. VM-owned RAM (allocate, identity-allocate) and `shared` backings never collide. */
export function hostRange(r: MemoryRegion): { base: number; size: number } | undefined {
  if (r.backing === undefined) return r.mapType !== MAP_ALLOC ? { base: r.base, size: r.size } : undefined;
  if (r.backing === 'host') return { base: r.hostBase ?? r.base, size: r.size };
  if (r.backing === 'reserved') return { base: r.base, size: r.size };
  return undefined;
}
