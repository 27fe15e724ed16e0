// Leases: a board the runner drives itself is held by one run at a time. A lease is a file
// per board in the lease folder (HIL_LEASE_DIR, default <tmp>/axvisor-hil-leases; give
// machines that share a lab host a folder they share), created with O_EXCL so two runs
// cannot both take it, kept fresh by a heartbeat (its mtime, every 5 s), and removed when
// the run ends, on every path. A run that finds the board held waits (`--wait`) or ends as
// a lab error naming the holder.
//
// A lease whose holder is provably gone is broken, with a note: on this host, its process
// is not running (or the pid now belongs to another process: the start time differs); on
// another host, its heartbeat is older than 30 s. A live holder's lease is never broken.
// (LAVA and labgrid keep this state in a server; here the board's lease is a file, so a
// person can see and clear it with ls and rm, and `hil lab status` shows it.)
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { shownTime } from '../config/paths.js';
import { LabError } from '../errors.js';

export interface Holder {
  board: string;
  /** What holds it: the run's output folder. */
  run: string;
  pid: number;
  /** The process's start time (from /proc), so a reused pid is not taken for the holder. */
  pid_start: string;
  host: string;
  since: string;
  token: string;
}

const HEARTBEAT_MS = 5000;
/** A holder on another host whose heartbeat is older than this is gone. */
export const STALE_MS = 30_000;

export const leaseDir = () => path.resolve(process.env.HIL_LEASE_DIR ?? path.join(os.tmpdir(), 'axvisor-hil-leases'));
/** A board's file of `kind` in the lease folder (its lease, its health record). */
export const labFile = (dir: string, board: string, kind: string) => path.join(dir, `${board.replace(/[^A-Za-z0-9._-]/g, '_')}.${kind}`);

/** A process's start time in clock ticks since boot; undefined if it is not running. */
function startOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name (which may hold spaces), from its closing paren.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function readHolder(file: string): { holder?: Holder; mtimeMs: number } | undefined {
  try {
    const mtimeMs = statSync(file).mtimeMs;
    try {
      return { holder: JSON.parse(readFileSync(file, 'utf8')), mtimeMs };
    } catch {
      return { mtimeMs }; // being written (or damaged): judged by its age alone
    }
  } catch {
    return undefined; // released meanwhile
  }
}

/** Why the holder of a lease is gone, or undefined while it may be alive. */
export function goneBecause(h: Holder | undefined, mtimeMs: number, now = Date.now()): string | undefined {
  if (h && h.host === os.hostname()) {
    const start = startOf(h.pid);
    if (start === undefined) return `its process ${h.pid} is not running`;
    if (start !== h.pid_start) return `pid ${h.pid} is now another process`;
    return undefined;
  }
  const age = now - mtimeMs;
  return age > STALE_MS ? `no heartbeat for ${Math.round(age / 1000)} s` : undefined;
}

const describe = (h: Holder | undefined) => (h ? `run ${h.run} (pid ${h.pid} on ${h.host}) since ${shownTime(h.since)}` : 'a run whose lease is being written');

export class Lease {
  private timer?: NodeJS.Timeout;
  private released = false;
  private readonly onExit = () => this.release();

  private constructor(
    readonly file: string,
    readonly holder: Holder,
    private log: (msg: string) => void,
  ) {
    this.timer = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.timer.unref();
    // process.exit() on a second Ctrl-C, or a crash, still releases the board.
    process.on('exit', this.onExit);
  }

