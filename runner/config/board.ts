// A board file (boards/<name>.toml): how to reach its console, switch its power, talk to its
// U-Boot and load images into it. The board's own keys are declared here with defaults and
// validation; the [console], [power] and [load.<method>] tables belong to their drivers,
// which declare their own settings (runner/drivers). An ostool U-Boot run config
// (TGOSKits' .github/workflows/uboot.toml) is read as a board too (config/ostool.ts).
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { envNames, expandEnvDeep } from './env.js';
import { isOstoolRunConfig, ostoolToBoard, type OstoolDefaults } from './ostool.js';
import { compileAll, type Pattern } from './regex.js';
import { searchDirs, shown } from './paths.js';
import { readToml, validate } from './toml.js';
import { boardAxvisorSchema } from './axvisor-settings.js';
import { labHostSchema } from './lab-host.js';
import { boardUsbSchema } from './usb.js';

export const seconds = z.number().nonnegative();

const ubootSchema = z
  .object({
    prompt: z.string().min(1).default('=> '),
    /** Text U-Boot prints during the countdown (a Rust-syntax regex). */
    autoboot: z.string().default('Hit any key to stop autoboot'),
    /** "key": wait for the countdown and send `interrupt_key`; "ctrl-c": send Ctrl-C
     * repeatedly from power-on until a prompt appears (ostool's way; no countdown race). */
    interrupt: z.enum(['key', 'ctrl-c']).default('key'),
    interrupt_key: z.string().min(1).default(' '),
    /** How often Ctrl-C is sent while waiting for the prompt, ms. */
    interrupt_every_ms: z.number().positive().default(100),
    /** Delay between typed characters, ms (LAVA uses 10 on Rockchip boards). */
    type_delay_ms: z.number().nonnegative().default(0),
    /** How the kernel is started: booti (arm64 Image), bootm (FIT/uImage), bootz. */
    boot_cmd: z.enum(['booti', 'bootm', 'bootz']).default('booti'),
    /** The line that hands the console over to the guest. */
    handoff: z.string().default('Starting kernel'),
    /** Power-ons that may go by without a prompt (the countdown missed: the board booted
     * on, or never offered one) before it is a lab error; each further one resets the board
     * and interrupts again. */
    attempts: z.number().int().min(1).default(2),
    /** Commands run at the prompt before loading (setenv, mmc dev, ...). */
    init_cmds: z.array(z.string()).default([]),
  })
  .strict();

const loadSchema = z
  .object({
    /** Load methods in order of preference; when one fails for an image the next is tried,
     * and the fallback is reported in results.json. Each has its table ([load.tftp]...). */
    methods: z.array(z.string().min(1)).min(1).default(['tftp']),
    /** Load addresses, as U-Boot expressions. */
    kernel_addr: z.string().default('${kernel_addr_r}'),
    initrd_addr: z.string().default('${ramdisk_addr_r}'),
    dtb_addr: z.string().default('${fdt_addr_r}'),
    /** Device tree passed to the kernel when a case brings none (a U-Boot address). */
    fdt_fallback: z.string().default('${fdtcontroladdr}'),
    /** The board's device tree file, loaded (or packed into the FIT) when a case brings
     * none: what ostool's run config calls dtb_file (TGOSKits: ${env:BOARD_DTB}). */
    dtb_file: z
      .string()
      .transform((s) => s.trim() || undefined)
      .optional(),
    /** Check each load with U-Boot's crc32 against the host's CRC-32. */
    verify: z.boolean().default(true),
    /** "raw": the kernel is loaded as it is and started with boot_cmd. "fit": kernel and DTB
     * are packed into a FIT image and started with `bootm`, as ostool does. */
    image_format: z.enum(['raw', 'fit']).default('raw'),
    /** FIT: where the kernel runs (its load and entry address), where the FIT image is
     * loaded, and what `bootm` is given. Numbers or U-Boot variables; omitted, ostool's
     * rules (kernel_addr_r or loadaddr; kernel_comp_addr_r, kernel_addr_c, or 32 MiB above
     * the kernel; the FIT's address). A case's keys of the same names win. */
    kernel_load_addr: z.string().optional(),
    fit_load_addr: z.string().optional(),
    bootm_addr: z.string().optional(),
  })
  .catchall(z.unknown());

