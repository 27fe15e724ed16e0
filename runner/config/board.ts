// A board file (boards/<name>.toml): how to reach its console, switch its power, talk to
// its U-Boot and load images into it. Declared once here with defaults and validation
// (labgrid's habit), so the file and the code say the same thing.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { expandEnvDeep } from './env.js';
import { readToml, validate } from './toml.js';
import { translateAll, type Pattern } from './regex.js';
import { projectRoot, shown } from './paths.js';
import { boardAxvisorSchema } from '../axvisor/plan.js';

const seconds = z.number().nonnegative();
// ostool's run config writes the baud rate as a string ("${env:BOARD_COMM_UART_BAUD}").
const baud = z.union([z.number().int().positive(), z.string().regex(/^\d+$/).transform(Number)], {
  errorMap: () => ({ message: 'expected a baud rate such as 1500000 (a number, or a string of digits)' }),
});

const consoleSchema = z.object({
  /** Serial device; a /dev/serial/by-id path survives USB re-enumeration. Omitted for
   * `power.kind = "qemu"`: the console is the pty QEMU reports at start. */
  port: z.string().min(1).optional(),
  baud: baud.default(115200),
  /** How long to wait for the device node to (re)appear after power-on, seconds. */
  appear_timeout: seconds.default(5),
}).strict();

const shellPower = z.object({
  kind: z.literal('shell'),
  on: z.string().optional(),
  off: z.string().optional(),
  reset: z.string().optional(),
}).strict();

const qemuPower = z.object({
  kind: z.literal('qemu'),
  binary: z.string().default('qemu-system-aarch64'),
  /** QEMU arguments; `{tftp_dir}` becomes the run's TFTP folder. Must contain a pty
   * chardev for the console (`-chardev pty,id=s0 -serial chardev:s0`). */
  args: z.array(z.string()).min(1),
  /** The virtual board's SD card (`{disk}` in args): a raw image with one FAT32 partition,
   * made when missing. Without `path`, each case gets a fresh one in its output folder. */
  disk: z.object({
    path: z.string().min(1).optional(),
    size_mib: z.number().int().min(40).default(64),
  }).strict().optional(),
}).strict();

const ubootSchema = z.object({
  prompt: z.string().min(1).default('=> '),
  /** Text U-Boot prints during the countdown (a Rust-syntax regex). */
  autoboot: z.string().default('Hit any key to stop autoboot'),
  /** "key": wait for the countdown and send `interrupt_key`; "ctrl-c": send Ctrl-C
   * repeatedly from power-on until a prompt appears (ostool's way; no countdown race). */
  interrupt: z.enum(['key', 'ctrl-c']).default('key'),
  interrupt_key: z.string().min(1).default(' '),
  /** Delay between typed characters, ms (LAVA uses 10 on Rockchip boards). */
  type_delay_ms: z.number().nonnegative().default(0),
  /** How the kernel is started: booti (arm64 Image), bootm (FIT/uImage), bootz. */
  boot_cmd: z.enum(['booti', 'bootm', 'bootz']).default('booti'),
  /** The line that hands the console over to the guest. */
  handoff: z.string().default('Starting kernel'),
  /** Commands run at the prompt before loading (setenv, mmc dev, ...). */
  init_cmds: z.array(z.string()).default([]),
}).strict();

export const loadMethods = z.enum(['tftp', 'ymodem']);

const loadSchema = z.object({
  /** Load methods in order of preference; when one fails for an image the next is tried,
   * and the fallback is reported in results.json. */
  methods: z.array(loadMethods).min(1).default(['tftp']),
  /** Transfer speed for `loady ADDR BAUD`; omitted: loady runs at the console's speed. */
  ymodem_baud: z.number().int().positive().optional(),
  /** Seconds to wait for the answer to one YMODEM block before resending it. */
  ymodem_block_timeout: seconds.default(5),
  /** Tries per YMODEM block before the transfer fails. */
  ymodem_block_tries: z.number().int().min(1).default(10),
  /** Folder the TFTP server serves. Omitted on the virtual board (a per-run folder). */
  tftp_dir: z.string().optional(),
  /** `dhcp` before loading instead of a fixed board_ip. */
  dhcp: z.boolean().default(false),
  board_ip: z.string().optional(),
  server_ip: z.string().optional(),
  netmask: z.string().optional(),
  gateway_ip: z.string().optional(),
  /** Load addresses, as U-Boot expressions. */
  kernel_addr: z.string().default('${kernel_addr_r}'),
  initrd_addr: z.string().default('${ramdisk_addr_r}'),
  dtb_addr: z.string().default('${fdt_addr_r}'),
  /** Device tree passed to the kernel when a case brings none. */
  fdt_fallback: z.string().default('${fdtcontroladdr}'),
  /** Check each load with U-Boot's crc32 against the host's CRC-32. */
  verify: z.boolean().default(true),
}).strict();

