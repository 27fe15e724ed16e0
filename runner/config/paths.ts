// Where things are. The runner's own checkout (projectRoot: its shipped boards, suites and
// fixtures) is not the lab: a lab keeps its boards/ and suites/ in a repository of its
// own and runs the runner there, or points at it with --lab / HIL_LAB. Names are looked
// up in the lab first, then among what the runner ships; reports go to the lab.
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The runner's package folder, whether it runs from runner/ (sources) or dist/ (built). */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The lab's folder: --lab (sets HIL_LAB), HIL_LAB, or where hil was started. */
export const labRoot = () => path.resolve(process.env.HIL_LAB ?? process.cwd());

/** The folders a board or suite name is looked for in, the lab's first. */
export function searchDirs(kind: 'boards' | 'suites'): string[] {
  const dirs = [path.join(labRoot(), kind), path.join(projectRoot, kind)];
  return [...new Set(dirs)];
}

export const reportsDir = () => path.join(labRoot(), 'reports');

/** A path as a person wants to read it: relative to where they are, unless that climbs out. */
export function shown(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return !rel ? p : rel.startsWith('..') ? path.resolve(p) : rel;
}

/** An ISO time as a person reads it, to the second: "2026-12-02 21:50:03". */
export const shownTime = (iso: string) => iso.slice(0, 19).replace('T', ' ');

/** Writes a file whole under a temporary name and renames it into place: a reader (or a
 * crash) sees the old file or the new one, never half of one. */
export function writeWhole(file: string, data: string | Uint8Array): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * `mkdir -p` for folders a user names (--out, --history). Node's own recursive mkdir
 * never returns under /proc (it retries ENOENT forever), so each missing folder is made
 * on its own, from the nearest existing one down, and the first refusal is thrown.
 */
export function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !existsSync(d); d = path.dirname(d)) missing.unshift(d);
  for (const d of missing) mkdirSync(d);
}
