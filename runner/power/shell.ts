// Power through the lab's own shell commands (a relay script, a PDU client, `uhubctl`),
// as ostool's board_reset_cmd / board_power_off_cmd. Output goes to the run's power.log.
import { appendFileSync } from 'node:fs';
import { execa } from 'execa';
import { LabError } from '../errors.js';
import type { Power } from './power.js';

export interface ShellPowerConfig {
  on?: string;
  off?: string;
  reset?: string;
}

export class ShellPower implements Power {
  constructor(private cfg: ShellPowerConfig, private logFile: string, private env: Record<string, string> = {}) {}

  async attach(): Promise<{ consolePath?: string }> {
    return {};
  }

  /** A reset puts the board into a fresh boot whatever state it was in, so it is preferred. */
  async on(): Promise<void> {
    const cmd = this.cfg.reset ?? this.cfg.on;
    if (cmd) await this.run(this.cfg.reset ? 'reset' : 'on', cmd);
  }

  async off(): Promise<void> {
    if (this.cfg.off) await this.run('off', this.cfg.off);
  }

  private async run(what: string, cmd: string): Promise<void> {
    appendFileSync(this.logFile, `$ ${cmd}\n`);
    const r = await execa(cmd, { shell: true, reject: false, all: true, timeout: 60_000, env: this.env, stdin: 'ignore' });
    appendFileSync(this.logFile, (r.all ?? '') + `\n[exit ${r.exitCode ?? r.signal}]\n`);
    if (r.failed) {
      const last = (r.all ?? '').trim().split('\n').pop() ?? '';
      throw new LabError('power', `power ${what} command failed (${r.timedOut ? 'timed out after 60 s' : `exit ${r.exitCode}`}): ${cmd}${last ? ` -> ${last}` : ''}`);
    }
  }
}