/** The board's own storage, where "fs" guests are deployed through U-Boot. */
const storageSchema = z
  .object({
    /** U-Boot's block interface: `mmc`, `virtio`, `usb`, `scsi`, `sata`, `nvme`. */
    interface: z.enum(['mmc', 'virtio', 'usb', 'scsi', 'sata', 'nvme']),
    device: z.number().int().nonnegative().default(0),
    /** The FAT partition guests go to (0: a card with no partition table). */
    partition: z.number().int().nonnegative().default(1),
    /** Commands that make the device visible first (`virtio scan`, `mmc dev 1`, `usb start`). */
    prepare_cmds: z.array(z.string()).default([]),
    /** RAM an image is loaded to before it is written. */
    load_addr: z.string().default('${kernel_addr_r}'),
    /** RAM a written image is read back to, to be checked: far enough from load_addr. */
    readback_addr: z.string().default('${ramdisk_addr_r}'),
    block_size: z.number().int().positive().default(512),
    /** Regions of the storage that must be as their golden image before every case (a
     * loader, a boot partition): checked through U-Boot, restored when a case changed them. */
    guard: z
      .array(
        z
          .object({
            /** A name for reports (default: the image's file name). */
            name: z.string().min(1).optional(),
            /** The golden image, relative to the board file. */
            image: z.string().min(1),
            /** Where it starts on the device, in bytes (a multiple of block_size). */
            offset: z.number().int().nonnegative().default(0),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

/** Every wait the runner does on this board, in seconds: nothing is hard-coded below. */
const timeoutsSchema = z
  .object({
    /** A power command (or starting the virtual board's QEMU) to finish. */
    power: seconds.default(60),
    /** Power-on to a U-Boot prompt. Missing it is a lab error. */
    uboot: seconds.default(30),
    /** Per image load (TFTP, YMODEM, including verification). */
    load: seconds.default(120),
    /** Writing one image to the board's storage and reading it back. */
    deploy: seconds.default(300),
    /** One U-Boot command that is not a load. */
    command: seconds.default(20),
    /** The prompt coming back after a command, a Ctrl-C or a load. */
    prompt: seconds.default(5),
    /** A typed line coming back as its echo (characters lost on the line show here). */
    echo: seconds.default(1),
    /** Boot command to U-Boot's hand-off line, and the hand-off to the guest's first line. */
    first_output: seconds.default(60),
    /** The guest's shell prompt seen to shell_init_cmd typed (ostool waits 0.1 s). */
    shell_init_delay: seconds.default(0.1),
    /** Boot command to verdict when the case sets no `timeout` (ostool counts a case's
     * timeout from the boot command too). */
    case: seconds.default(600),
  })
  .strict();

const kindTable = z.object({ kind: z.string().min(1) }).passthrough();

export const boardSchema = z
  .object({
    name: z.string().min(1),
    /** Other names cases use in `board_type` (e.g. "ROC-RK3568-PC"). */
    aliases: z.array(z.string()).default([]),
    soc: z.string().default(''),
    arch: z.enum(['aarch64', 'riscv64', 'x86_64', 'loongarch64']).default('aarch64'),
    description: z.string().default(''),
    /** A case whose run ends as a lab error (never a failure) is run again, up to this many
     * times; every attempt is kept. A case's own `retries` overrides it. */
    retries: z.number().int().nonnegative().default(0),
    /** Whether a run holds a lease on the board (runner/lab/lease.ts), so that no other run
     * drives it meanwhile. Default: yes, unless its power is `qemu` (each run starts a
     * board of its own) or a pool's (`ostool-server`: the pool hands boards out itself). */
    lease: z.boolean().optional(),
    /** The board's USB (Rockchip rockusb): `hil flash` writes its storage through it. */
    usb: boardUsbSchema.optional(),
    /** The lab host the board is wired to, over SSH (power kind "ssh", via = "lab_host"). */
    lab_host: labHostSchema.optional(),
    console: kindTable.default({ kind: 'serial' }),
    power: kindTable,
    uboot: ubootSchema.default({}),
    load: loadSchema.default({}),
    timeouts: timeoutsSchema.default({}),
    storage: storageSchema.optional(),
    /** Where this lab keeps guest images for Axvisor's VM configs (see runner/axvisor/plan.ts). */
    axvisor: boardAxvisorSchema.optional(),
    /** Lines that mean U-Boot itself is in trouble: an infrastructure error, not a test
     * failure (LAVA's list plus the common load failures). */
    uboot_errors: z
      .array(z.string())
      .default([
        'Resetting CPU',
        'Must RESET board to recover',
        'TFTP error',
        'Retry count exceeded',
        '^## Error',
        'Wrong Image Format',
        'Bad Linux ARM64 Image magic',
        "ERROR: can't get kernel image",
        'Synchronous Abort',
        '"Error" handler',
      ]),
  })
  .strict();

type BoardDoc = z.infer<typeof boardSchema>;

/** A driver and its validated settings. */
export interface DriverUse {
  kind: string;
  settings: Record<string, unknown>;
}

/** The board's console: its driver, and what the runner does when it goes away. */
export interface ConsoleUse extends DriverUse {
  /** Seconds a console that went away (ser2net restarted, an adapter re-enumerating) may
   * take to come back before the case ends as a lab error; undefined: the driver's own
   * bound (a serial console's `reappear_timeout`), else 0 (lost at once). */
  reattach_timeout?: number;
}

/** [console] keys of every kind, read by the runner rather than by the console's driver. */
const consoleCommon = z.object({ reattach_timeout: seconds.optional() }).strict();

export interface Board extends Omit<BoardDoc, 'console' | 'power' | 'load'> {
  file: string;
  console: ConsoleUse;
  power: DriverUse;
  load: z.infer<typeof loadSchema> & { settings: Record<string, Record<string, unknown>> };
  ubootErrors: Pattern[];
  /** Case defaults an ostool run config carries (dtb_file, addresses, timeout...). */
  caseDefaults?: OstoolDefaults;
  /** ostool's local runner does not check a case's board_type against its run config. */
  anyBoardType?: boolean;
  /** Whether the file says the architecture (an ostool run config does not: the build's
   * target does). */
  archKnown: boolean;
}

/** One driver's table as the file gives it: its kind and its settings, not yet checked
 * against the driver's own schema (runner/drivers/board.ts does that). */
function driverTable(table: Record<string, unknown>): DriverUse {
  const { kind, ...settings } = table as { kind: string };
  return { kind, settings };
}

/** The [load] keys of every board; any other key is a load method's own table. */
export const LOAD_CORE = new Set(Object.keys(loadSchema.shape));

/** A board by name (boards/<name>.toml in the lab, then the runner's own) or by path. */
export function resolveBoardFile(nameOrPath: string): string {
  if (nameOrPath.endsWith('.toml') || nameOrPath.includes('/')) {
    if (!existsSync(nameOrPath)) throw new ConfigError(`board file ${nameOrPath} does not exist`);
    return path.resolve(nameOrPath);
  }
  for (const dir of searchDirs('boards')) {
    const file = path.join(dir, `${nameOrPath}.toml`);
    if (existsSync(file)) return file;
  }
  throw new ConfigError(
    `unknown board "${nameOrPath}": known boards are ${listBoardNames().join(', ')} (or give a path to a board TOML or an ostool U-Boot run config)`,
  );
}

export function listBoardNames(): string[] {
  const names = new Set<string>();
  for (const dir of searchDirs('boards')) {
    if (existsSync(dir)) for (const f of readdirSync(dir)) if (f.endsWith('.toml')) names.add(f.slice(0, -5));
  }
  return [...names].sort();
}

/** The environment to load a board file with where its variables may be unset (listings,
 * the nightly matrix, computed away from the lab's secrets): each unset `${env:NAME}`
 * gets a stand-in value, so the file is described either way. */
export function standInEnv(nameOrPath: string): { env: NodeJS.ProcessEnv; needs: string[]; missing: string[] } {
  const needs = envNames(readToml(resolveBoardFile(nameOrPath)));
  const missing = needs.filter((n) => process.env[n] === undefined);
  return { env: { ...process.env, ...Object.fromEntries(missing.map((n) => [n, '1'])) }, needs, missing };
}

/** Parses and validates a board file, but not its drivers' own settings: those are checked
 * by the drivers (runner/drivers/board.ts `loadBoard`, what the runner calls), so this file
 * imports no driver. With `expand`, `${env:NAME}` values must be set. */
export function readBoard(nameOrPath: string, opts: { expand?: boolean; env?: NodeJS.ProcessEnv } = {}): Board {
  const file = resolveBoardFile(nameOrPath);
  const where = shown(file);
  let raw = readToml(file);
  let caseDefaults: OstoolDefaults | undefined;
  let anyBoardType = false;
  if (isOstoolRunConfig(raw)) {
    ({ board: raw, defaults: caseDefaults } = ostoolToBoard(raw, file));
    anyBoardType = true;
  }
  const doc = opts.expand !== false ? expandEnvDeep(raw, where, opts.env) : raw;
  if (caseDefaults && opts.expand !== false) caseDefaults = expandEnvDeep(caseDefaults, where, opts.env);
  const b = validate(boardSchema, doc, where);
  const { reattach_timeout, ...consoleTable } = b.console as Record<string, unknown>;
  const common = validate(
    consoleCommon,
    reattach_timeout === undefined ? {} : { reattach_timeout },
    where,
    'console',
  ) as z.infer<typeof consoleCommon>;
  const consoleUse: ConsoleUse = { ...driverTable(consoleTable), ...common };
  const powerUse = driverTable(b.power);
  const settings: Record<string, Record<string, unknown>> = {};
  for (const k of new Set([...b.load.methods, ...Object.keys(b.load).filter((k) => !LOAD_CORE.has(k))]))
    settings[k] = (b.load[k] ?? {}) as Record<string, unknown>;
  const board: Board = {
    ...b,
    file,
    console: consoleUse,
    power: powerUse,
    load: { ...b.load, settings },
    ubootErrors: compileAll(b.uboot_errors, `${where}: uboot_errors`),
    caseDefaults,
    anyBoardType,
    archKnown: 'arch' in doc,
  };
  return board;
}
