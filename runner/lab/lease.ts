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
import {
  closeSync,
  existsSync,
  linkSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { makeDirs, shownTime, writeWhole } from '../config/paths.js';
import { listBoardNames, readBoard, standInEnv } from '../config/board.js';
import type { LabHostSettings } from '../config/lab-host.js';
import { ConfigError, LabError } from '../errors.js';
import { LabHost, shq } from '../remote/lab-host.js';

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
export const labFile = (dir: string, board: string, kind: string) =>
  path.join(dir, `${board.replace(/[^A-Za-z0-9._-]/g, '_')}.${kind}`);

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

function readHolder(file: string): { holder?: unknown; ageMs: number; unreadable?: string } | undefined {
  try {
    const ageMs = Date.now() - statSync(file).mtimeMs;
    try {
      return { holder: JSON.parse(readFileSync(file, 'utf8')), ageMs };
    } catch (e) {
      // Being written, or damaged: judged by its age alone.
      return { ageMs, unreadable: (e as NodeJS.ErrnoException).code ?? 'not JSON' };
    }
  } catch {
    return undefined; // released meanwhile
  }
}

const HOLDER_FIELDS: [keyof Holder, 'string' | 'number'][] = [
  ['board', 'string'],
  ['run', 'string'],
  ['pid', 'number'],
  ['pid_start', 'string'],
  ['host', 'string'],
  ['since', 'string'],
  ['token', 'string'],
];

/** What is wrong with a lease's content as this runner writes it (an older runner's, a
 * hand-written one, a damaged one), or undefined when it is a holder. A lease read from a
 * folder or a lab host is only ever trusted after this. */
export function holderProblem(x: unknown): string | undefined {
  if (typeof x !== 'object' || x === null || Array.isArray(x))
    return `it holds ${Array.isArray(x) ? 'a list' : x === null ? 'null' : `a ${typeof x}`}, not a lease`;
  const o = x as Record<string, unknown>;
  const missing = HOLDER_FIELDS.filter(([k]) => o[k] === undefined).map(([k]) => k);
  const wrong = HOLDER_FIELDS.filter(([k, t]) => o[k] !== undefined && typeof o[k] !== t).map(
    ([k, t]) => `${k} is not a ${t}`,
  );
  if (!missing.length && !wrong.length && Number.isNaN(Date.parse(o.since as string)))
    wrong.push('since is not a time');
  if (!missing.length && !wrong.length) return undefined;
  return [missing.length ? `no ${missing.join(', ')}` : '', ...wrong].filter(Boolean).join('; ');
}

/** A lease as read (from any store), checked: the holder when its content is one, else
 * why not (`problem`). */
export interface SeenLease {
  holder?: Holder;
  ageMs: number;
  /** What is wrong with its content; such a lease is judged by its heartbeat alone. */
  problem?: string;
}

export function vetted(seen: { holder?: unknown; ageMs: number; unreadable?: string }): SeenLease {
  if (seen.holder === undefined)
    return {
      ageMs: seen.ageMs,
      problem: seen.unreadable
        ? `it is not readable JSON (${seen.unreadable}): being written, or damaged`
        : 'it is empty or not JSON',
    };
  const problem = holderProblem(seen.holder);
  return problem ? { ageMs: seen.ageMs, problem } : { holder: seen.holder as Holder, ageMs: seen.ageMs };
}

/** Why the holder of a lease is gone, or undefined while it may be alive. `ageMs`: since
 * its last heartbeat, by the clock of the machine that keeps the lease. */
export function goneBecause(h: Holder | undefined, ageMs: number): string | undefined {
  if (h && h.host === os.hostname()) {
    const start = startOf(h.pid);
    if (start === undefined) return `its process ${h.pid} is not running`;
    if (start !== h.pid_start) return `pid ${h.pid} is now another process`;
    return undefined;
  }
  return ageMs > STALE_MS ? `no heartbeat for ${Math.round(ageMs / 1000)} s` : undefined;
}

/** The lease file of a board, as a person finds it: `<folder>/<board>.lease` (on its host). */
const leaseFileIn = (store: LeaseStore, board: string) =>
  `${path.basename(labFile('', board, 'lease'))} in ${store.where}`;

const describe = (seen: SeenLease, store: LeaseStore, board: string) =>
  seen.holder
    ? `run ${seen.holder.run} (pid ${seen.holder.pid} on ${seen.holder.host}) since ${shownTime(seen.holder.since)}`
    : `a lease this runner cannot read (${leaseFileIn(store, board)}: ${seen.problem})`;

/**
 * Where leases are kept, one file per board: a folder here (or one machines share over
 * NFS), or a folder on the lab host the board is wired to (runner/remote/lab-host.ts), which
 * makes the lease hold across every machine that drives boards through that host.
 */
export interface LeaseStore {
  /** Said in messages: the folder, and where it is. */
  readonly where: string;
  /** Creates the board's lease only if there is none (O_EXCL); false when there is one. */
  create(board: string, text: string): Promise<boolean>;
  /** The lease as found (its content unchecked: see vetted()), or undefined when there is none. */
  read(board: string): Promise<{ holder?: unknown; ageMs: number; unreadable?: string } | undefined>;
  /** The heartbeat; false when the lease is gone. */
  touch(board: string): Promise<boolean>;
  /** Removes the lease if it is still the one with `token`. */
  remove(board: string, token: string): Promise<void>;
  /** Moves a dead holder's lease aside as <board>.broken, unless it is no longer the one
   * judged dead (another run broke it and took the board in between). */
  breakDead(board: string, deadToken: string | undefined): Promise<void>;
  list(): Promise<{ board: string; holder?: unknown; ageMs: number; unreadable?: string }[]>;
  /** A record kept beside the lease (`kind` "health.json": health.ts): its text and when it
   * was written, `error` when it cannot be read, undefined when there is none. */
  readRecord(board: string, kind: string): Promise<{ text: string; at: string } | { error: string } | undefined>;
  /** Writes a record whole (renamed into place); `keepAside` first moves the one there to
   * <name>.unreadable. */
  writeRecord(board: string, kind: string, text: string, keepAside?: boolean): Promise<void>;
  /** The boards that have a record of `kind`. */
  listRecords(kind: string): Promise<string[]>;
  /** A record's name, as messages give it. */
  recordName(board: string, kind: string): string;
}

/** Leases in a folder of this machine's (HIL_LEASE_DIR). */
export class FolderStore implements LeaseStore {
  constructor(readonly dir = leaseDir()) {}
  get where(): string {
    return this.dir;
  }
  private file = (board: string) => labFile(this.dir, board, 'lease');

  async create(board: string, text: string): Promise<boolean> {
    const file = this.file(board);
    checkLeaseDir(this.dir);
    try {
      makeDirs(this.dir);
    } catch (e) {
      throw new LabError(
        'lease',
        `cannot make the lease folder ${this.dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (set HIL_LEASE_DIR to a folder you can write)`,
      );
    }
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw new LabError(
        'lease',
        `cannot write the lease ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (set HIL_LEASE_DIR to a folder you can write)`,
      );
    }
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
    return true;
  }

  async read(board: string) {
    return readHolder(this.file(board));
  }

  async touch(board: string): Promise<boolean> {
    try {
      const now = new Date();
      utimesSync(this.file(board), now, now);
      return true;
    } catch {
      return false;
    }
  }

  async remove(board: string, token: string): Promise<void> {
    this.removeNow(board, token);
  }

  /** The same, synchronously: for process.exit(), where nothing asynchronous runs. */
  removeNow(board: string, token: string): void {
    const file = this.file(board);
    if (vetted(readHolder(file) ?? { ageMs: 0 }).holder?.token !== token) return;
    try {
      unlinkSync(file);
    } catch {
      // released by hand meanwhile
    }
  }

  async breakDead(board: string, deadToken: string | undefined): Promise<void> {
    const file = this.file(board);
    const aside = `${file}.${process.pid}.${randomUUID().slice(0, 8)}`;
    try {
      renameSync(file, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // gone meanwhile: taken again on the next try
      throw new LabError(
        'lease',
        `the lease ${file} cannot be broken: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (remove it by hand)`,
      );
    }
    const moved = vetted(readHolder(aside) ?? { ageMs: 0 }).holder;
    if (deadToken && moved?.token !== deadToken) {
      try {
        linkSync(aside, file);
      } catch {
        // a third run took the board meanwhile; the one moved will find its lease gone
      }
      unlinkSync(aside);
      return;
    }
    renameSync(aside, `${file.replace(/\.lease$/, '')}.broken`);
  }

  recordName(board: string, kind: string): string {
    return labFile(this.dir, board, kind);
  }

  async readRecord(board: string, kind: string) {
    const file = this.recordName(board, kind);
    try {
      const at = statSync(file).mtime.toISOString();
      return { text: readFileSync(file, 'utf8'), at };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      return { error: code ?? (e as Error).message };
    }
  }

  async writeRecord(board: string, kind: string, text: string, keepAside = false): Promise<void> {
    const file = this.recordName(board, kind);
    if (keepAside) {
      try {
        renameSync(file, `${file}.unreadable`);
      } catch {
        // gone meanwhile
      }
    }
    writeWhole(file, text);
  }

  async listRecords(kind: string): Promise<string[]> {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names
      .filter((f) => f.endsWith(`.${kind}`))
      .sort()
      .map((f) => f.slice(0, -kind.length - 1));
  }

  async list() {
    if (!existsSync(this.dir)) return [];
    checkLeaseDir(this.dir);
    return readdirSync(this.dir)
      .filter((x) => x.endsWith('.lease'))
      .sort()
      .flatMap((f) => {
        const seen = readHolder(path.join(this.dir, f));
        return seen ? [{ board: f.replace(/\.lease$/, ''), ...seen }] : [];
      });
  }
}

export class Lease {
  private timer?: NodeJS.Timeout;
  private released = false;
  private readonly onExit = () => {
    // Nothing asynchronous runs in process.exit(): a lease on a lab host is left to be
    // broken (its holder's pid is gone, or its heartbeat stops).
    if (this.store instanceof FolderStore) this.store.removeNow(this.holder.board, this.holder.token);
  };

  private constructor(
    readonly store: LeaseStore,
    readonly holder: Holder,
    private log: (msg: string) => void,
  ) {
    this.timer = setInterval(() => void this.beat(), HEARTBEAT_MS);
    this.timer.unref();
    // process.exit() on a second Ctrl-C, or a crash, still releases the board.
    process.on('exit', this.onExit);
  }

  /** Takes the board's lease, waiting up to `waitS` seconds while a live run holds it. */
  static async acquire(
    board: string,
    o: {
      run: string;
      waitS: number;
      log: (msg: string) => void;
      signal?: AbortSignal;
      dir?: string;
      store?: LeaseStore;
    },
  ): Promise<Lease> {
    const store = o.store ?? new FolderStore(o.dir ?? leaseDir());
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
    // A lease that can be neither created nor read, again and again, is not a race with
    // its holder (that ends in a try or two): said, never spun on.
    let vanished = 0;
    for (;;) {
      o.signal?.throwIfAborted();
      if (await store.create(board, `${JSON.stringify(holder, null, 1)}\n`))
        return new Lease(store, { ...holder, since: new Date().toISOString() }, o.log);
      const found = await store.read(board);
      if (!found) {
        if (++vanished >= 20)
          throw new LabError(
            'lease',
            `the lease of board ${board} (${leaseFileIn(store, board)}) can be neither created nor read: check that folder`,
          );
        // Let signals and timers in between tries.
        await new Promise((r) => setImmediate(r));
        continue;
      }
      vanished = 0;
      const seen = vetted(found);
      const gone = goneBecause(seen.holder, seen.ageMs);
      if (gone) {
        await store.breakDead(board, seen.holder?.token).catch((e: Error) => {
          throw new LabError(
            'lease',
            `board ${board} is held by ${describe(seen, store, board)}, and ${gone}, but ${e.message}`,
          );
        });
        o.log(
          `broke the lease of board ${board}: it was held by ${describe(seen, store, board)}, and ${gone}${seen.problem ? ` (kept as ${board}.broken)` : ''}`,
        );
        continue;
      }
      if (Date.now() >= deadline) {
        throw new LabError(
          'lease',
          seen.holder
            ? `board ${board} is held by ${describe(seen, store, board)}${o.waitS ? `; waited ${o.waitS} s` : ''}: wait for it (--wait 10m), or see \`hil lab status\``
            : `board ${board} is held by ${describe(seen, store, board)}, its heartbeat ` +
                `${Math.round(seen.ageMs / 1000)} s old${o.waitS ? `; waited ${o.waitS} s` : ''}: a lease with no ` +
                `heartbeat for ${STALE_MS / 1000} s is broken by the next run; if no run holds the board, remove the ` +
                `file`,
        );
      }
      if (!told) {
        o.log(`board ${board} is held by ${describe(seen, store, board)}; waiting up to ${o.waitS} s`);
        told = true;
      }
      // Ended early by the signal: the loop's first line then says why.
      await delay(Math.min(500, deadline - Date.now()), undefined, { signal: o.signal }).catch(() => undefined);
    }
  }

  private async beat(): Promise<void> {
    if (!(await this.store.touch(this.holder.board).catch(() => false)) && !this.released)
      this.log(
        `warning: the lease of board ${this.holder.board} in ${this.store.where} is gone: another run may have taken it`,
      );
  }

  /** Gives the board back. Safe on every path, more than once. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    process.off('exit', this.onExit);
    await this.store
      .remove(this.holder.board, this.holder.token)
      .catch((e: Error) => this.log(`warning: releasing the lease of board ${this.holder.board}: ${e.message}`));
  }
}

export interface LeaseState {
  /** The board, as the lease file is named. */
  board: string;
  holder?: Holder;
  heartbeatAgeS: number;
  /** Why its holder is gone; undefined while it may be alive. */
  gone?: string;
  /** What is wrong with the lease's content (not a lease this runner writes). */
  problem?: string;
}

/** Every lease in a store, and whether its holder is alive. */
export async function leaseStates(store: LeaseStore = new FolderStore()): Promise<LeaseState[]> {
  return (await store.list()).map((l) => {
    const seen = vetted(l);
    return {
      board: typeof l.board === 'string' ? l.board : String(l.board),
      holder: seen.holder,
      heartbeatAgeS: Math.max(0, Math.round(l.ageMs / 1000)),
      gone: goneBecause(seen.holder, l.ageMs),
      problem: seen.problem,
    };
  });
}

/** The lease folder must be a folder: said before anything is touched (exit 3). */
export function checkLeaseDir(dir: string): void {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOTDIR') return; // made when the first lease is taken
    throw new ConfigError(
      `the lease folder ${dir} lies under a file, not a folder${process.env.HIL_LEASE_DIR ? ' (HIL_LEASE_DIR)' : ''}: set HIL_LEASE_DIR to a folder`,
    );
  }
  if (!st.isDirectory())
    throw new ConfigError(
      `the lease folder ${dir} is not a folder${process.env.HIL_LEASE_DIR ? ' (HIL_LEASE_DIR)' : ''}: set HIL_LEASE_DIR to a folder (made if missing), or remove that file`,
    );
}

