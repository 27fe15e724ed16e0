// Loading an image with U-Boot's `loady` over the serial console: for boards with no
// network in U-Boot, or where the network is what is under test. With `baud` the board
// switches speed for the transfer (`loady ADDR BAUD`: switch, press ENTER, send, switch
// back, press ESC) and the console follows it.
//
// Blocks go `window` at a time ahead of U-Boot's answers (its xyzModem.c takes queued blocks
// in order): the per-block turnaround is not paid. A board whose UART loses what comes while
// U-Boot stores a block shows it at once (a 'C', a NAK or silence): that transfer goes on
// stop and wait, and so does every later one of the session. Should U-Boot give up on a
// transfer that had blocks in flight (it lost its place in the stream), the image is loaded
// once more, stop and wait, before the load counts as failed.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { LabError } from '../../errors.js';
import { figures, type HostImage, type TransferFigures } from '../../transfer/image.js';
import { progress } from '../../transfer/progress.js';
import { verifyLoad } from '../../transfer/verify.js';
import { YmodemError, type YmodemResult, YmodemSender } from '../../transfer/ymodem.js';
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
    /** Data blocks sent ahead of U-Boot's answers; 1: stop and wait (a board that cannot
     * take more falls back to 1 by itself). */
    window: z.number().int().min(1).max(8).default(2),
    /** After a speed switch, the key U-Boot waits for is pressed this often (ms) ... */
    press_every_ms: z.number().positive().default(200),
    /** ... this many times at most. */
    press_tries: z.number().int().min(1).default(25),
  })
  .strict();

type Settings = z.infer<typeof settings>;

const TOTAL_SIZE = /## Total Size\s*=\s*0x[0-9a-fA-F]+\s*=\s*(\d+) Bytes/;
/** What loady prints when it gives up on a transfer, back at its prompt. */
const LEFT = /## Binary \(ymodem\) download aborted/;

/** A transfer with blocks in flight failed: worth once more, stop and wait. */
class StreamedFailure extends Error {
  constructor(
    readonly error: LabError,
    readonly fast: boolean,
  ) {
    super(error.message);
  }
}

export class YmodemLoader implements Loader {
  readonly method = 'ymodem';
  /** Blocks in flight: the setting, until this board showed it cannot take them. */
  private window: number;

  constructor(
    private s: Settings,
    private ctx: LoadContext,
  ) {
    this.window = s.window;
  }

  private get con() {
    return this.ctx.console;
  }

  async load(img: HostImage, addr: string): Promise<TransferFigures> {
    try {
      return await this.loadOnce(img, addr);
    } catch (e) {
      if (!(e instanceof StreamedFailure)) throw e;
      if (this.ctx.signal().aborted) {
        if (e.fast) await this.con.setBaud(this.ctx.board.console.settings.baud as number).catch(() => undefined);
        throw e.error;
      }
      // U-Boot gave up with blocks in flight: it lost its place in the stream. Back to its
      // prompt, and the image once more, stop and wait (for the rest of the session too).
      this.window = 1;
      const why = e.error.message;
      this.ctx.log(`${why}; loading it again, one block at a time`);
      this.con.transcript.note(`ymodem: the transfer with blocks in flight failed; once more, stop and wait`);
      await this.backToPrompt(e.fast);
      return await this.loadOnce(img, addr);
    }
  }

  private async loadOnce(img: HostImage, addr: string): Promise<TransferFigures> {
    const { uboot, board } = this.ctx;
    const s = this.s;
    const base = board.console.settings.baud as number | undefined;
    const fast = s.baud && s.baud !== base ? s.baud : undefined;
    if (fast && !base)
      throw new LabError(
        'load',
        `[load.ymodem] baud = ${fast} needs a console whose speed can change (serial, rfc2217); this one is ${board.console.kind}`,
      );
    const secs = board.timeouts.load;
    const bytes = readFileSync(img.path);
    const t0 = performance.now();
    await uboot.enter(`loady ${addr}${fast ? ` ${fast}` : ''}`, 'load');
    const ready = /## Ready for binary \(ymodem\) download/;
    const readyWhat = 'loady did not start (is YMODEM support, CONFIG_CMD_LOADB, in this U-Boot?)';
    if (fast) {
      await uboot.expect(
        [/## Switch baudrate to \d+ bps and press ENTER/],
        'load',
        s.start_timeout,
        `loady did not offer to switch to ${fast} baud`,
      );
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
    let sent: YmodemResult;
    try {
      sent = await sender.send(path.basename(img.path), bytes, {
        startTimeoutS: s.start_timeout,
        dataRequestS: 0,
        blockTimeoutS: s.block_timeout,
        blockTries: s.block_tries,
        window: this.window,
        leftWhen: LEFT,
        onProgress: (done) => bar.update(done),
        onEvent: (what) => this.con.transcript.note(what),
      });
      if (sent.fellBackAt) {
        this.window = 1;
        this.ctx.log(
          `ymodem: U-Boot did not keep up with ${sent.window} blocks in flight (at block ${sent.fellBackAt}); stop and wait from there on`,
        );
      }
    } catch (e) {
      const failed =
        e instanceof LabError
          ? new LabError('load', `YMODEM load of the ${img.role} ${path.basename(img.path)} failed: ${e.message}`)
          : e;
      if (e instanceof YmodemError && e.streamed) throw new StreamedFailure(failed as LabError, Boolean(fast));
      if (fast) await this.con.setBaud(base!).catch(() => undefined);
      throw failed;
    } finally {
      bar.stop();
      restore();
      // Text that came right after the last answer belongs to the console again.
      this.con.lines.feed(sender.leftover());
    }
    const moved = (performance.now() - t0) / 1000;
    const total = await uboot.expect(
      [TOTAL_SIZE],
      'load',
      s.start_timeout,
      'loady did not report the size it received',
    );
    if (fast) {
      await uboot.expect(
        [/## Switch baudrate to \d+ bps and press ESC/],
        'load',
        s.start_timeout,
        'loady did not offer to switch back',
      );
      await this.con.setBaud(base!);
      await this.pressUntil('\x1b', uboot.prompt, true, 'no prompt after switching back');
    } else {
      await uboot.waitPrompt('load');
    }
    if (Number(total.match![1]) !== img.size) {
      throw new LabError(
        'load',
        `loady received ${total.match![1]} bytes of the ${img.role}, the host file has ${img.size}`,
      );
    }
    if (board.load.verify) await verifyLoad(uboot, img, addr, secs);
    return figures(img, 'ymodem', moved, (performance.now() - t0) / 1000, board.load.verify, sent.retries);
  }

  /** After a failed transfer: U-Boot's prompt again. After a speed switch loady waits for
   * ESC at the console's own speed (Ctrl-C does nothing there). */
  private async backToPrompt(fast: boolean): Promise<void> {
    const { uboot, board } = this.ctx;
    if (!fast) return uboot.recover('load');
    await this.con.setBaud(board.console.settings.baud as number);
    await this.pressUntil('\x1b', uboot.prompt, true, 'no prompt after the failed transfer');
    await uboot.recover('load');
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
        await this.con.expect([answer], {
          timeoutMs: every,
          partial,
          signal: this.ctx.signal(),
          onTimeout: () => new Error('again'),
        });
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
  summary: 'loady over the console (our YMODEM sender): baud, window, block_timeout, block_tries',
  settings,
  create: (s, ctx) => new YmodemLoader(s, ctx),
});
