// A shell command run on this host, as every driver that runs one runs it (through
// via.ts, which runs the same command on a lab host over SSH instead when a board says so).
//
// A command is done when its process exits, not when its output closes: a relay script
// that leaves a daemon in the background holding stdout must not keep the run in the
// power phase. Each command runs in a process group of its own, ended as a whole on
// timeout and after exit (what it left running goes with it), except what a caller asks to
// keep: a board simulator (Renode, an FVP, QEMU) started with `&` by a power command is
// the board, so it lives until the board is powered off, and ends then with its group.
// Each group has a guard: a small process of its own session that ends the group when the
// runner's end of a pipe closes, so even a runner killed with SIGKILL (no handler runs)
// takes it along, as QEMU goes with the runner by --pdeathsig.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export type CommandExit = { code: number | null; signal: string | null; output: string; timedOut: boolean };
/** What a command left running, kept (runCommand's `keep`): ended with kill(). */
export interface KeptGroup {
  /** Ends the group (SIGTERM, then SIGKILL to what is left) and resolves once it is gone. */
  kill(): Promise<void>;
}
/** Where the commands run: this host (runCommand) or a lab host over SSH. */
export type CommandRunner = (
  cmd: string,
  timeoutS: number,
  env: Record<string, string>,
  keep?: { later: (output: string) => void },
) => Promise<CommandExit & { kept?: KeptGroup }>;

/** Whether a process of group `pgid` still runs: a zombie (an orphan nobody reaps, as in
 * a container whose first process does not) is not running. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return true; // no /proc: the signal's answer stands
  }
  return pids.some((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return Number(pgrp) === pgid && state !== 'Z' && state !== 'X';
    } catch {
      return false;
    }
  });
}

/** A guard for process group `pgid`: it ends the group with SIGKILL when its stdin (the
 * runner's end of a pipe) closes, which happens however the runner ends. In a session of
 * its own, a Ctrl-C at the terminal does not reach it. */
function guardGroup(pgid: number): ChildProcess | undefined {
  const guard = spawn(
    '/bin/sh',
    ['-c', 'trap "" INT HUP; read _; kill -KILL -"$1" 2>/dev/null', 'hil-guard', String(pgid)],
    {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    },
  );
  guard.once('error', () => undefined);
  guard.stdin!.on('error', () => undefined);
  guard.unref();
  (guard.stdin as unknown as { unref?: () => void }).unref?.();
  return guard;
}

/** Reads a finished command's output to the end of its pipes, then closes them: once its
 * process group is gone that is at once; a writer that left the group (a daemon in a session
 * of its own) is not waited for longer than `boundMs`. */
async function drain(child: ChildProcess, boundMs: number): Promise<void> {
  const open = [child.stdout!, child.stderr!]
    .filter((st) => !(st.readableEnded || st.destroyed))
    .map((st) => new Promise((r) => st.once('close', r)));
  let bound: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(open), new Promise((r) => (bound = setTimeout(r, boundMs)))]);
  clearTimeout(bound);
  child.stdout!.destroy();
  child.stderr!.destroy();
}

/** Runs a shell command; resolves with its exit status and output once the process exits.
 * With `keep`, what a command that succeeded left running is kept (`kept`), its later
 * output handed to `keep.later`; otherwise it is ended at once. */
export function runCommand(
  cmd: string,
  timeoutS: number,
  env: Record<string, string>,
  keep?: { later: (output: string) => void },
): Promise<CommandExit & { kept?: KeptGroup }> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', cmd], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    const guard = child.pid ? guardGroup(child.pid) : undefined;
    let output = '';
    let sink: ((d: string) => void) | undefined;
    const add = (d: Buffer) => {
      if (sink) sink(d.toString());
      else if (output.length < 64 * 1024) output += d.toString();
    };
    child.stdout!.on('data', add);
    child.stderr!.on('data', add);
    let timedOut = false;
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        // the group is gone already
      }
    };
    const endGuard = () => {
      guard?.kill('SIGKILL');
      guard?.stdin?.destroy();
    };
    const timer =
      timeoutS > 0
        ? setTimeout(() => {
            timedOut = true;
            killGroup('SIGKILL');
          }, timeoutS * 1000)
        : undefined;
    child.on('error', (e) => {
      clearTimeout(timer);
      endGuard();
      resolve({ code: 127, signal: null, output: e.message, timedOut });
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // Whatever the command left behind is ended (its output read to the end), or kept
      // when asked (a simulator `on` started) and the command succeeded.
      setImmediate(() => {
        const pgid = child.pid;
        if (keep && pgid && code === 0 && !timedOut && groupAlive(pgid)) {
          sink = keep.later;
          let gone: Promise<void> | undefined;
          const kept: KeptGroup = {
            kill: () =>
              (gone ??= (async () => {
                killGroup('SIGTERM');
                // A simulator given a moment to end as it ends, then made to.
                for (let i = 0; i < 40 && groupAlive(pgid); i++) await new Promise((r) => setTimeout(r, 50));
                killGroup('SIGKILL');
                endGuard();
                // What it printed on its way out is read to the end of its output.
                await drain(child, 2000);
              })()),
          };
          resolve({ code, signal, output, timedOut, kept });
          return;
        }
        killGroup('SIGKILL');
        endGuard();
        // The exit can be seen before the last of the output is read (a busy machine), and
        // a state read from half of uhubctl's report is wrong: the pipes are read to their
        // end, which comes at once now that every writer in the group is gone.
        void drain(child, 1000).then(() => resolve({ code, signal, output, timedOut }));
      });
    });
  });
}