/**
 * Leases kept on the lab host (lease.ts's LeaseStore), in `lease_dir` there: every machine
 * that drives the board through that host sees the same lease, so two runners on two
 * machines never drive one board at once. The same rules as a folder of leases, each
 * operation one POSIX shell command: `set -C` makes the create exclusive (O_EXCL), a
 * heartbeat is the file's mtime, and ages are read by the lab host's own clock.
 */
export class LabHostLeases implements LeaseStore {
  constructor(
    readonly host: LabHost,
    readonly dir: string,
  ) {}

  get where(): string {
    return `${this.dir} on ${this.host}`;
  }

  recordName(board: string, kind: string): string {
    return `${this.dir}/${board.replace(/[^A-Za-z0-9._-]/g, '_')}.${kind}`;
  }

  private file = (board: string) => this.recordName(board, 'lease');

  private async sh(script: string): Promise<string> {
    const r = await this.host.exec(script, 30);
    if (r.timedOut || r.code !== 0)
      throw new LabError(
        'lease',
        `${this.host}: the lease command failed (exit ${r.code ?? r.signal}): ${r.output.trim().split('\n').pop() ?? ''}`,
      );
    return r.output;
  }

  async create(board: string, text: string): Promise<boolean> {
    const f = shq(this.file(board));
    const out = await this.sh(
      `mkdir -p ${shq(this.dir)} || exit 3; if (set -C; printf '%s' ${shq(Buffer.from(text).toString('base64'))} | base64 -d > ${f}) 2>/dev/null; then echo TAKEN; else echo HELD; fi`,
    );
    return out.trim() === 'TAKEN';
  }

