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
import { Fastboot, type FastbootTransport, UdpTransport, UsbTransport } from '../../transfer/fastboot.js';
import { hex4, openUsb, requireUsbBus } from '../../usb/usb.js';
import { figures, type HostImage, type TransferFigures } from '../../transfer/image.js';
import { progress } from '../../transfer/progress.js';
import { verifyLoad } from '../../transfer/verify.js';
import { defineLoad, type LoadContext, type Loader } from '../registry.js';

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
    const given = this.ctx.fastboot;
    if (this.s.host) return { host: this.s.host, port: this.s.port };
    if (given) return given;
    throw new LabError('load', `board ${this.ctx.board.name}: [load.fastboot] host is not set: the board's address (U-Boot's ipaddr) is needed to reach fastboot over UDP`);
  }

  /** Types the fastboot command and connects once U-Boot is ready for it (over UDP, at `udp`). */
  private async start(img: HostImage, addr: string, udp?: { host: string; port: number }): Promise<FastbootTransport> {
    const { uboot } = this.ctx;
    const size = `-l ${addr} -s 0x${img.size.toString(16)}`;
    if (!udp) {
      requireUsbBus(); // before anything is typed: a host without USB cannot go on
      await uboot.enter(`fastboot ${size} usb 0`, 'load');
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
    await uboot.enter(`fastboot ${size} udp`, 'load');
    await uboot.expect(
      [/Listening for fastboot command on/],
      'load',
      this.s.start_timeout,
      'U-Boot did not start fastboot over UDP (is CONFIG_UDP_FUNCTION_FASTBOOT in this U-Boot, and its network up?)',
    );
    return UdpTransport.open(udp.host, udp.port, { timeoutMs: this.s.packet_timeout_ms, tries: this.s.packet_tries, signal: this.ctx.signal() });
  }

  async load(img: HostImage, addr: string): Promise<TransferFigures> {
    const { uboot, board } = this.ctx;
    const bytes = readFileSync(img.path);
    const t0 = performance.now();
    const bar = progress(`fastboot ${img.role} ${path.basename(img.path)}`, img.size, this.ctx.log);
    let t: FastbootTransport | undefined;
    const s = this.s;
    const udp = s.transport === 'udp' ? this.where() : undefined;
    const over = udp ? `udp:${udp.host}:${udp.port}` : `usb ${hex4(s.usb_vid)}:${hex4(s.usb_pid)}${s.usb_path ? ` at ${s.usb_path}` : ''}`;
    const what = `fastboot load of the ${img.role} ${path.basename(img.path)} over ${over}`;
    try {
      t = await this.start(img, addr, udp);
      const fb = new Fastboot(t, (line) => this.ctx.console.transcript.note(`fastboot INFO ${line}`));
      const most = Number.parseInt(await fb.getvar('max-download-size'), 16);
      if (Number.isFinite(most) && most < img.size) throw new LabError('load', `the image is ${img.size} bytes and the device takes at most ${most} (max-download-size)`);
      await fb.download(bytes, t.dataRoom, (n) => bar.update(n));
      await fb.command('continue');
    } catch (e) {
      if (!(e instanceof LabError)) throw e;
      throw new LabError('load', e.message.startsWith(what) ? e.message : `${what}: ${e.message}`);
    } finally {
      bar.stop();
      await t?.close();
    }
    const moved = (performance.now() - t0) / 1000;
    const done = await uboot.expect([/downloading of (\d+) bytes finished/], 'load', this.s.start_timeout, 'U-Boot did not report the download');
    await uboot.waitPrompt('load');
    if (Number(done.match![1]) !== img.size) throw new LabError('load', `fastboot: U-Boot received ${done.match![1]} bytes of the ${img.role}, the host file has ${img.size}`);
    if (board.load.verify) await verifyLoad(uboot, img, addr, board.timeouts.load);
    return figures(img, 'fastboot', moved, (performance.now() - t0) / 1000, board.load.verify, 0);
  }

  cleanup(): void {}
}

export const fastbootLoad = defineLoad({
  kind: 'fastboot',
  summary: "U-Boot's fastboot over UDP (`fastboot udp`, port 5554: host, port, board_ip) or USB (`fastboot usb 0`: usb_vid, usb_pid, usb_path)",
  settings,
  create: (s, ctx) => new FastbootLoader(s, ctx),
});
