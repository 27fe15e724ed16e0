// A TGOSKits build config (`build-<target>.toml`, or `cargo axvisor defconfig`'s
// `.build.toml`): `target`, `features`, `log`, and Axvisor's `vm_configs` or ArceOS's
// `package`, read unchanged (other keys are the build's business).
import { z } from 'zod';
import { readTomlChecked, type FindingList } from './findings.js';

const buildSchema = z
  .object({
    features: z.array(z.string()).default([]),
    log: z.string().optional(),
    target: z.string().optional(),
    vm_configs: z.array(z.string()).optional(),
    package: z.string().optional(),
  })
  .passthrough();

export interface BuildConfig {
  file: string;
  features: string[];
  log?: string;
  target?: string;
  /** As written: paths relative to the Axvisor workspace. Undefined when the key is absent. */
  vmConfigs?: string[];
  /** The package an ArceOS build config builds. */
  package?: string;
}

export function readBuildConfig(file: string, findings: FindingList): BuildConfig | undefined {
  const b = readTomlChecked(file, buildSchema, findings);
  return b && { file, features: b.features, log: b.log, target: b.target, vmConfigs: b.vm_configs, package: b.package };
}

/** The architecture a Rust target triple builds for (`aarch64-unknown-none-softfloat` -> aarch64). */
export function targetArch(target: string): string {
  const first = target.split('-')[0];
  if (first.startsWith('riscv64')) return 'riscv64';
  if (first === 'arm64') return 'aarch64';
  return first;
}
