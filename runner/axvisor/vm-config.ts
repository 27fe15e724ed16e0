// Axvisor's VM configs (configs/vms/*.toml), read unchanged:
//   [base]    id name vm_type cpu_num phys_cpu_ids (or phys_cpu_sets)
//   [kernel]  entry_point image_location ("memory" | "fs") kernel_path kernel_load_addr
//             dtb_path dtb_load_addr ramdisk_path ramdisk_load_addr enable_bios
//             boot_protocol bios_path uefi_firmware_path bios_load_addr
//             memory_regions = [[base, size, flags, map_type]]
//   [devices] interrupt_mode emu_devices passthrough_devices excluded_devices
// A VM config that cannot be read becomes a finding, not an exception: preflight reports
// every problem of every file at once instead of stopping at the first.
import { z } from 'zod';
import { readTomlChecked, type FindingList } from './findings.js';

/** A TOML integer (hex with underscores, as the configs write addresses). */
export const int = z.union([z.number().int().nonnegative(), z.bigint()]).transform(Number);

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
}

export interface VmConfig {
  file: string;
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
  const data = readTomlChecked(file, vmSchema, findings, (issue) =>
    issue.code === 'invalid_type' && issue.received === 'undefined' ? 'missing: Axvisor needs it to create the VM' : issue.message,
  );
  if (!data) return undefined;
  const { base, kernel } = data;
  return {
    file,
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
    memoryRegions: kernel.memory_regions.map(([b, s, f, m]) => ({ base: b, size: s, flags: f, mapType: m })),
  };
}

export const addr = (n: number) => `0x${n.toString(16)}`;
export const range = (base: number, size: number) => `${addr(base)}..${addr(base + size)}`;
