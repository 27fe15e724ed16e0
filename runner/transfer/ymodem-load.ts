// Loading an image with U-Boot's `loady` over the serial console: for boards with no
// network in U-Boot, or where the network is what is under test. With `ymodem_baud` the
// board switches speed for the transfer (`loady ADDR BAUD`: switch, press ENTER, send,
// switch back, press ESC) and the console follows it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Board } from '../config/board.js';
import type { Console } from '../console/console.js';
import { LabError } from '../errors.js';
import type { UBoot } from '../uboot/driver.js';
import { figures, type HostImage, type Loader, type TransferFigures } from './image.js';
import { progress } from './progress.js';
import { verifyLoad } from './verify.js';
import { YmodemSender } from './ymodem.js';

const TOTAL_SIZE = /## Total Size\s*=\s*0x[0-9a-fA-F]+\s*=\s*(\d+) Bytes/;

export class YmodemLoader implements Loader {
  readonly method = 'ymodem';

  constructor(
    private uboot: UBoot,
    private con: Console,
    private board: Board,
    private log: (msg: string) => void,
    private signal?: AbortSignal,
  ) {}

  async load(img: HostImage, addr: string): Promise<TransferFigures> {
    const l = this.board.load;
    const base = this.board.console.baud;
    const fast = l.ymodem_baud && l.ymodem_baud !== base ? l.ymodem_baud : undefined;
    const secs = this.board.timeouts.load;
    const bytes = readFileSync(img.path);
    const t0 = performance.now();
    await this.uboot.enter(`loady ${addr}${fast ? ` ${fast}` : ''}`, 'load');
    const ready = /## Ready for binary \(ymodem\) download/;
    const readyWhat = 'loady did not start (is YMODEM support, CONFIG_CMD_LOADB, in this U-Boot?)';
    if (fast) {
      await this.uboot.expect([/## Switch baudrate to \d+ bps and press ENTER/], 'load', 10, `loady did not offer to switch to ${fast} baud`);
      await this.con.setBaud(fast);
      // "Ready for binary" must be a whole line, or the rest of its text would reach the sender.
      await this.pressUntil('\r', ready, false, readyWhat);
    } else {
      await this.uboot.expect([ready], 'load', 10, readyWhat);
    }

    // From here the line carries YMODEM, not text.
    const sender = new YmodemSender((b) => this.con.write(b), this.signal);
    const restore = this.con.divert((c) => sender.feed(c));
    const bar = progress(`ymodem ${img.role} ${path.basename(img.path)}`, img.size, this.log);
    let sent;
    try {
      sent = await sender.send(path.basename(img.path), bytes, {
        startTimeoutS: 10, dataRequestS: 0, blockTimeoutS: l.ymodem_block_timeout, blockTries: l.ymodem_block_tries, onProgress: (done) => bar.update(done),
        onEvent: (what) => this.con.transcript.note(what),
      });
    } catch (e) {
      if (fast) await this.con.setBaud(base).catch(() => undefined);
      throw e instanceof LabError ? new LabError('load', `YMODEM load of the ${img.role} ${path.basename(img.path)} failed: ${e.message}`) : e;
    } finally {
      bar.stop();
      restore();
      // Text that came right after the last answer belongs to the console again.
      this.con.lines.feed(sender.leftover());
    }
    const moved = (performance.now() - t0) / 1000;
    const total = await this.uboot.expect([TOTAL_SIZE], 'load', 10, 'loady did not report the size it received');
    if (fast) {
      await this.uboot.expect([/## Switch baudrate to \d+ bps and press ESC/], 'load', 10, 'loady did not offer to switch back');
      await this.con.setBaud(base);
      await this.pressUntil('\x1b', this.uboot.prompt, true, 'no prompt after switching back');
    } else {
      await this.uboot.waitPrompt('load');
    }
    if (Number(total.match[1]) !== img.size) {
      throw new LabError('load', `loady received ${total.match[1]} bytes of the ${img.role}, the host file has ${img.size}`);
    }
    if (l.verify) await verifyLoad(this.uboot, img, addr, secs);
    return figures(img, 'ymodem', moved, (performance.now() - t0) / 1000, l.verify, sent.retries);
  }

  /**
   * After a speed switch U-Boot pauses, reprograms its UART (losing what is in its FIFO)
   * and pauses again before it reads the key; how long differs per board. So the key is
   * pressed every 200 ms until U-Boot answers.
   */
  private async pressUntil(key: string, answer: RegExp, partial: boolean, what: string): Promise<void> {
    for (let i = 0; i < 25; i++) {
      await this.con.write(key);
      try {
        await this.con.expect([answer], { timeoutMs: 200, partial, signal: this.signal, onTimeout: () => new Error('again') });
        return;
      } catch (e) {
        if ((e as Error).message !== 'again') throw e;
      }
    }
    throw new LabError('load', `${what} within 5 s`);
  }

  cleanup(): void {}
}