/** The board's own storage, where "fs" guests are deployed through U-Boot. */
const storageSchema = z.object({
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
}).strict();

const timeoutsSchema = z.object({
  /** Power-on to a U-Boot prompt. Missing it is a lab error. */
  uboot: seconds.default(30),
  /** Per image load (TFTP, including verification). */
  load: seconds.default(120),
  /** Writing one image to the board's storage and reading it back. */
  deploy: seconds.default(300),
  /** One U-Boot command that is not a load. */
  command: seconds.default(20),
  /** Boot command to the guest's first line after the hand-off. */
  first_output: seconds.default(60),
  /** Whole case, used when the case sets no `timeout`. */
  case: seconds.default(600),
}).strict();

export const boardSchema = z.object({
  name: z.string().min(1),
  /** Other names cases use in `board_type` (e.g. "ROC-RK3568-PC"). */
  aliases: z.array(z.string()).default([]),
  soc: z.string().default(''),
  arch: z.enum(['aarch64', 'riscv64', 'x86_64', 'loongarch64']).default('aarch64'),
  description: z.string().default(''),
  console: consoleSchema.default({}),
  power: z.discriminatedUnion('kind', [shellPower, qemuPower]).superRefine((p, ctx) => {
    if (p.kind === 'shell' && !p.reset && !p.on) ctx.addIssue({ code: 'custom', message: 'a shell-powered board needs "reset" or "on" (a command that starts the board)' });
  }),
  uboot: ubootSchema.default({}),
  load: loadSchema.default({}),
  timeouts: timeoutsSchema.default({}),
  storage: storageSchema.optional(),
  /** Where this lab keeps guest images for Axvisor's VM configs (see runner/axvisor/plan.ts). */
  axvisor: boardAxvisorSchema.optional(),
  /** Lines that mean U-Boot itself is in trouble: an infrastructure error, not a test
   * failure (LAVA's list plus the common load failures). */
  uboot_errors: z.array(z.string()).default([
    'Resetting CPU', 'Must RESET board to recover', 'TFTP error', 'Retry count exceeded',
    '^## Error', 'Wrong Image Format', 'Bad Linux ARM64 Image magic', 'ERROR: can\'t get kernel image',
    'Synchronous Abort', '"Error" handler',
  ]),
}).strict();

export type BoardFile = z.infer<typeof boardSchema>;
export interface Board extends BoardFile {
  file: string;
  ubootErrors: Pattern[];
}

export const boardsDir = () => path.join(projectRoot, 'boards');

/** A board by name (boards/<name>.toml) or by path. */
export function resolveBoardFile(nameOrPath: string): string {
  if (nameOrPath.endsWith('.toml') || nameOrPath.includes('/')) {
    if (!existsSync(nameOrPath)) throw new ConfigError(`board file ${nameOrPath} does not exist`);
    return path.resolve(nameOrPath);
  }
  const file = path.join(boardsDir(), `${nameOrPath}.toml`);
  if (!existsSync(file)) {
    throw new ConfigError(`unknown board "${nameOrPath}": known boards are ${listBoardNames().join(', ')} (or give a path to a board TOML)`);
  }
  return file;
}

export function listBoardNames(): string[] {
  return readdirSync(boardsDir()).filter((f) => f.endsWith('.toml')).map((f) => f.slice(0, -5)).sort();
}

/** Parses and validates a board file. With `expand`, `${env:NAME}` values must be set. */
export function loadBoard(nameOrPath: string, opts: { expand?: boolean; env?: NodeJS.ProcessEnv } = {}): Board {
  const file = resolveBoardFile(nameOrPath);
  const where = shown(file);
  let doc = readToml(file);
  if (opts.expand !== false) doc = expandEnvDeep(doc, where, opts.env);
  const b = validate(boardSchema, doc, where);
  if (b.power.kind === 'shell' && !b.console.port) {
    throw new ConfigError(`${where}: console.port: a board with shell power needs a serial device path (a /dev/serial/by-id/... path is best)`);
  }
  if (b.power.kind === 'qemu' && !b.power.args.some((a) => /^pty,/.test(a) || /chardev pty/.test(a))) {
    throw new ConfigError(`${where}: power.args: the virtual board's console must be a pty chardev ("-chardev", "pty,id=s0", "-serial", "chardev:s0")`);
  }
  const tftp = b.load.methods.includes('tftp');
  if (tftp && !b.load.dhcp && b.power.kind === 'shell' && (!b.load.board_ip || !b.load.server_ip)) {
    throw new ConfigError(`${where}: load: set board_ip and server_ip, or dhcp = true`);
  }
  if (tftp && b.power.kind === 'shell' && !b.load.tftp_dir) {
    throw new ConfigError(`${where}: load.tftp_dir: the folder your TFTP server serves is needed to stage images`);
  }
  return { ...b, file, ubootErrors: translateAll(b.uboot_errors, `${where}: uboot_errors`) };
}
