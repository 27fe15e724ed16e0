// The driver registry (labgrid's resources/drivers/protocols, in our words). A driver is
// one file that declares its kind, its role, the settings it reads from the board file
// (a zod schema: the file and the code say the same thing) and how to make it. The
// pipeline only ever asks the registry, so a new console, power switch or load method is
// a new file and one line in drivers/index.ts, with no edit anywhere else.
//
// Declarations are light (zod only); what a driver needs at run time (serialport, a
// socket, a child process) is imported when it is made, so `hil preflight` and
// `--dry-run` never load it.
import type { z } from 'zod';
import type { Board } from '../config/board.js';
import type { Console } from '../console/console.js';
import type { ConsolePort } from '../console/port.js';
import type { HostImage, TransferFigures } from '../transfer/image.js';
import type { UBoot } from '../uboot/driver.js';

export type Role = 'console' | 'power' | 'load';

/** What every driver may use while it runs: the board, its own log, the run's signal. */
export interface DriverContext {
  board: Board;
  /** One line per step for the person watching. */
  log: (msg: string) => void;
  /** The signal of the action now running (its timeout, Ctrl-C). */
  signal: () => AbortSignal;
  /** The case's output folder (power.log, the virtual board's SD card...). */
  outDir: string;
}

// --- console: "bytes in, bytes out, close" -------------------------------------------

export interface ConsoleOpenContext extends DriverContext {
  /** Where the power driver says the console is (the virtual board's pty), if it does. */
  consolePath?: string;
}

// --- power: "attach, on, off" --------------------------------------------------------

/** What a power driver provides besides switching: where the console is, and the resources
 * it gives the other drivers (`provides`: the virtual board's TFTP folder and fastboot port). */
export interface Attached {
  consolePath?: string;
  /** Resources for the other drivers, by typed key (TFTP_ROOT, TFTP_SHARE, FASTBOOT_UDP,
   * BOOT_DEFAULTS). */
  provides?: Resources;
  /** The processes it started, as the kernel knows them (for the tests and the log). */
  pids?: number[];
}

// --- resources: what drivers give each other ------------------------------------------

/** A typed name in the bag of resources: the type says what a driver finds under it. */
export interface ResourceKey<T> {
  readonly name: string;
  /** Never set: carries T. */
  readonly __type?: T;
}

export const resourceKey = <T>(name: string): ResourceKey<T> => ({ name });

/** The resources drivers give each other (labgrid's resources, in a bag): a power driver
 * puts what it made (its TFTP folder, a forwarded port) under a typed key, a load method
 * takes it out, and neither knows the other. */
export class Resources {
  private items = new Map<ResourceKey<unknown>, unknown>();

  /** Puts `value` under `key` (undefined: nothing). */
  set<T>(key: ResourceKey<T>, value: T | undefined): this {
    if (value !== undefined) this.items.set(key as ResourceKey<unknown>, value);
    return this;
  }

  get<T>(key: ResourceKey<T>): T | undefined {
    return this.items.get(key as ResourceKey<unknown>) as T | undefined;
  }

  /** The names of what is in the bag, for logs and tests. */
  names(): string[] {
    return [...this.items.keys()].map((k) => k.name);
  }

  entries(): [ResourceKey<unknown>, unknown][] {
    return [...this.items.entries()];
  }
}

/** The folder a TFTP server for this board serves (the virtual board's QEMU serves one). */
export const TFTP_ROOT = resourceKey<string>('tftp root');
/** A TFTP server's share this host reaches only through an API (a board pool's session):
 * the tftp load method stages images there instead of in a folder. */
export const TFTP_SHARE = resourceKey<TftpShare>('tftp share');
/** How the board boots, as a board pool's boot profile says (below the case's keys, above
 * the board file's [load]): FIT addresses, and the pool's own device tree. */
export const BOOT_DEFAULTS = resourceKey<BootDefaults>('boot defaults');
/** Where this host reaches the board's fastboot over UDP (the virtual board's forwarded port). */
export const FASTBOOT_UDP = resourceKey<{ host: string; port: number }>('fastboot udp');

/** Everything a power driver attached gives the other drivers, in one bag. */
export const resourcesOf = (a: Attached): Resources => a.provides ?? new Resources();

/** A board pool's say on how its board boots (ostool-server's boot profile and preset DTB). */
export interface BootDefaults {
  kernel_load_addr?: string;
  fit_load_addr?: string;
  bootm_addr?: string;
  /** The pool's device tree for the board, fetched into the case's folder; for a case that
   * brings none. */
  dtb?: () => Promise<string | undefined>;
}

/** What a power driver reads of the board's power: `unknown` when it cannot tell. */
export type PowerState = 'on' | 'off' | 'unknown';

export interface Power {
  /** Gets the board ready to start and says where its console is, before power-on. */
  attach(): Promise<Attached>;
  /** Starts (or resets) the board. The console is already listening. */
  on(): Promise<void>;
  /** Switches the board off. Safe to call on every path, more than once. */
  off(): Promise<void>;
  /** Restarts the board with its console left open (the U-Boot countdown was missed): off,
   * the board's off-to-on delay ([power] cycle_delay), on. */
  reset(): Promise<void>;
  /** Whether the board is powered, as the switch reads it (labgrid's get(), tbot's
   * power_check); `unknown` when the driver cannot read it. */
  state(): Promise<PowerState>;
}

