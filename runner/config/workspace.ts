// The TGOSKits (or Axvisor) workspace a file belongs to: the nearest folder above it whose
// Cargo.toml declares a [workspace], as Cargo finds it. Builds run there, vm_configs are
// relative to it and `${workspace}` in a QEMU case means it. --workspace (HIL_WORKSPACE)
// names it when the files are elsewhere.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ancestors } from './tree.js';

export function findWorkspace(from: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.HIL_WORKSPACE) return path.resolve(env.HIL_WORKSPACE);
  for (const d of ancestors(from)) {
    const manifest = path.join(d, 'Cargo.toml');
    if (existsSync(manifest) && /^\s*\[workspace\]/m.test(readFileSync(manifest, 'utf8'))) return d;
  }
  return undefined;
}