  /** `<age s>\n<lease>`, parsed. */
  private parse(out: string): { holder?: Holder; ageMs: number } {
    const nl = out.indexOf('\n');
    const ageMs = Number(out.slice(0, nl < 0 ? undefined : nl)) * 1000;
    try {
      return { holder: JSON.parse(out.slice(nl + 1)), ageMs };
    } catch {
      return { ageMs };
    }
  }

  async read(board: string) {
    const f = shq(this.file(board));
    const out = await this.sh(
      `if [ -f ${f} ]; then echo $(( $(date +%s) - $(stat -c %Y ${f}) )); cat ${f}; else echo GONE; fi`,
    );
    return out.trim() === 'GONE' ? undefined : this.parse(out);
  }

  async touch(board: string): Promise<boolean> {
    const f = shq(this.file(board));
    return (await this.sh(`[ -f ${f} ] && touch ${f} && echo OK || echo GONE`)).trim() === 'OK';
  }

  async remove(board: string, token: string): Promise<void> {
    const f = shq(this.file(board));
    await this.sh(`grep -q ${shq(token)} ${f} 2>/dev/null && rm -f ${f}; true`);
  }

  async breakDead(board: string, deadToken: string | undefined): Promise<void> {
    const f = this.file(board);
    const keep = deadToken ? `grep -q ${shq(deadToken)} "$A"` : 'true';
    await this.sh(
      `A=${shq(f)}.$$; mv ${shq(f)} "$A" 2>/dev/null || exit 0; if ${keep}; then mv "$A" ${shq(f.replace(/\.lease$/, '.broken'))}; else ln "$A" ${shq(f)} 2>/dev/null; rm -f "$A"; fi`,
    );
  }

