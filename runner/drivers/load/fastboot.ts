// Loading images into RAM with U-Boot's fastboot: the runner types `fastboot -l ADDR -s SIZE
// udp` at the prompt (the download lands at the load address itself, nothing to copy),
// waits for U-Boot to listen, sends the image with `download:`, ends with `continue`
// (U-Boot leaves fastboot and prompts again), then checks the load with `crc32` as every
// other method does. A device that never answers, a FAIL, or a wrong size is a lab error
// naming the step.
//
// Where the device is: over UDP, `host`/`port` here (the board's address and U-Boot's port
// 5554), or what the power driver reports (the virtual board forwards a UDP port of this
// host); over USB (`fastboot usb 0`), U-Boot's gadget found by its ids and port path.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { LabError } from '../../errors.js';
import {
  Fastboot,
  FastbootFail,
  type FastbootTransport,
  UDP_WINDOW,
  UdpTransport,
  UsbTransport,
} from '../../transfer/fastboot.js';
import { hex4, openUsb, requireUsbBus } from '../../usb/usb.js';
import { figures, type HostImage, type TransferFigures } from '../../transfer/image.js';
import { progress } from '../../transfer/progress.js';
import { verifyLoad } from '../../transfer/verify.js';
import { defineLoad, FASTBOOT_UDP, type LoadContext, type Loader } from '../registry.js';

const settings = z
  .object({
    /** "udp": `fastboot udp` over the board's network; "usb": `fastboot usb 0` over its OTG port. */
    transport: z.enum(['udp', 'usb']).default('udp'),
    /** USB: U-Boot's fastboot gadget ids (its CONFIG_USB_GADGET_VENDOR_NUM/PRODUCT_NUM) and,
     * when two boards match, the port path (`1-2.3`). */
    usb_vid: z.number().int().default(0x18d1),
    usb_pid: z.number().int().default(0x4ee0),
    usb_path: z.string().optional(),
    /** The board's address (U-Boot's ipaddr); omitted, what the power driver reports. */
    host: z.string().min(1).optional(),
    port: z.number().int().min(1).max(65535).default(5554),
    /** U-Boot's own address for `fastboot udp` (setenv ipaddr before it), when it has none. */
    board_ip: z.string().optional(),
    /** Seconds to wait for U-Boot to listen, and for each packet's answer (ms) and tries. */
    start_timeout: z.number().positive().default(10),
    packet_timeout_ms: z.number().positive().default(500),
    packet_tries: z.number().int().min(1).default(10),
    /** UDP: how many packets of a download's data go out ahead of their answers. U-Boot's
     * net/fastboot.c takes them in order; AOSP's protocol says 1 (stop and wait), which a
     * device that drops what comes while it works needs (the window also halves by itself
     * each time a packet goes unanswered). At most 16: U-Boot's virtio-net driver has 32
     * receive buffers and, with 32 packets ahead, stops receiving for good. */
    udp_window: z.number().int().min(1).max(16).default(UDP_WINDOW),
    /** Seconds U-Boot may work on a flash or an erase before it answers (`hil flash
     * --partition`): eMMC writes of a large image take a while, and U-Boot is silent meanwhile
     * (over UDP it sends an INFO every 30 s). */
    flash_timeout: z.number().positive().default(300),
    /** The MMC device U-Boot's fastboot flashes (its CONFIG_FASTBOOT_FLASH_MMC_DEV), where
     * `hil flash --partition` reads the image back from. */
    mmc_dev: z.number().int().min(0).default(0),
    /** For `hil flash --partition`: raw areas of the board's storage by name, as U-Boot's
     * fastboot_raw_partition_<name> variables give them: "<first block> <blocks>" (e.g.
     * Rockchip's u-boot.itb area, uboot = "0x4000 0x2000"); set before fastboot starts. */
    raw_partitions: z
      .record(
        z.string().regex(/^\w+$/),
        z.string().regex(/^\s*\S+\s+\S+(\s+mmcpart\s+\d+)?\s*$/, 'give "<first block> <blocks>"'),
      )
      .default({}),
  })
  .strict();

type Settings = z.infer<typeof settings>;

export class FastbootLoader implements Loader {
  readonly method = 'fastboot';

  constructor(
    private s: Settings,
    private ctx: LoadContext,
  ) {}

  private where(): { host: string; port: number } {
    const given = this.ctx.resources.get(FASTBOOT_UDP);
    if (this.s.host) return { host: this.s.host, port: this.s.port };
    if (given) return given;
    throw new LabError(
      'load',
      `board ${this.ctx.board.name}: [load.fastboot] host is not set: the board's address (U-Boot's ipaddr) is needed to reach fastboot over UDP`,
    );
  }

  /** Where the device is, as messages name it; and its UDP address (none over USB). */
  private reach(): { over: string; udp?: { host: string; port: number } } {
    const s = this.s;
    const udp = s.transport === 'udp' ? this.where() : undefined;
    return {
      udp,
      over: udp
        ? `udp:${udp.host}:${udp.port}`
        : `usb ${hex4(s.usb_vid)}:${hex4(s.usb_pid)}${s.usb_path ? ` at ${s.usb_path}` : ''}`,
    };
  }