/** A Power of a driver written before state() (ostool-server's): state() is `unknown`. */
export type PowerWithoutState = Omit<Power, 'state'> & Partial<Pick<Power, 'state'>>;

/** A TFTP share behind an API: put a file, get the name U-Boot's tftpboot asks for. */
export interface TftpShare {
  /** Where the share is served from, for U-Boot's serverip (unset: leave serverip alone). */
  serverIp?: string;
  /** The board's own address as the share's owner says it (a static one), else DHCP when
   * `dhcp` (the board file's [load.tftp] keys win over both). */
  boardIp?: string;
  netmask?: string;
  gatewayIp?: string;
  dhcp?: boolean;
  put(localPath: string, name: string, signal: AbortSignal): Promise<string>;
  /** Said in the load's log line. */
  describe: string;
}

/** What the case asks of a board pool: the pool's address and board type, if it says. */
export interface PoolRequest {
  server?: string;
  port?: number;
  boardType?: string;
  /** How long to wait for a free board (`hil run --wait`); 0: not at all. */
  waitS: number;
}

export interface PowerContext extends DriverContext {
  /** The case's say on a board pool (ostool's server/port/board_type keys) and `--wait`. */
  pool: PoolRequest;
  /** power.log: the commands run and what they said (secrets masked). */
  logFile: string;
  /** Values a driver may substitute into its settings ({disk}, {tftp_dir}...). */
  vars: Record<string, string>;
}

// --- load methods: one image from the host into the board's RAM ----------------------

export interface Loader {
  readonly method: string;
  load(img: HostImage, addr: string): Promise<TransferFigures>;
  /** Removes what it staged (TFTP files). Never throws. */
  cleanup(): void | Promise<void>;
}

export interface LoadContext extends DriverContext {
  uboot: UBoot;
  console: Console;
  /** What the power driver gives the load methods (TFTP_ROOT overrides a method's own
   * folder; TFTP_SHARE, a pool session's share; FASTBOOT_UDP, the virtual board's port). */
  resources: Resources;
  /** Unique per case run: staged files of two runs never meet. */
  runId: string;
}

interface KindBase<S extends z.ZodTypeAny> {
  kind: string;
  /** One line for `hil drivers` and error messages. */
  summary: string;
  /** What the README's driver table says besides the summary (Markdown, one paragraph):
   * `hil drivers --markdown` prints it, and a test keeps the README equal to that. */
  notes?: string;
  /** The driver's table in the board file (without `kind`). */
  settings: S;
}

export interface ConsoleKind<S extends z.ZodTypeAny = z.ZodTypeAny> extends KindBase<S> {
  role: 'console';
  open(settings: z.infer<S>, ctx: ConsoleOpenContext): Promise<ConsolePort>;
}

export interface PowerKind<S extends z.ZodTypeAny = z.ZodTypeAny> extends KindBase<S> {
  role: 'power';
  /** The power driver hands boards out one run at a time itself (a board pool), so the
   * runner's own lease (runner/lab/lease.ts) is not taken. */
  arbitrates?: boolean;
  create(settings: z.infer<S>, ctx: PowerContext): Power;
}

export interface LoadKind<S extends z.ZodTypeAny = z.ZodTypeAny> extends KindBase<S> {
  role: 'load';
  create(settings: z.infer<S>, ctx: LoadContext): Loader;
}

export type DriverKind = ConsoleKind | PowerKind | LoadKind;
type KindOf<R extends Role> = Extract<DriverKind, { role: R }>;

const kinds: { [R in Role]: Map<string, KindOf<R>> } = { console: new Map(), power: new Map(), load: new Map() };

export function register(d: DriverKind): void {
  const table = kinds[d.role] as Map<string, DriverKind>;
  if (table.has(d.kind)) throw new Error(`driver registry: two ${d.role} drivers are named "${d.kind}"`);
  table.set(d.kind, d);
}

/** The driver of a role and kind; undefined when none is registered. */
export function driver<R extends Role>(role: R, kind: string): KindOf<R> | undefined {
  return kinds[role].get(kind) as KindOf<R> | undefined;
}

export function kindsOf(role: Role): string[] {
  return [...kinds[role].keys()];
}

export function allDrivers(): DriverKind[] {
  return (Object.keys(kinds) as Role[]).flatMap((r) => [...kinds[r].values()] as DriverKind[]);
}

/** Helpers so a driver file reads as a declaration, with its settings' type inferred. */
export const defineConsole = <S extends z.ZodTypeAny>(d: Omit<ConsoleKind<S>, 'role'>): ConsoleKind<S> => ({
  role: 'console',
  ...d,
});
/** A power driver; one written before state() (PowerWithoutState) answers `unknown`. Drivers
 * built on the shared base (drivers/base.ts: defineSwitch) get logging, masking, the
 * timeout and the off-to-on delay from it. */
export const definePower = <S extends z.ZodTypeAny>(
  d: Omit<PowerKind<S>, 'role' | 'create'> & {
    create(settings: z.infer<S>, ctx: PowerContext): Power | PowerWithoutState;
  },
): PowerKind<S> => ({
  role: 'power',
  ...d,
  create: (settings, ctx) => {
    const p = d.create(settings, ctx);
    if (!p.state) p.state = async () => 'unknown';
    return p as Power;
  },
});
export const defineLoad = <S extends z.ZodTypeAny>(d: Omit<LoadKind<S>, 'role'>): LoadKind<S> => ({
  role: 'load',
  ...d,
});
