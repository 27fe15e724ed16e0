// Power through a USB hub's port, switched by uhubctl (github.com/mvp/uhubctl): a board
// powered from a hub port (a Raspberry Pi, a board on a USB-C supply through a hub that
// switches ports one by one, "ppps"). The driver runs
//
//   uhubctl -l <hub> -p <port> -a on|off        switching
//   uhubctl -l <hub> -p <port> -a cycle -d <s>  a reset: uhubctl's own off, delay, on
//   uhubctl -l <hub> -p <port>                  the state: the port's status line
//
// here or on the board's lab host (`via = "lab_host"`), and reads uhubctl's own report
// ("New status for hub 1-1 [...]" then "  Port 2: 0000 off" or "  Port 2: 0503 power
// highspeed enable connect [...]"): a port that did not switch (a hub that switches all
// ports together, or none) is a lab error saying so.
import { z } from 'zod';
import { LabError } from '../../errors.js';
import { shq } from '../../remote/lab-host.js';
import { defineSwitch, type PowerAction, type PowerSwitch, powerSettings } from '../base.js';
import { commandsVia, viaSetting } from '../../remote/via.js';
import type { PowerContext } from '../registry.js';
import type { CommandRunner } from './shell.js';

const settings = powerSettings({
  /** The hub's location as uhubctl names it (`-l`): `1-1`, `2-1.4` (`uhubctl` lists them). */
  hub: z.string().regex(/^\d+(-\d+(\.\d+)*)?$/, 'give a location as uhubctl lists it: 1-1, 2-1.4'),
  /** The hub's port the board's power comes from (`-p`). */
  port: z.number().int().min(1).max(32),
  /** The uhubctl command: a path, or `sudo uhubctl` where the lab needs it. */
  command: z.string().min(1).default('uhubctl'),
  via: viaSetting,
});

type Settings = z.infer<typeof settings>;

/** A port's line in uhubctl's report, under the header it follows. */
export interface PortLine {
  /** "current": before any action (or without one); "on"/"off": after that request. */
  after: 'current' | 'on' | 'off';
  hub: string;
  /** Powered: "power" in the line; "off" printed: not. */
  on: boolean;
  text: string;
}

/** The lines of uhubctl's report for `port`, with the state each says. */
export function portLines(output: string, port: number): PortLine[] {
  const lines: PortLine[] = [];
  let header: 'current' | 'new' | undefined;
  let hub = '';
  let sent: 'on' | 'off' | undefined;
  for (const line of output.split('\n')) {
    const h = /^(Current|New) status for hub (\S+)/.exec(line);
    if (h) {
      header = h[1] === 'Current' ? 'current' : 'new';
      hub = h[2]!;
      continue;
    }
    const s = /^Sent power (on|off) request/.exec(line);
    if (s) {
      sent = s[1] as 'on' | 'off';
      continue;
    }
    const p = /^\s+Port (\d+): ([0-9a-f]{4})(.*)$/.exec(line);
    if (!p || Number(p[1]) !== port || !header) continue;
    const words = p[3]!
      .replace(/\[.*\]/, '')
      .trim()
      .split(/\s+/);
    lines.push({
      after: header === 'new' && sent ? sent : 'current',
      hub,
      on: !words.includes('off') && words.includes('power'),
      text: line.trim(),
    });
  }
  return lines;
}

export class UhubctlSwitch implements PowerSwitch {
  readonly describe: string;

  constructor(
    private s: Settings,
    private ctx: PowerContext,
    private runner: CommandRunner,
    where: string,
  ) {
    this.describe = `USB hub ${s.hub} port ${s.port}${where}`;
  }

  /** Runs uhubctl with `args` after the hub and port; its output. */
  private async run(args: string, a: PowerAction): Promise<string> {
    const cmd = `${this.s.command} -l ${shq(this.s.hub)} -p ${this.s.port}${args}`;
    a.write(`$ ${cmd}\n`);
    const r = await this.runner(cmd, a.timeoutS, { HIL_BOARD: this.ctx.board.name });
    a.write(
      `${r.output}${r.output.endsWith('\n') || !r.output ? '' : '\n'}[exit ${r.code ?? r.signal}${r.timedOut ? ', timed out' : ''}]\n`,
    );
    if (r.timedOut || r.code !== 0) {
      const first = r.output.trim().split('\n')[0] ?? '';
      throw new LabError(
        'power',
        `${this.describe}: \`${cmd}\` failed (` +
          `${r.timedOut ? `did not finish within ${a.timeoutS} s` : `exit ${r.code ?? r.signal}`})` +
          `${first ? `: ${first}` : ''}` +
          `${r.code === 127 ? ' (is uhubctl installed there? [power] command names it)' : ''}`,
      );
    }
    return r.output;
  }

  /** The port's lines after the last `want` request must all say `want`. */
  private check(output: string, want: 'on' | 'off', a: PowerAction): void {
    const after = portLines(output, this.s.port).filter((l) => l.after === want);
    if (!after.length) {
      a.note(`uhubctl's report shows no status of port ${this.s.port} after power ${want}: not checked`);
      return;
    }
    const wrong = after.find((l) => l.on !== (want === 'on'));
    if (wrong)
      throw new LabError(
        'power',
        `${this.describe}: the hub still reports "${wrong.text}" after power ${want}: does hub ${wrong.hub} switch its ports one by one ("ppps" in \`uhubctl\`'s list)?`,
      );
  }

  async on(a: PowerAction): Promise<void> {
    this.check(await this.run(' -a on', a), 'on', a);
  }

  async off(a: PowerAction): Promise<void> {
    this.check(await this.run(' -a off', a), 'off', a);
  }

  /** uhubctl's own cycle: off, `-d` seconds, on. */
  async cycle(delayS: number, a: PowerAction): Promise<void> {
    this.check(await this.run(` -a cycle -d ${delayS}`, a), 'on', a);
  }

  /** On if a hub (of a USB3 hub's two) says the port is powered; off if every one says off. */
  async state(a: PowerAction): Promise<'on' | 'off' | 'unknown'> {
    const now = portLines(await this.run('', a), this.s.port).filter((l) => l.after === 'current');
    if (!now.length) return 'unknown';
    return now.some((l) => l.on) ? 'on' : 'off';
  }
}

export const uhubctlPower = defineSwitch({
  kind: 'uhubctl',
  summary: "a USB hub port's power, switched by uhubctl",
  notes:
    "`hub` is uhubctl's location (`-l 1-1`), `port` its `-p`; a reset is `-a cycle -d <cycle_delay>` (default 2 s, " +
    'uhubctl\'s); a port the hub reports unswitched is a lab error; `via = "lab_host"`: uhubctl runs on the ' +
    "board's `[lab_host]`",
  settings,
  defaultCycleDelay: 2,
  create: (s, ctx) => {
    const { run, where } = commandsVia(ctx.board, s.via, 'power kind "uhubctl" with via = "lab_host"');
    return new UhubctlSwitch(s, ctx, run, where);
  },
});
