// ostool's U-Boot run config (`.uboot.toml`; TGOSKits' .github/workflows/uboot.toml), read as
// a board with ostool's meaning of every key (ostool 0.24, `run/uboot.rs` UbootConfig and
// LocalUbootConfig, the version TGOSKits pins):
//   serial, baud_rate (a string)      the local serial console
//   board_reset_cmd                   a shell command that resets (starts) the board; none:
//                                     ostool waits for a person to power it
//   board_power_off_cmd               run at the end, whatever happened
//   [net] interface, board_ip,        TFTP: the server is this host's address on
//     gatewayip, netmask, tftp_dir    `interface`; a board_ip means a static address, else
//                                     DHCP; tftp_dir is the folder the server serves.
//                                     No [net]: the image goes over the console (loady).
//   dtb_file, kernel_load_addr,       the FIT image ostool builds and boots with bootm
//     fit_load_addr, bootm_addr
//   success_regex, fail_regex, uboot_cmd, shell_prefix, shell_init_cmd, timeout
//                                     what a board case overrides (merge_board_test_uboot_config:
//                                     the patterns, uboot_cmd and shell keys always; dtb_file,
//                                     the addresses and timeout only when the case gives them)
// ostool always interrupts U-Boot with Ctrl-C until a prompt shows, and boots a FIT image.
import path from 'node:path';

export interface OstoolDefaults {
  dtb_file?: string;
  kernel_load_addr?: string;
  fit_load_addr?: string;
  bootm_addr?: string;
  timeout?: number;
  success_regex: string[];
  fail_regex: string[];
  uboot_cmd?: string[];
  shell_prefix?: string;
  shell_init_cmd?: string;
  /** Keys ostool's run config does not have (ostool ignores them too). */
  unknown: string[];
}

const RUN_CONFIG_KEYS = new Set([
  'serial',
  'baud_rate',
  'board_reset_cmd',
  'board_power_off_cmd',
  'net',
  'dtb_file',
  'kernel_load_addr',
  'fit_load_addr',
  'bootm_addr',
  'success_regex',
  'fail_regex',
  'uboot_cmd',
  'shell_prefix',
  'shell_init_cmd',
  'timeout',
]);

/** A board file has a `name`; an ostool run config has a serial console and no name. */
export function isOstoolRunConfig(doc: Record<string, unknown>): boolean {
  return doc.name === undefined && ['serial', 'baud_rate', 'board_reset_cmd', 'net'].some((k) => k in doc);
}

/** ostool trims strings and treats an empty one as absent. */
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim() : undefined);
const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** The board document (our board-file format) an ostool run config means. */
export function ostoolToBoard(
  doc: Record<string, unknown>,
  file: string,
): { board: Record<string, unknown>; defaults: OstoolDefaults } {
  const net = (doc.net ?? undefined) as Record<string, unknown> | undefined;
  const board: Record<string, unknown> = {
    name:
      path
        .basename(file)
        .replace(/\.toml$/, '')
        .replace(/^\./, '') || 'ostool-board',
    description: `ostool U-Boot run config ${path.basename(file)}`,
    console: {
      kind: 'serial',
      ...(doc.serial !== undefined ? { port: doc.serial } : {}),
      ...(doc.baud_rate !== undefined ? { baud: doc.baud_rate } : {}),
    },
    power: {
      kind: 'shell',
      ...(str(doc.board_reset_cmd) ? { reset: doc.board_reset_cmd } : {}),
      ...(str(doc.board_power_off_cmd) ? { off: doc.board_power_off_cmd } : {}),
    },
    uboot: { interrupt: 'ctrl-c', boot_cmd: 'bootm' },
    load: {
      image_format: 'fit',
      methods: net ? ['tftp', 'ymodem'] : ['ymodem'],
      ...(net
        ? {
            tftp: {
              // ostool without tftp_dir uses the system's tftpd-hpa, whose Debian folder is /srv/tftp.
              dir: str(net.tftp_dir) ? net.tftp_dir : '/srv/tftp',
              ...(str(net.interface) ? { interface: net.interface } : {}),
              ...(str(net.board_ip) ? { board_ip: net.board_ip } : { dhcp: true }),
              ...(str(net.netmask) ? { netmask: net.netmask } : {}),
              ...(str(net.gatewayip) ? { gateway_ip: net.gatewayip } : {}),
            },
          }
        : {}),
    },
  };
  if (typeof doc.timeout === 'number') board.timeouts = { case: doc.timeout };
  const defaults: OstoolDefaults = {
    dtb_file: doc.dtb_file as string | undefined,
    kernel_load_addr: doc.kernel_load_addr as string | undefined,
    fit_load_addr: doc.fit_load_addr as string | undefined,
    bootm_addr: doc.bootm_addr as string | undefined,
    timeout: typeof doc.timeout === 'number' ? doc.timeout : undefined,
    success_regex: strs(doc.success_regex),
    fail_regex: strs(doc.fail_regex),
    uboot_cmd: Array.isArray(doc.uboot_cmd) ? strs(doc.uboot_cmd) : undefined,
    shell_prefix: str(doc.shell_prefix),
    shell_init_cmd: str(doc.shell_init_cmd),
    unknown: Object.keys(doc).filter((k) => !RUN_CONFIG_KEYS.has(k)),
  };
  return { board, defaults };
}
