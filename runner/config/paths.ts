// Where the project's own folders are, wherever `hil` is started from.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A path as a person wants to read it: relative to where they are, unless that climbs out. */
export function shown(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return !rel ? p : rel.startsWith('..') ? path.resolve(p) : rel;
}
