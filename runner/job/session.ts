// A board session: the resources one case holds on one board, from power-on to power-off:
// the power driver, the console driver's port with its transcript, the U-Boot driver on
// that console, and the load methods. All of them come from the driver registry; the
// session only puts them together. close() always powers the board off and ends every
// process it started, whatever happened before (except when the console belongs to
// another run: a board someone else holds is never touched).
import path from 'node:path';
import type { Board } from '../config/board.js';
import { Console } from '../console/console.js';
import type { ConsolePort } from '../console/port.js';
import { Transcript } from '../console/transcript.js';
import { LabError } from '../errors.js';
import {
  driver,
  type Attached,
  type Loader,
  type PoolRequest,
  type Power,
  type Resources,
  resourcesOf,
} from '../drivers/registry.js';
import { UBoot } from '../uboot/driver.js';
import { UBootStorage } from '../uboot/storage.js';
import { redact } from '../config/env.js';

export interface SessionOptions {
  /** Where the transcript and logs go. */
  outDir: string;
  /** The signal of the action now running. */
  signal: () => AbortSignal;
  /** One line per step for the person watching. */
  log: (msg: string) => void;
  /** Unique per case run (staged files of two runs never meet). */
  runId: string;
  /** What the case asks of a board pool, and how long to wait for a free board. */
  pool?: PoolRequest;
}

export class BoardSession {
  readonly transcript: Transcript;
  readonly power: Power;
  private con?: Console;
  private ub?: UBoot;
  private attached: Attached = {};
  private loaders = new Map<string, Loader>();
  private storageDriver?: UBootStorage;
  private closing?: Promise<void>;
  /** Limits of steps now running inside the action (see within()). */
  private limits: AbortSignal[] = [];
  private powered = false;
  /** Set when the console belongs to someone else: then the board is not switched off. */
  private notOurs = false;
  private lostAc = new AbortController();
  /** Aborted with the console's ConsoleLost error when the console is lost for good (it
   * went away and did not come back within [console] reattach_timeout): the pipeline puts
   * it into every board phase's signal, so whatever the phase waits on ends at once. */
  readonly consoleLost: AbortSignal = this.lostAc.signal;
  readonly powerLog: string;

  constructor(
    readonly board: Board,
    readonly opts: SessionOptions,
  ) {
    this.transcript = new Transcript(opts.outDir);
    this.powerLog = path.join(opts.outDir, 'power.log');
    const kind = driver('power', board.power.kind)!;
    this.power = kind.create(board.power.settings as never, {
      board,
      log: opts.log,
      signal: opts.signal,
      outDir: opts.outDir,
      logFile: this.powerLog,
      vars: {},
      pool: opts.pool ?? { waitS: 0 },
    });
  }

  get log(): (msg: string) => void {
    return this.opts.log;
  }

  get signal(): AbortSignal {
    const base = this.opts.signal();
    return this.limits.length ? AbortSignal.any([base, ...this.limits]) : base;
  }

  /**
   * Runs `step` under a time limit of its own, inside the action's: every wait of the
   * drivers and of U-Boot ends when it runs out, with `timeout()` as the reason (one image's
   * load is bounded by [timeouts] load, whatever method moves it).
   */
  async within<T>(seconds: number, timeout: () => Error, step: () => Promise<T>): Promise<T> {
    const limit = new AbortController();
    const timer = setTimeout(() => limit.abort(timeout()), seconds * 1000);
    this.limits.push(limit.signal);
    try {
      return await step();
    } catch (e) {
      if (limit.signal.aborted && !this.opts.signal().aborted) throw limit.signal.reason;
      throw e;
    } finally {
      clearTimeout(timer);
      this.limits.splice(this.limits.indexOf(limit.signal), 1);
    }
  }

  /** Whether the console was opened (a failed power-on leaves it closed). */
  get consoleOpen(): boolean {
    return this.con !== undefined;
  }

  get console(): Console {
    if (!this.con) throw new LabError('console', 'the console is not open: start the board first');
    return this.con;
  }

