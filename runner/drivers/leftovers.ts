// What a runner killed with SIGKILL leaves behind: no handler ran, so its staging folders
// stay (QEMU itself goes with it: setpriv --pdeathsig). The next run cleans them up. A
// folder is the runner's when its name carries the host and the process id that made it;
// it is left over when that process is gone, and only on this host can that be known.
import { readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const host = os.hostname().replace(/[^A-Za-z0-9-]+/g, '_');

/** The mark a staging folder's name carries: `<host>.<pid>`. */
export const owner = () => `${host}.${process.pid}`;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Removes the folders in `dir` named `<prefix><host>.<pid>...` whose process is gone; returns them. */
export function sweepLeftovers(dir: string, prefix: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const gone: string[] = [];
  for (const name of names) {
    if (!name.startsWith(`${prefix}${host}.`)) continue;
    const pid = Number(/^\.(\d+)/.exec(name.slice(prefix.length + host.length))?.[1]);
    if (!pid || pid === process.pid || alive(pid)) continue;
    rmSync(path.join(dir, name), { recursive: true, force: true });
    gone.push(name);
  }
  return gone;
}
