// Power through the lab's own shell commands (a relay script, a PDU client, `uhubctl`), as
// ostool's board_reset_cmd / board_power_off_cmd. Output goes to the case's power.log,
// with secrets from the environment masked (by the shared base, drivers/base.ts, as its
// time limit and the off-to-on delay).
//
// A command is done when its process exits, not when its output closes: a relay script
// that leaves a daemon in the background holding stdout must not keep the run in the
// power phase. Each command runs in a process group of its own, ended as a whole on
// timeout and after exit (what it left running goes with it), except what `on` or `reset`
// leaves running: a board simulator (Renode, an FVP, QEMU) started with `&` is the board,
// so it lives, its output still going to power.log, until the board is powered off, and
// ends then with its group. Each group has a guard: a small process of its own session
// that ends the group when the runner's end of a pipe closes, so even a runner killed with
// SIGKILL (no handler runs) takes it along, as QEMU goes with the runner by --pdeathsig.
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { redact } from '../../config/env.js';
import { LabError } from '../../errors.js';
import { defineSwitch, type PowerAction, type PowerSwitch, powerSettings } from '../base.js';
import type { PowerContext, PowerState } from '../registry.js';

export const shellSettings = powerSettings({
  /** Switches the board on. */
  on: z.string().optional(),
  /** Switches it off; run at the end of every case, whatever happened. */
  off: z.string().optional(),
  /** Cycles it (preferred to `on`: a fresh boot whatever state the board was in). */
  reset: z.string().optional(),
  /** Prints whether the board is on: its last line `on` or `off` (1/0, true/false). */
  state: z.string().optional(),
});

type Settings = z.infer<typeof shellSettings>;

export type CommandResult = { code: number | null; signal: string | null; output: string; timedOut: boolean };
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
) => Promise<CommandResult & { kept?: KeptGroup }>;

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
  const guard = spawn('/bin/sh', ['-c', 'trap "" INT HUP; read _; kill -KILL -"$1" 2>/dev/null', 'hil-guard', String(pgid)], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  guard.once('error', () => undefined);
  guard.stdin!.on('error', () => undefined);
  guard.unref();
  (guard.stdin as unknown as { unref?: () => void }).unref?.();
  return guard;
}

/** Runs a shell command; resolves with its exit status and output once the process exits.
 * With `keep`, what a command that succeeded left running is kept (`kept`), its later
 * output handed to `keep.later`; otherwise it is ended at once. */
export function runCommand(cmd: string, timeoutS: number, env: Record<string, string>, keep?: { later: (output: string) => void }): Promise<CommandResult & { kept?: KeptGroup }> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', cmd], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
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
      // Output already written is read; whatever the command left behind is ended, or
      // kept when asked (a simulator `on` started) and the command succeeded.
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
                // What it printed on its way out is read to the end of its output (which
                // comes once the group is gone), unless something outside it holds it.
                const drained = [child.stdout!, child.stderr!].map((st) => (st.readableEnded || st.destroyed ? undefined : new Promise((r) => st.once('close', r))));
                let bound: NodeJS.Timeout | undefined;
                await Promise.race([Promise.all(drained), new Promise((r) => (bound = setTimeout(r, 2000)))]);
                clearTimeout(bound);
                child.stdout!.destroy();
                child.stderr!.destroy();
              })()),
          };
          resolve({ code, signal, output, timedOut, kept });
          return;
        }
        killGroup('SIGKILL');
        endGuard();
        child.stdout!.destroy();
        child.stderr!.destroy();
        resolve({ code, signal, output, timedOut });
      });
    });
  });
}

export class ShellPower implements PowerSwitch {
  /** What `on` and `reset` left running (a simulator): the board, until it is powered off;
   * with what it printed last, not yet a whole line. */
  private kept: { group: KeptGroup; flush: () => void }[] = [];
  readonly describe: string;
  /** With a reset command, a cycle is that command (its own delay, the lab's script's). */
  readonly cycle?: (delayS: number, a: PowerAction) => Promise<void>;
  /** With a state command, the board's power as it prints it. */
  readonly state?: (a: PowerAction) => Promise<PowerState>;

