// The corpus of real files (SOURCES.md): lists by kind, for the tests.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readToml } from '../../runner/config/toml.js';

export const corpusRoot = path.dirname(fileURLToPath(import.meta.url));
export const tgoskits = path.join(corpusRoot, 'tgoskits');
export const axvisorRepo = path.join(corpusRoot, 'axvisor');

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(path.join(dir, d.name)) : d.name.endsWith('.toml') ? [path.join(dir, d.name)] : []));
}

export const allFiles = () => walk(corpusRoot).sort();
export const boardCases = () => allFiles().filter((f) => /\/board-[^/]*\.toml$/.test(f));
export const qemuCases = () =>
  allFiles().filter((f) => /\/test-suit\/.*\/qemu-[^/]*\.toml$/.test(f) || /\.github\/workflows\/qemu-[^/]*\.toml$/.test(f) || /\/configs\/qemu\/qemu-[^/]*\.toml$/.test(f));
export const runConfigs = () => allFiles().filter((f) => /\.github\/workflows\/uboot[^/]*\.toml$/.test(f) || /configs\/board\/[^/]*-uboot\.toml$/.test(f));
export const vmConfigs = () => allFiles().filter((f) => /\/configs\/vms\//.test(f));
export const buildConfigs = () => allFiles().filter((f) => /\/build-[^/]*\.toml$/.test(f));

/** Every distinct pattern the real files carry (success_regex, fail_regex). */
export function realPatterns(): string[] {
  const out = new Set<string>();
  for (const f of allFiles()) {
    const d = readToml(f) as Record<string, unknown>;
    for (const k of ['success_regex', 'fail_regex']) for (const p of (d[k] as string[] | undefined) ?? []) if (typeof p === 'string') out.add(p);
  }
  return [...out];
}
