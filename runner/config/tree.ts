// Walking a TGOSKits tree upwards: the folders above a file, and the nearest build wrapper
// (a folder holding build-*.toml), as TGOSKits' discovery walks from a case's folder.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** The folders from `dir` up to the filesystem's root. */
export function ancestors(dir: string): string[] {
  const out: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    out.push(d);
    if (path.dirname(d) === d) return out;
  }
}

/** The nearest folder from `dir` up that holds build configs, and those configs. */
export function nearestBuildWrapper(dir: string): { dir: string; configs: string[] } | undefined {
  for (const d of ancestors(dir)) {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    const configs = names
      .filter((f) => /^build-.*\.toml$/.test(f))
      .sort()
      .map((f) => path.join(d, f));
    if (configs.length) return { dir: d, configs };
  }
  return undefined;
}

/** `rel` looked for from `dir` upwards (a path relative to the workspace root, as TGOSKits
 * writes them, found without knowing where that root is); the nearest first. */
export function findUp(dir: string, rel: string): string | undefined {
  for (const d of ancestors(dir)) {
    const f = path.join(d, rel);
    if (existsSync(f)) return f;
  }
  return undefined;
}
