// The shared base of power drivers: a driver says how to switch its board (and, where it
// can, how to read whether it is on); the base does the rest, the same for every driver:
//
// - power.log: a line per action (`# <time> power on: <device>`), whatever the driver adds
//   through the action's write()/note(), and the error of an action that failed;
// - secrets (runner/config/env.ts): masked in all of it, and in the error thrown;
// - the action's time limit, [timeouts] power (a cycle: plus its delay): the action's
//   signal aborts when it runs out, and an action that does not end by then (a driver that
//   ignores its signal) is a lab error a moment later, naming the device;
// - the off-to-on delay, [power] cycle_delay: a reset is off, the delay, on (unless the
//   driver cycles natively and is given the delay), and a board switched off in this run is
//   kept off that long before it is switched on again (the next case on the same board);
// - a fresh boot on power-on: a board the driver reads as on already is cycled instead.
//
// labgrid's PowerProtocol (on, off, cycle with a delay, get) and tbot's PowerControl
// (power_check, powercycle_delay) are the same contract.
import { appendFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { redact } from '../config/env.js';
import { shownTime } from '../config/paths.js';
import { kindOf, LabError } from '../errors.js';
import {
  type Attached,
  definePower,
  type Power,
  type PowerContext,
  type PowerKind,
  type PowerState,
} from './registry.js';

/** The [power] keys every driver on the base reads, besides its own. */
export const commonPowerSettings = {
  /** Seconds the board stays off between off and on: in a reset, and before a power-on
   * that follows a power-off of the same board in this run (labgrid's `delay`, tbot's
   * `powercycle_delay`). Default: the driver's (0 for the shell, ssh and qemu kinds). */
  cycle_delay: z.number().nonnegative().optional(),
};

/** A driver's settings: its own keys and the common ones, strict (a misspelt key is an error). */
export const powerSettings = <S extends z.ZodRawShape>(shape: S) =>
  z.object({ ...shape, ...commonPowerSettings }).strict();

export type PowerActionName = 'attach' | 'on' | 'off' | 'cycle' | 'state';

/** One action as the driver sees it. */
export interface PowerAction {
  readonly name: PowerActionName;
  /** Aborted when the action's time is up (the reason: a LabError saying so) and, for every
   * action but off (which runs on every path), when the run is interrupted. */
  readonly signal: AbortSignal;
  /** The action's time limit, s (0: none). */
  readonly timeoutS: number;
  /** Appends to power.log as it is (a command's output), secrets masked. Usable after the
   * action too (what a simulator prints later). */
  write(text: string): void;
  /** Appends a comment line (`# ...`) to power.log, secrets masked. */
  note(line: string): void;
}

/** What a power driver implements: switching, and where it can, reading the state. */
export interface PowerSwitch {
  /** The device, as power.log and errors name it: `NETIO 10.0.0.5:80 output 3`. */
  readonly describe: string;
  /** Gets the board ready before the console opens (the virtual board's QEMU starts). */
  attach?(a: PowerAction): Promise<Attached>;
  /** Seconds attach may wait beyond [timeouts] power (a pool's wait for a free board). */
  readonly attachWaitS?: number;
  on(a: PowerAction): Promise<void>;
  /** Safe to call on every path, more than once. */
  off(a: PowerAction): Promise<void>;
  /** True when there is nothing to switch off: the driver itself started the board and has
   * not (the virtual board's QEMU before it was started). Then off is not logged either:
   * power.log says only what was done. */
  idle?(): boolean;
  /** A cycle the device does itself (uhubctl -a cycle -d, a reset command, QEMU's
   * system_reset): off, `delayS`, on. Without it the base switches off, waits, switches on. */
  cycle?(delayS: number, a: PowerAction): Promise<void>;
  /** Whether the board is on, as the device says. */
  state?(a: PowerAction): Promise<PowerState>;
}

/** How long an action that ran out of time is given to end by itself (its own error, which
 * says more) before the base's error ends it. */
export const GRACE_MS = 1000;

/** When each switch was last switched off in this process (board file and device): the
 * off-to-on delay holds across the cases of a run, each with a driver of its own. */
const lastOff = new Map<string, number>();

/** Forgets every switch-off (for tests). */
export const forgetSwitchOffs = () => lastOff.clear();

export class ManagedPower implements Power {
  constructor(
    readonly sw: PowerSwitch,
    private ctx: PowerContext,
    /** The off-to-on delay, s. */
    readonly cycleDelayS: number,
  ) {}

  private get key(): string {
    return `${this.ctx.board.file}\0${this.sw.describe}`;
  }

  /** Appends to power.log, masked; a case folder that is gone is no reason to fail. */
  private write(text: string): void {
    try {
      appendFileSync(this.ctx.logFile, redact(text));
    } catch {
      // the case's folder is gone: nothing to keep it in
    }
  }

  private note(line: string): void {
    this.write(`# ${line}\n`);
  }

  async attach(): Promise<Attached> {
    const attach = this.sw.attach?.bind(this.sw);
    if (!attach) return {};
    return this.act('attach', attach, this.sw.attachWaitS ?? 0);
  }

  /** A fresh boot: a board the switch reads as on is cycled; otherwise, once it has been
   * off for the delay, switched on. */
  async on(): Promise<void> {
    if (this.sw.state && (await this.state()) === 'on') {
      this.note('the board is on already: cycling it for a fresh boot');
      return this.reset();
    }
    return this.switchOn();
  }

  private async switchOn(): Promise<void> {
    await this.restedOff();
    await this.act('on', (a) => this.sw.on(a));
  }

  async off(): Promise<void> {
    if (this.sw.idle?.()) return;
    try {
      await this.act('off', (a) => this.sw.off(a));
    } finally {
      lastOff.set(this.key, Date.now());
    }
  }

  async reset(): Promise<void> {
    const d = this.cycleDelayS;
    const cycle = this.sw.cycle?.bind(this.sw);
    if (cycle) {
      await this.act('cycle', (a) => cycle(d, a), d);
      return;
    }
    await this.off();
    await this.switchOn();
  }

  async state(): Promise<PowerState> {
    const read = this.sw.state?.bind(this.sw);
    if (!read) return 'unknown';
    const s = await this.act('state', read);
    this.note(`power state: ${s}`);
    return s;
  }

  /** Waits until the board has been off for the delay since this run last switched it off. */
  private async restedOff(): Promise<void> {
    const since = lastOff.get(this.key);
    if (since === undefined || this.cycleDelayS <= 0) return;
    const left = since + this.cycleDelayS * 1000 - Date.now();
    if (left <= 0) return;
    this.note(`kept off ${(left / 1000).toFixed(2)} s more before power-on (cycle_delay ${this.cycleDelayS} s)`);
    const signal = this.ctx.signal();
    try {
      await sleep(left, undefined, { signal });
    } catch (e) {
      throw signal.aborted ? signal.reason : e;
    }
  }

  /** Runs one action of the driver: logged, timed, its error masked and named. */
  private async act<T>(name: PowerActionName, fn: (a: PowerAction) => Promise<T>, extraS = 0): Promise<T> {
    const sw = this.sw;
    const base = this.ctx.board.timeouts.power;
    const secs = base > 0 ? base + extraS : 0;
    const shown =
      name === 'cycle' ? `power cycle (off, ${extraS} s, on)` : name === 'attach' ? 'attach' : `power ${name}`;
    this.note(`${shownTime(new Date().toISOString())} ${shown}: ${sw.describe}`);
    const limit = new AbortController();
    const timer =
      secs > 0
        ? setTimeout(
            () =>
              limit.abort(
                new LabError(
                  'power',
                  redact(
                    `${sw.describe}: ${shown} did not finish within ${secs} s (the board's timeouts.power${
                      extraS ? (name === 'attach' ? ' and the wait for a free board' : ' and the cycle delay') : ''
                    })`,
                  ),
                ),
              ),
            secs * 1000,
          )
        : undefined;
    const run = this.ctx.signal();
    const signal = name === 'off' ? limit.signal : AbortSignal.any([limit.signal, run]);
    let grace: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    // The backstop: once the signal aborts, the driver has GRACE_MS to end by itself.
    const backstop = new Promise<never>((_, reject) => {
      onAbort = () => (grace = setTimeout(() => reject(signal.reason), GRACE_MS));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    backstop.catch(() => {});
    const a: PowerAction = {
      name,
      signal,
      timeoutS: secs,
      write: (text) => this.write(text),
      note: (line) => this.note(line),
    };
    try {
      if (name !== 'off' && run.aborted) throw run.reason;
      return await Promise.race([fn(a), backstop]);
    } catch (e) {
      const err = this.named(shown, e);
      this.note(`${shown} FAILED: ${err.message}`);
      throw err;
    } finally {
      clearTimeout(timer);
      clearTimeout(grace);
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  /** The driver's error as the run reports it: masked; one of no kind (a bug, a library's
   * error) becomes a lab error naming the device and the action. */
  private named(shown: string, e: unknown): Error {
    if (e instanceof Error && kindOf(e)) {
      e.message = redact(e.message);
      return e;
    }
    const msg = e instanceof Error ? e.message : String(e);
    return new LabError('power', redact(`${this.sw.describe}: ${shown}: ${msg}`));
  }
}

/** A power driver on the base: its settings (made with powerSettings()) and how to make its
 * switch; the base makes the Power. */
export function defineSwitch<S extends z.ZodTypeAny>(
  d: Omit<PowerKind<S>, 'role' | 'create'> & {
    /** The off-to-on delay when the board file gives no cycle_delay, s (default 0). */
    defaultCycleDelay?: number;
    create(settings: z.infer<S>, ctx: PowerContext): PowerSwitch;
  },
): PowerKind<S> {
  const { defaultCycleDelay, create, ...rest } = d;
  return definePower({
    ...rest,
    create: (settings: z.infer<S>, ctx: PowerContext) =>
      new ManagedPower(
        create(settings, ctx),
        ctx,
        (settings as { cycle_delay?: number }).cycle_delay ?? defaultCycleDelay ?? 0,
      ),
  });
}