  async readRecord(board: string, kind: string) {
    const f = shq(this.recordName(board, kind));
    // The first line says whether there is one (and when it was written), by the lab host's clock.
    const out = await this.sh(
      `if [ -f ${f} ]; then if [ -r ${f} ]; then date -u -r ${f} +%Y-%m-%dT%H:%M:%SZ; cat ${f}; else echo UNREADABLE; fi; else echo NONE; fi`,
    );
    const nl = out.indexOf('\n');
    const first = out.slice(0, nl < 0 ? undefined : nl).trim();
    if (first === 'NONE') return undefined;
    if (first === 'UNREADABLE') return { error: 'not readable by the lab host user' };
    return { at: first, text: nl < 0 ? '' : out.slice(nl + 1) };
  }

  async writeRecord(board: string, kind: string, text: string, keepAside = false): Promise<void> {
    const f = shq(this.recordName(board, kind));
    const aside = keepAside ? `mv ${f} ${shq(`${this.recordName(board, kind)}.unreadable`)} 2>/dev/null; ` : '';
    await this.sh(
      `mkdir -p ${shq(this.dir)} || exit 3; ${aside}T=${f}.$$; printf '%s' ${shq(Buffer.from(text).toString('base64'))} | base64 -d > "$T" && mv "$T" ${f}`,
    );
  }