  get uboot(): UBoot {
    if (!this.ub) throw new LabError('uboot', 'U-Boot is not reached yet: start the board first');
    return this.ub;
  }

  /** What the power driver attached (the virtual board's pty, its QEMU's pid...). */
  get resources(): Attached {
    return this.attached;
  }

  /** What the power driver gives the other drivers and actions (registry.ts's resource keys). */
  get provided(): Resources {
    return resourcesOf(this.attached);
  }

  /** Power on with the console already listening. */
  async powerOn(): Promise<void> {
    this.signal.throwIfAborted();
    const c = this.board.console;
    const kind = driver('console', c.kind)!;
    this.attached = await this.power.attach();
    this.transcript.note(
      `console ${c.kind}${this.attached.consolePath ? ` ${this.attached.consolePath}` : ''}` +
        `${c.settings.port ? ` ${String(c.settings.port)}` : ''}` +
        `${c.settings.baud ? ` at ${String(c.settings.baud)} baud` : ''}`,
    );
    let port: ConsolePort;
    try {
      port = await kind.open(c.settings as never, {
        board: this.board,
        log: this.log,
        signal: () => this.signal,
        outDir: this.opts.outDir,
        consolePath: this.attached.consolePath,
      });
    } catch (e) {
      if ((e as { busy?: boolean }).busy) this.notOurs = true;
      throw e;
    }
    this.con = new Console(port, this.transcript);
    const lost = this.con.lostSignal;
    if (lost.aborted) this.lostAc.abort(lost.reason);
    else lost.addEventListener('abort', () => this.lostAc.abort(lost.reason), { once: true });
    this.ub = new UBoot(
      this.con,
      this.board,
      () => this.signal,
      () => this.power.reset(),
    );
    this.transcript.note('power on');
    this.powered = true;
    await this.power.on();
  }

  /** The load method's driver for this session, made on first use. */
  loader(method: string): Loader {
    let l = this.loaders.get(method);
    if (!l) {
      const kind = driver('load', method);
      if (!kind) throw new LabError('load', `unknown load method "${method}"`);
      l = kind.create((this.board.load.settings[method] as never) ?? {}, {
        board: this.board,
        log: this.log,
        signal: () => this.signal,
        outDir: this.opts.outDir,
        uboot: this.uboot,
        console: this.console,
        resources: resourcesOf(this.attached),
        runId: this.opts.runId,
      });
      this.loaders.set(method, l);
    }
    return l;
  }

  /** The board's storage, through U-Boot. */
  get storage(): UBootStorage {
    if (!this.board.storage)
      throw new LabError('deploy', `board ${this.board.name} has no [storage] table: nothing to deploy to`);
    this.storageDriver ??= new UBootStorage(this.uboot, this.board.storage, this.board.timeouts.deploy);
    return this.storageDriver;
  }

  /** Power off, close the console, remove staged files. Never throws; a second call
   * waits for the first to finish. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    // The console closes first: a pty or USB-UART that vanishes on power-off is expected
    // then, not a lost port. The board is switched off even when power-on failed half
    // way (ostool runs its power-off command on every path), unless it is not ours.
    // Then power-off and the removal of staged images go together (on a lab host each is
    // a round trip of its own).
    const step = async (what: string, fn: () => Promise<unknown> | unknown) => {
      try {
        await fn();
        if (what === 'power off' && !this.notOurs)
          this.transcript.note(this.powered ? 'power off' : 'power off (the board may have been left on before)');
      } catch (e) {
        const msg = redact((e as Error).message);
        this.transcript.note(`${what} failed: ${msg}`);
        this.log(`warning: ${what} failed: ${msg}`);
      }
    };
    await step('console close', () => this.con?.close());
    await Promise.all([
      step('power off', () => (this.notOurs ? undefined : this.power.off())),
      step('staged images', async () => {
        for (const l of this.loaders.values()) await l.cleanup();
      }),
    ]);
    this.transcript.close();
  }
}
