// Loading an image with U-Boot's `loady` over the serial console: for boards with no
// network in U-Boot, or where the network is what is under test. With `baud` the board
// switches speed for the transfer (`loady ADDR BAUD`: switch, press ENTER, send, switch
// back, press ESC) and the console follows it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { LabError } from '../../errors.js';
import { figures, type HostImage, type TransferFigures } from '../../transfer/image.js';
import { progress } from '../../transfer/progress.js';
import { verifyLoad } from '../../transfer/verify.js';
import { YmodemSender } from '../../transfer/ymodem.js';
import { defineLoad, type LoadContext, type Loader } from '../registry.js';

const settings = z
  .object({
    /** Transfer speed for `loady ADDR BAUD`; omitted: loady runs at the console's speed. */
    baud: z.number().int().positive().optional(),
    /** Seconds to wait for loady's first request ('C') and its messages. */
    start_timeout: z.number().positive().default(10),
    /** Seconds to wait for the answer to one block before resending it. */
    block_timeout: z.number().positive().default(5),
    /** Tries per block before the transfer fails. */
    block_tries: z.number().int().min(1).default(10),
    /** After a speed switch, the key U-Boot waits for is pressed this often (ms) ... */
    press_every_ms: z.number().positive().default(200),
    /** ... this many times at most. */
    press_tries: z.number().int().min(1).default(25),
  })
  .strict();

type Settings = z.infer<typeof settings>;

const TOTAL_SIZE = /## Total Size\s*=\s*0x[0-9a-fA-F]+\s*=\s*(\d+) Bytes/;

export class YmodemLoader implements Loader {
  readonly method = 'ymodem';

  constructor(
    private s: Settings,
    private ctx: LoadContext,
  ) {}

  private get con() {
    return this.ctx.console;
  }

  async load(img: HostImage, addr: string): Promise<TransferFigures> {
    const { uboot, board } = this.ctx;
    const s = this.s;
    const base = board.console.settings.baud as number | undefined;
    const fast = s.baud && s.baud !== base ? s.baud : undefined;
    if (fast && !base) throw new LabError('load', `[load.ymodem] baud = ${fast} needs a console whose speed can change (serial, rfc2217); this one is ${board.console.kind}`);
    const secs = board.timeouts.load;
    const bytes = readFileSync(img.path);
    const t0 = performance.now();
    await uboot.enter(`loady ${addr}${fast ? ` ${fast}` : ''}`, 'load');
    const ready = /## Ready for binary \(ymodem\) download/;
    const readyWhat = 'loady did not start (is YMODEM support, CONFIG_CMD_LOADB, in this U-Boot?)';
    if (fast) {
      await uboot.expect([/## Switch baudrate to \d+ bps and press ENTER/], 'load', s.start_timeout, `loady did not offer to switch to ${fast} baud`);
      await this.con.setBaud(fast);
      // "Ready for binary" must be a whole line, or the rest of its text would reach the sender.
      await this.pressUntil('\r', ready, false, readyWhat);
    } else {
      await uboot.expect([ready], 'load', s.start_timeout, readyWhat);
    }

    // From here the line carries YMODEM, not text.
    const sender = new YmodemSender((b) => this.con.write(b), this.ctx.signal());
    const restore = this.con.divert((c) => sender.feed(c));
    const bar = progress(`ymodem ${img.role} ${path.basename(img.path)}`, img.size, this.ctx.log);
    let sent: Awaited<ReturnType<YmodemSender['send']>>;
    try {
      sent = await sender.send(path.basename(img.path), bytes, {
        startTimeoutS: s.start_timeout,
        dataRequestS: 0,
        blockTimeoutS: s.block_timeout,
        blockTries: s.block_tries,
        onProgress: (done) => bar.update(done),
        onEvent: (what) => this.con.transcript.note(what),
      });
    } catch (e) {
      if (fast) await this.con.setBaud(base!).catch(() => undefined);
      throw e instanceof LabError ? new LabError('load', `YMODEM load of the ${img.role} ${path.basename(img.path)} failed: ${e.message}`) : e;
    } finally {
      bar.stop();
      restore();
      // Text that came right after the last answer belongs to the console again.
      this.con.lines.feed(sender.leftover());
    }
    const moved = (performance.now() - t0) / 1000;
    const total = await uboot.expect([TOTAL_SIZE], 'load', s.start_timeout, 'loady did not report the size it received');
    if (fast) {
      await uboot.expect([/## Switch baudrate to \d+ bps and press ESC/], 'load', s.start_timeout, 'loady did not offer to switch back');
      await this.con.setBaud(base!);
      await this.pressUntil('\x1b', uboot.prompt, true, 'no prompt after switching back');
    } else {
      await uboot.waitPrompt('load');
    }
    if (Number(total.match![1]) !== img.size) {
      throw new LabError('load', `loady received ${total.match![1]} bytes of the ${img.role}, the host file has ${img.size}`);
    }
    if (board.load.verify) await verifyLoad(uboot, img, addr, secs);
    return figures(img, 'ymodem', moved, (performance.now() - t0) / 1000, board.load.verify, sent.retries);
  }

  /**
   * After a speed switch U-Boot pauses, reprograms its UART (losing what is in its FIFO)
   * and pauses again before it reads the key; how long differs per board. So the key is
   * pressed every press_every_ms until U-Boot answers.
   */
  private async pressUntil(key: string, answer: RegExp, partial: boolean, what: string): Promise<void> {
    const { press_every_ms: every, press_tries: tries } = this.s;
    for (let i = 0; i < tries; i++) {
      await this.con.write(key);
      try {
        await this.con.expect([answer], { timeoutMs: every, partial, signal: this.ctx.signal(), onTimeout: () => new Error('again') });
        return;
      } catch (e) {
        if ((e as Error).message !== 'again') throw e;
      }
    }
    throw new LabError('load', `${what} within ${(tries * every) / 1000} s`);
  }

  cleanup(): void {}
}

export const ymodemLoad = defineLoad({
  kind: 'ymodem',
  summary: 'loady over the console (our YMODEM sender): baud, block_timeout, block_tries',
  settings,
  create: (s, ctx) => new YmodemLoader(s, ctx),
});