  async listRecords(kind: string): Promise<string[]> {
    const out = await this.sh(
      `for f in ${shq(this.dir)}/*.${kind}; do [ -f "$f" ] && basename "$f" .${kind}; done; true`,
    );
    return out.split('\n').filter(Boolean).sort();
  }

  async list() {
    const out = await this.sh(
      `for f in ${shq(this.dir)}/*.lease; do [ -f "$f" ] || continue; printf '@@%s\\n%s\\n' "$(basename "$f" .lease)" "$(( $(date +%s) - $(stat -c %Y "$f") ))"; cat "$f"; echo; done`,
    );
    return out
      .split('@@')
      .filter(Boolean)
      .map((chunk) => {
        const nl = chunk.indexOf('\n');
        const seen = this.parse(chunk.slice(nl + 1));
        return { board: seen.holder?.board ?? chunk.slice(0, nl), ...seen };
      });
  }
}

/** Every place the lab's boards keep leases and health, each once: this machine's folder
 * first, then each lab host's folder that a board file names (read without its secrets:
 * a board file that does not load is told by `hil boards`). */
export function labStores(): LeaseStore[] {
  const stores = new Map<string, LeaseStore>([['', new FolderStore()]]);
  for (const name of listBoardNames()) {
    try {
      const b = readBoard(name, { env: standInEnv(name).env });
      if (!b.lab_host) continue;
      const store = leaseStoreOf(b);
      stores.set(store.where, store);
    } catch {
      // left to `hil boards`
    }
  }
  return [...stores.values()];
}

/** Where a board's lease is kept: on its lab host when it has one, else in HIL_LEASE_DIR. */
export function leaseStoreOf(board: { lab_host?: LabHostSettings }): LeaseStore {
  return board.lab_host ? new LabHostLeases(LabHost.for(board.lab_host), board.lab_host.lease_dir) : new FolderStore();
}
