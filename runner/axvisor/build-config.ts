// The board-test build config (TGOSKits `build-<target>.toml`, or `cargo axvisor defconfig`'s
// `.build.toml`): `features`, `log`, `target`, `vm_configs`, read unchanged.
import { z } from 'zod';
import { shown } from '../config/paths.js';
import { readToml } from '../config/toml.js';
import { stripFile, type FindingList } from './findings.js';

const buildSchema = z.object({
  features: z.array(z.string()).default([]),
  log: z.string().optional(),
  target: z.string().optional(),
  vm_configs: z.array(z.string()).optional(),
}).passthrough();

export interface BuildConfig {
  file: string;
  features: string[];
  log?: string;
  target?: string;
  /** As written: paths relative to the Axvisor workspace. Undefined when the key is absent. */
  vmConfigs?: string[];
}

export function readBuildConfig(file: string, findings: FindingList): BuildConfig | undefined {
  const where = shown(file);
  let doc: unknown;
  try {
    doc = readToml(file);
  } catch (e) {
    findings.error(where, '', stripFile((e as Error).message, file));
    return undefined;
  }
  const res = buildSchema.safeParse(doc);
  if (!res.success) {
    const issue = res.error.issues[0];
    findings.error(where, issue.path.join('.'), issue.message);
    return undefined;
  }
  return { file, features: res.data.features, log: res.data.log, target: res.data.target, vmConfigs: res.data.vm_configs };
}

/** The architecture a Rust target triple builds for (`aarch64-unknown-none-softfloat` -> aarch64). */
export function targetArch(target: string): string {
  const first = target.split('-')[0];
  if (first.startsWith('riscv64')) return 'riscv64';
  if (first === 'arm64') return 'aarch64';
  return first;
}