  /** Takes the board's lease, waiting up to `waitS` seconds while a live run holds it. */
  static async acquire(board: string, o: { run: string; waitS: number; log: (msg: string) => void; signal?: AbortSignal; dir?: string }): Promise<Lease> {
    const dir = o.dir ?? leaseDir();
    mkdirSync(dir, { recursive: true });
    const file = labFile(dir, board, 'lease');
    const holder: Holder = {
      board,
      run: o.run,
      pid: process.pid,
      pid_start: startOf(process.pid) ?? '',
      host: os.hostname(),
      since: new Date().toISOString(),
      token: randomUUID(),
    };
    const deadline = Date.now() + o.waitS * 1000;
    let told = false;
    for (;;) {
      o.signal?.throwIfAborted();
      try {
        const fd = openSync(file, 'wx');
        try {
          writeSync(fd, `${JSON.stringify(holder, null, 1)}\n`);
        } finally {
          closeSync(fd);
        }
        return new Lease(file, { ...holder, since: new Date().toISOString() }, o.log);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
          throw new LabError('lease', `cannot write the lease ${file}: ${(e as Error).message} (set HIL_LEASE_DIR to a folder you can write)`);
      }
      const seen = readHolder(file);
      if (!seen) continue;
      const gone = goneBecause(seen.holder, seen.mtimeMs);
      if (gone) {
        breakLease(file, seen.holder, gone, o.log);
        continue;
      }
      if (Date.now() >= deadline) {
        throw new LabError(
          'lease',
          `board ${board} is held by ${describe(seen.holder)}${o.waitS ? `; waited ${o.waitS} s` : ''}: wait for it (--wait 10m), or see \`hil lab status\``,
        );
      }
      if (!told) {
        o.log(`board ${board} is held by ${describe(seen.holder)}; waiting up to ${o.waitS} s`);
        told = true;
      }
      // Ended early by the signal: the loop's first line then says why.
      await delay(Math.min(500, deadline - Date.now()), undefined, { signal: o.signal }).catch(() => undefined);
    }
  }

  private beat(): void {
    try {
      const now = new Date();
      utimesSync(this.file, now, now);
    } catch {
      this.log(`warning: the lease ${this.file} is gone: another run may have taken board ${this.holder.board}`);
    }
  }

  /** Gives the board back. Safe on every path, more than once. */
  release(): void {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    process.off('exit', this.onExit);
    const seen = readHolder(this.file);
    if (seen?.holder?.token === this.holder.token) {
      try {
        unlinkSync(this.file);
      } catch {
        // released by hand meanwhile
      }
    }
  }
}

/** Moves a dead holder's lease aside (kept as `<board>.broken`, the note), unless what
 * was moved is not the lease judged dead (another run broke it and took the board in
 * between): that one is put back. */
function breakLease(file: string, dead: Holder | undefined, why: string, log: (msg: string) => void): void {
  const aside = `${file}.${process.pid}.${randomUUID().slice(0, 8)}`;
  try {
    renameSync(file, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // gone meanwhile: taken again on the next try
    throw new LabError(
      'lease',
      `the lease ${file} is held by ${describe(dead)}, and ${why}, but it cannot be broken: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (remove it by hand)`,
    );
  }
  const moved = readHolder(aside)?.holder;
  if (dead && moved?.token !== dead.token) {
    try {
      linkSync(aside, file);
    } catch {
      // a third run took the board meanwhile; the one moved will find its lease gone
    }
    unlinkSync(aside);
    return;
  }
  renameSync(aside, `${file.replace(/\.lease$/, '')}.broken`);
  log(`broke the lease of board ${dead?.board ?? path.basename(file, '.lease')}: it was held by ${describe(dead)}, and ${why}`);
}

export interface LeaseState {
  board: string;
  holder?: Holder;
  heartbeatAgeS: number;
  /** Why its holder is gone; undefined while it may be alive. */
  gone?: string;
}

/** Every lease in the folder, and whether its holder is alive. */
export function leaseStates(dir = leaseDir()): LeaseState[] {
  if (!existsSync(dir)) return [];
  const out: LeaseState[] = [];
  for (const f of readdirSync(dir)
    .filter((x) => x.endsWith('.lease'))
    .sort()) {
    const seen = readHolder(path.join(dir, f));
    if (!seen) continue;
    out.push({
      board: seen.holder?.board ?? f.replace(/\.lease$/, ''),
      holder: seen.holder,
      heartbeatAgeS: Math.max(0, Math.round((Date.now() - seen.mtimeMs) / 1000)),
      gone: goneBecause(seen.holder, seen.mtimeMs),
    });
  }
  return out;
}