  constructor(
    private cfg: Settings,
    private ctx: PowerContext,
    private runner: CommandRunner = runCommand,
    /** Where the commands run, for the error lines ("" here, " on lab host ..." there). */
    private where = '',
  ) {
    this.describe = `the power commands${where}`;
    const { reset, state } = cfg;
    if (reset)
      this.cycle = async (_delayS, a) => {
        await this.endKept(a);
        await this.run('reset', reset, a, true);
      };
    if (state) this.state = (a) => this.readState(state, a);
  }

  /** A reset puts the board into a fresh boot whatever state it was in, so it is preferred.
   * With neither, the board is powered by hand (ostool's run config allows that too). */
  async on(a: PowerAction): Promise<void> {
    const cmd = this.cfg.reset ?? this.cfg.on;
    // A board switched on again is a fresh one: what the last power-on left running ends.
    await this.endKept(a);
    if (cmd) await this.run(this.cfg.reset ? 'reset' : 'on', cmd, a, true);
    else {
      a.note('no on or reset command: power the board on by hand now');
      this.ctx.log('no power on/reset command: power the board on by hand now');
    }
  }

  /** The off command, then what `on` left running is ended: the board is off. */
  async off(a: PowerAction): Promise<void> {
    try {
      if (this.cfg.off) await this.run('off', this.cfg.off, a);
    } finally {
      await this.endKept(a);
    }
  }

  /** Ends what `on` or `reset` left running, its last output kept. */
  private async endKept(a: PowerAction): Promise<void> {
    const kept = this.kept.splice(0);
    if (!kept.length) return;
    await Promise.all(kept.map((k) => k.group.kill()));
    for (const k of kept) k.flush();
    a.note('ended what the power-on command left running');
  }

  /** The state command's last line: on/1/true, off/0/false; anything else is unknown. */
  private async readState(cmd: string, a: PowerAction): Promise<PowerState> {
    const out = await this.run('state', cmd, a);
    const last = out.trim().split('\n').pop()?.trim().toLowerCase() ?? '';
    if (/^(on|1|true)$/.test(last)) return 'on';
    if (/^(off|0|false)$/.test(last)) return 'off';
    a.note(`the state command printed "${last}", neither on nor off: the state is unknown`);
    return 'unknown';
  }

  private async run(what: string, cmd: string, a: PowerAction, keep = false): Promise<string> {
    const secs = a.timeoutS;
    a.write(`$ ${cmd}\n`);
    // What a simulator prints later goes to power.log too, a line at a time (masked whole).
    let partial = '';
    const later = (d: string) => {
      partial += d;
      const end = partial.lastIndexOf('\n');
      if (end < 0 && partial.length < 4096) return;
      a.write(end < 0 ? partial : partial.slice(0, end + 1));
      partial = end < 0 ? '' : partial.slice(end + 1);
    };
    const flush = () => {
      if (partial) a.write(`${partial}\n`);
      partial = '';
    };
    const r = await this.runner(cmd, secs, { HIL_BOARD: this.ctx.board.name }, keep ? { later } : undefined);
    if (r.kept) this.kept.push({ group: r.kept, flush });
    a.write(`${r.output}${r.output.endsWith('\n') || !r.output ? '' : '\n'}[exit ${r.code ?? r.signal}${r.timedOut ? ', timed out' : ''}]\n`);
    if (r.timedOut || r.code !== 0) {
      const last = r.output.trim().split('\n').pop() ?? '';
      throw new LabError(
        'power',
        redact(`power ${what} command${this.where} failed (${r.timedOut ? `did not finish within ${secs} s` : `exit ${r.code ?? r.signal}`}): ${cmd}${last ? ` -> ${last}` : ''}`),
      );
    }
    if (r.kept) a.note('what it left running is kept until the board is powered off');
    return r.output;
  }
}

export const shellPower = defineSwitch({
  kind: 'shell',
  summary: "the lab's shell commands (relay, PDU client): on, off, reset, state",
  notes:
    'what `on`/`reset` leaves running (a simulator started with `&`: Renode, an FVP) is the board: it lives until power-off, then ends with its process group (even after a `kill -9` of `hil`); `reset` is preferred to `on` (a fresh boot) and is the cycle; `state` prints `on` or `off`',
  settings: shellSettings,
  create: (s, ctx) => new ShellPower(s, ctx),
});