  /** Types the fastboot command (its options in `opts`) and connects once U-Boot is ready
   * for it (over UDP, at `udp`). */
  private async start(opts: string, phase: string, udp?: { host: string; port: number }): Promise<FastbootTransport> {
    const { uboot } = this.ctx;
    const size = opts ? `${opts} ` : '';
    if (!udp) {
      requireUsbBus(); // before anything is typed: a host without USB cannot go on
      await uboot.enter(`fastboot ${size}usb 0`, phase);
      const match = { vid: this.s.usb_vid, pid: this.s.usb_pid, path: this.s.usb_path };
      const deadline = performance.now() + this.s.start_timeout * 1000;
      for (;;) {
        try {
          const link = await openUsb(match, "U-Boot's fastboot gadget");
          return new UsbTransport(link);
        } catch (e) {
          // The gadget enumerates a moment after the command: looked for until start_timeout.
          if (performance.now() >= deadline) throw e;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    }
    if (this.s.board_ip) await uboot.setenv('ipaddr', this.s.board_ip);
    await uboot.enter(`fastboot ${size}udp`, phase);
    await uboot.expect(
      [/Listening for fastboot command on/],
      phase,
      this.s.start_timeout,
      'U-Boot did not start fastboot over UDP (is CONFIG_UDP_FUNCTION_FASTBOOT in this U-Boot, and its network up?)',
    );
    return UdpTransport.open(udp.host, udp.port, {
      timeoutMs: this.s.packet_timeout_ms,
      tries: this.s.packet_tries,
      window: this.s.udp_window,
      signal: this.ctx.signal(),
    });
  }

  async load(img: HostImage, addr: string): Promise<TransferFigures> {
    const { uboot, board } = this.ctx;
    const bytes = readFileSync(img.path);
    const t0 = performance.now();
    const bar = progress(`fastboot ${img.role} ${path.basename(img.path)}`, img.size, this.ctx.log);
    const { udp, over } = this.reach();
    await this.session(
      `fastboot load of the ${img.role} ${path.basename(img.path)} over ${over}`,
      'load',
      `-l ${addr} -s 0x${img.size.toString(16)}`,
      udp,
      async (fb, t) => {
        await this.download(fb, t, bytes, (n) => bar.update(n));
        await fb.continue();
      },
    ).finally(() => bar.stop());
    const moved = (performance.now() - t0) / 1000;
    const done = await uboot.expect(
      [/downloading of (\d+) bytes finished/],
      'load',
      this.s.start_timeout,
      'U-Boot did not report the download',
    );
    await uboot.waitPrompt('load');
    if (Number(done.match![1]) !== img.size)
      throw new LabError(
        'load',
        `fastboot: U-Boot received ${done.match![1]} bytes of the ${img.role}, the host file has ${img.size}`,
      );
    if (board.load.verify) await verifyLoad(uboot, img, addr, board.timeouts.load);
    return figures(img, 'fastboot', moved, (performance.now() - t0) / 1000, board.load.verify, 0);
  }

  /**
   * One stay in fastboot: U-Boot put into it (`fastboot OPTS udp|usb 0`), `step` run with
   * the client, the transport closed on every path. Lab errors are named by `what`.
   */
  private async session(
    what: string,
    phase: string,
    opts: string,
    udp: { host: string; port: number } | undefined,
    step: (fb: Fastboot, t: FastbootTransport) => Promise<void>,
  ): Promise<void> {
    let t: FastbootTransport | undefined;
    try {
      t = await this.start(opts, phase, udp);
      await step(new Fastboot(t, (line) => this.ctx.console.transcript.note(`fastboot INFO ${line}`)), t);
    } catch (e) {
      if (!(e instanceof LabError)) throw e;
      throw new LabError(phase, e.message.startsWith(what) ? e.message : `${what}: ${e.message}`);
    } finally {
      await t?.close();
    }
  }

  /** download:, once the device said it takes that much (max-download-size). */
  private async download(
    fb: Fastboot,
    t: FastbootTransport,
    bytes: Buffer,
    progress?: (n: number) => void,
  ): Promise<void> {
    const most = Number.parseInt(await fb.getvar('max-download-size'), 16);
    if (Number.isFinite(most) && most < bytes.length)
      throw new LabError(
        'load',
        `the image is ${bytes.length} bytes and the device takes at most ${most} (max-download-size)`,
      );
    await fb.download(bytes, t.dataRoom, progress);
  }

  /**
   * Writes an image to a partition of the board's storage through U-Boot's fastboot (`hil
   * flash --partition`): the raw partitions set, the partition's size asked first (an image
   * that does not fit is refused before anything is sent), then download, `erase` when
   * asked, `flash`, and `continue` back to U-Boot's prompt. U-Boot's own count of what it
   * wrote ("wrote N bytes to 'NAME'") is checked where it prints one (MMC).
   */
  async flash(
    image: string,
    partition: string,
    o: { erase?: boolean } = {},
  ): Promise<{ bytes: number; seconds: number; download_s: number; wrote?: number }> {
    const { uboot } = this.ctx;
    const bytes = readFileSync(image);
    if (!bytes.length) throw new LabError('flash', `${image} is empty: nothing to flash`);
    for (const [name, range] of Object.entries(this.s.raw_partitions))
      await uboot.setenv(`fastboot_raw_partition_${name}`, range.trim());
    const { udp, over } = this.reach();
    const t0 = performance.now();
    let downloaded = t0;
    const bar = progress(`fastboot flash ${partition} ${path.basename(image)}`, bytes.length, this.ctx.log);
    await this.session(
      `fastboot flash of ${path.basename(image)} to partition ${partition} over ${over}`,
      'flash',
      '',
      udp,
      async (fb, t) => {
        // U-Boot sizes named, numbered (0:1) and raw partitions; not its special names (mmc0,
        // gpt, mmc0boot0), which only `flash` itself resolves.
        const room = await fb.partitionSize(partition);
        if (room !== undefined && bytes.length > room)
          throw new LabError(
            'flash',
            `${path.basename(image)} is ${bytes.length} bytes and partition ${partition} has ${room}: nothing was written`,
          );
        await this.download(fb, t, bytes, (n) => bar.update(n));
        downloaded = performance.now();
        try {
          const wait = this.s.flash_timeout * 1000;
          if (o.erase) await fb.erase(partition, wait);
          await fb.flash(partition, wait);
        } catch (e) {
          if (!(e instanceof FastbootFail) || room !== undefined) throw e;
          const raw = Object.keys(this.s.raw_partitions);
          throw new LabError(
            'flash',
            `${e.message}: give a name from the board's partition table, a number such as 0:1 (U-Boot's dev:part), ` +
              `mmc0 for the whole card, or a raw range in [load.fastboot] ` +
              `raw_partitions${raw.length ? ` (now: ${raw.join(', ')})` : ''}`,
          );
        }
        await fb.continue();
      },
    ).finally(() => bar.stop());
    const seconds = (performance.now() - t0) / 1000;
    // Printed before fastboot's OKAY, so it is in the console's buffer already.
    const seen = await uboot.expect(
      [/wrote (\d+) bytes to '([^']*)'/, uboot.prompt],
      'flash',
      this.s.start_timeout,
      'U-Boot did not come back to its prompt after fastboot',
      [uboot.prompt],
    );
    let wrote: number | undefined;
    if (seen.index === 0) {
      wrote = Number(seen.match![1]);
      if (wrote < bytes.length)
        throw new LabError('flash', `U-Boot wrote ${wrote} bytes to ${partition}, the image has ${bytes.length}`);
      await uboot.waitPrompt('flash');
    }
    return { bytes: bytes.length, seconds, download_s: (downloaded - t0) / 1000, wrote };
  }

  /**
   * Where a partition `flash` wrote starts on the MMC device: a raw partition's first block,
   * block 0 for the whole card (mmc0), else what U-Boot's `part start` says of a name or a
   * `dev:part` number; undefined, with why, when it cannot be told.
   */
  async partitionStart(partition: string): Promise<{ dev: number; block: number; hwpart?: number } | { why: string }> {
    const raw = this.s.raw_partitions[partition];
    if (raw) {
      // "<first> <count> [mmcpart <n>]": an eMMC hardware partition (boot0, boot1) is chosen
      // with `mmc dev D N` before reading.
      const [first, , , hwpart] = raw.trim().split(/\s+/);
      return { dev: this.s.mmc_dev, block: Number(first), ...(hwpart !== undefined ? { hwpart: Number(hwpart) } : {}) };
    }
    if (/^mmc\d+$/.test(partition)) return { dev: Number(partition.slice(3)), block: 0 };
    const num = /^(\d+)(?:\.\d+)?:(\d+)$/.exec(partition);
    const [dev, part] = num ? [Number(num[1]), num[2]!] : [this.s.mmc_dev, partition];
    const r = await this.ctx.uboot.run(`part start mmc ${dev} ${part} hil_part_start`, {
      phase: 'flash',
      allowFail: true,
      errorsExpected: true,
    });
    const start = r.status === 0 ? await this.ctx.uboot.env('hil_part_start') : undefined;
    if (start === undefined) return { why: `U-Boot's \`part start mmc ${dev} ${part}\` did not say where it starts` };
    return { dev, block: Number.parseInt(start, 16) };
  }

  cleanup(): void {}
}

export const fastbootLoad = defineLoad({
  kind: 'fastboot',
  summary:
    "U-Boot's fastboot over UDP (`fastboot udp`, port 5554: host, port, board_ip) or USB (`fastboot usb 0`: usb_vid, usb_pid, usb_path)",
  notes: "`raw_partitions` for `hil flash --partition`; with the virtual board, its QEMU's forwarded UDP port",
  settings,
  create: (s, ctx) => new FastbootLoader(s, ctx),
});
