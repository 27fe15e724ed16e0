// Power through the lab's own shell commands (a relay script, a PDU client, `uhubctl`), as
// ostool's board_reset_cmd / board_power_off_cmd. Output goes to the case's power.log,
// with secrets from the environment masked.
//
// A command is done when its process exits, not when its output closes: a relay script
// that leaves a daemon in the background holding stdout must not keep the run in the
// power phase. Each command runs in a process group of its own, ended as a whole on
// timeout and after exit (what it left running goes with it).
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { z } from 'zod';
import { redact } from '../../config/env.js';
import { LabError } from '../../errors.js';
import { definePower, type PowerContext } from '../registry.js';

export const shellSettings = z
  .object({
    /** Switches the board on. */
    on: z.string().optional(),
    /** Switches it off; run at the end of every case, whatever happened. */
    off: z.string().optional(),
    /** Cycles it (preferred to `on`: a fresh boot whatever state the board was in). */
    reset: z.string().optional(),
  })
  .strict();

type Settings = z.infer<typeof shellSettings>;

export type CommandResult = { code: number | null; signal: string | null; output: string; timedOut: boolean };
/** Where the commands run: this host (runCommand) or a lab host over SSH. */
export type CommandRunner = (cmd: string, timeoutS: number, env: Record<string, string>) => Promise<CommandResult>;

/** Runs a shell command; resolves with its exit status and output once the process exits. */
export function runCommand(cmd: string, timeoutS: number, env: Record<string, string>): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', cmd], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let output = '';
    const add = (d: Buffer) => {
      if (output.length < 64 * 1024) output += d.toString();
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
    const timer =
      timeoutS > 0
        ? setTimeout(() => {
            timedOut = true;
            killGroup('SIGKILL');
          }, timeoutS * 1000)
        : undefined;
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: 127, signal: null, output: e.message, timedOut });
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      // Output already written is read; whatever the command left behind is ended.
      setImmediate(() => {
        killGroup('SIGKILL');
        child.stdout!.destroy();
        child.stderr!.destroy();
        resolve({ code, signal, output, timedOut });
      });
    });
  });
}

export class ShellPower {
  constructor(
    private cfg: Settings,
    private ctx: PowerContext,
    private runner: CommandRunner = runCommand,
    /** Where the commands run, for the error lines ("" here, " on lab host ..." there). */
    private where = '',
  ) {}

  async attach(): Promise<Record<string, never>> {
    return {};
  }

  /** A reset puts the board into a fresh boot whatever state it was in, so it is preferred.
   * With neither, the board is powered by hand (ostool's run config allows that too). */
  async on(): Promise<void> {
    const cmd = this.cfg.reset ?? this.cfg.on;
    if (cmd) await this.run(this.cfg.reset ? 'reset' : 'on', cmd);
    else {
      appendFileSync(this.ctx.logFile, '# no on or reset command: power the board on by hand now\n');
      this.ctx.log('no power on/reset command: power the board on by hand now');
    }
  }

  async off(): Promise<void> {
    if (this.cfg.off) await this.run('off', this.cfg.off);
  }

  /** A fresh boot: the reset command, or off and on. */
  async reset(): Promise<void> {
    if (this.cfg.reset) return this.run('reset', this.cfg.reset);
    await this.off();
    await this.on();
  }

  private async run(what: string, cmd: string): Promise<void> {
    const secs = this.ctx.board.timeouts.power;
    appendFileSync(this.ctx.logFile, redact(`$ ${cmd}\n`));
    const r = await this.runner(cmd, secs, { HIL_BOARD: this.ctx.board.name });
    appendFileSync(this.ctx.logFile, redact(`${r.output}${r.output.endsWith('\n') || !r.output ? '' : '\n'}[exit ${r.code ?? r.signal}${r.timedOut ? ', timed out' : ''}]\n`));
    if (r.timedOut || r.code !== 0) {
      const last = r.output.trim().split('\n').pop() ?? '';
      throw new LabError(
        'power',
        redact(`power ${what} command${this.where} failed (${r.timedOut ? `did not finish within ${secs} s` : `exit ${r.code ?? r.signal}`}): ${cmd}${last ? ` -> ${last}` : ''}`),
      );
    }
  }
}

export const shellPower = definePower({
  kind: 'shell',
  summary: "the lab's shell commands (relay, PDU client): on, off, reset",
  settings: shellSettings,
  create: (s, ctx) => new ShellPower(s, ctx),
});
