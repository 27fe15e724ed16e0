// Power through the lab's own shell commands (a relay script, a PDU client, `uhubctl`), as
// ostool's board_reset_cmd / board_power_off_cmd. Output goes to the case's power.log,
// with secrets from the environment masked (by the shared base, drivers/base.ts, as its
// time limit and the off-to-on delay).
//
// Each command runs as runner/remote/command.ts runs one (done when its process exits, in a
// process group ended as a whole), except what `on` or `reset` leaves running: a board
// simulator (Renode, an FVP, QEMU) started with `&` is the board, so it lives, its output
// still going to power.log, until the board is powered off, and ends then with its group.
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

export { type CommandRunner, type KeptGroup, runCommand } from '../../remote/command.js';
import { type CommandRunner, type KeptGroup, runCommand } from '../../remote/command.js';

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
    a.write(
      `${r.output}${r.output.endsWith('\n') || !r.output ? '' : '\n'}[exit ${r.code ?? r.signal}${r.timedOut ? ', timed out' : ''}]\n`,
    );
    if (r.timedOut || r.code !== 0) {
      const last = r.output.trim().split('\n').pop() ?? '';
      throw new LabError(
        'power',
        redact(
          `power ${what} command${this.where} failed (${r.timedOut ? `did not finish within ${secs} s` : `exit ${r.code ?? r.signal}`}): ${cmd}${last ? ` -> ${last}` : ''}`,
        ),
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
    'what `on`/`reset` leaves running (a simulator started with `&`: Renode, an FVP) is the board: it lives until ' +
    'power-off, then ends with its process group (even after a `kill -9` of `hil`); `reset` is preferred to `on` ' +
    '(a fresh boot) and is the cycle; `state` prints `on` or `off`',
  settings: shellSettings,
  create: (s, ctx) => new ShellPower(s, ctx),
});
