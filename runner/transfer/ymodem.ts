// A YMODEM sender (batch mode, 1024-byte blocks, CRC-16), for U-Boot's `loady` and any
// YMODEM receiver. No maintained npm package implements one; lrzsz's `sz` is the reference.
//
// Wire format (Forsberg's YMODEM, as lrzsz and U-Boot's xyzModem.c speak it): the receiver asks with 'C'; block 0 (SOH, 128 bytes) carries
// `name\0size\0`; data goes in STX blocks `STX n ~n data[1024] crc16-be`, the last padded
// with 0x1A; each block waits for ACK, NAK resends it; CAN CAN cancels; the file ends with
// EOT (answered by NAK then ACK, or ACK), and an all-zero block 0 ends the batch.
//
// Speed matters (a 10 MB hypervisor at 1500000 baud is ~70 s of line time):
//   - the next block leaves from inside the handler of the byte that acknowledges the one
//     before (no promise, timer or event-loop turn between an ACK and the next block), and
//     is built while the one before is on the wire;
//   - with `window` > 1 blocks are sent ahead of the answers. U-Boot's loady (xyzModem.c)
//     reads a block, acknowledges it when it starts reading the next, and reads on, so
//     blocks queued on the line are taken in order and the turnaround (the receiver's, the
//     USB adapter's latency timer, ours) is no longer paid per block. A receiver that does
//     not keep up (a UART that overruns while it stores a block) shows it: a NAK, a 'C'
//     (U-Boot's NAK in CRC mode) or silence. Then the block is sent again and the rest of the
//     transfer goes stop and wait; the result says where (fellBackAt).
// Retries are counted per block, so one bad stretch of line cannot use up the whole
// transfer's patience, and every failure names the block it happened at.
import { LabError } from '../errors.js';

/** After the receiver's trouble with blocks sent ahead, how long it must be quiet before the
 * block goes again (U-Boot, giving up, prints why within about 250 ms). */
const SETTLE_MS = 1000;

export const SOH = 0x01,
  STX = 0x02,
  EOT = 0x04,
  ACK = 0x06,
  NAK = 0x15,
  CAN = 0x18,
  CRC = 0x43,
  PAD = 0x1a;

const CRC_TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let c = i << 8;
  for (let j = 0; j < 8; j++) c = c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1;
  CRC_TABLE[i] = c & 0xffff;
}

/** CRC-16/XMODEM (CCITT polynomial 0x1021, initial value 0). */
export function crc16(buf: Uint8Array, start = 0, end = buf.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 8) ^ buf[i]) & 0xff]) & 0xffff;
  return crc;
}

/** One framed block: header, payload (padded), CRC-16 big endian. */
export function frame(seq: number, payload: Uint8Array, size: 128 | 1024, pad = PAD): Buffer {
  const b = Buffer.alloc(3 + size + 2, pad);
  b[0] = size === 128 ? SOH : STX;
  b[1] = seq & 0xff;
  b[2] = 0xff - (seq & 0xff);
  b.set(payload.subarray(0, size), 3);
  const crc = crc16(b, 3, 3 + size);
  b[3 + size] = crc >>> 8;
  b[4 + size] = crc & 0xff;
  return b;
}

/** Block 0: file name and size in decimal, zero padded; all zero ends the batch. */
export function headerBlock(name: string | null, size = 0): Buffer {
  const info = name === null ? Buffer.alloc(0) : Buffer.from(`${name}\0${size}\0`, 'latin1');
  if (info.length > 128) throw new Error(`file name too long for a YMODEM header: ${name}`);
  return frame(0, info, 128, 0);
}

export class YmodemError extends LabError {
  override name = 'YmodemError';
  /** Blocks were sent ahead of the answers in this transfer: the trouble may come from that
   * (a receiver that lost its place), and a stop-and-wait transfer may still work. */
  streamed = false;
  constructor(
    message: string,
    readonly block: number,
  ) {
    super('load', message);
  }
}

export interface YmodemOptions {
  /** Seconds to wait for the receiver's first 'C'. */
  startTimeoutS?: number;
  /** Seconds to wait for the answer to one block before sending it again. */
  blockTimeoutS?: number;
  /** Tries per block (the first send included) before giving up. */
  blockTries?: number;
  /** Seconds to wait, after the header is accepted, for the receiver's 'C' asking for data.
   * Standard YMODEM sends one; U-Boot's loady does not (it goes straight to reading), so
   * after this grace the data goes anyway. */
  dataRequestS?: number;
  /** Data blocks sent ahead of the receiver's answers; 1 (the default) is stop and wait. */
  window?: number;
  /** Text from the receiver that says it has left the transfer (U-Boot's loady, having
   * given up, prints "## Binary (ymodem) download aborted" and returns to its prompt): the
   * sender stops at once rather than send blocks into a command line. */
  leftWhen?: RegExp;
  onProgress?: (sentBytes: number, total: number) => void;
  /** Milestones (receiver ready, header accepted, end of file...) for the transcript. */
  onEvent?: (what: string) => void;
}

export interface YmodemResult {
  bytes: number;
  blocks: number;
  /** Blocks sent more than once (NAK or no answer). */
  retries: number;
  /** From the receiver's first request to the end of the batch: the transfer itself. */
  seconds: number;
  /** Waiting for the receiver's first request. */
  waitedS: number;
  /** The data blocks alone, header accepted to last block accepted: the line's throughput. */
  dataS: number;
  /** Blocks sent ahead of the answers at the start (1: stop and wait). */
  window: number;
  /** The block at which the receiver's trouble made the transfer go stop and wait. */
  fellBackAt?: number;
}

/**
 * Sends one file. `write` puts bytes on the line; every byte from the receiver must be
 * given to `feed` while the transfer runs.
 */
export class YmodemSender {
  private inbox: number[] = [];
  private inboxHead = 0;
  private wake: (() => void) | null = null;
  private lastWasCan = false;
  private cancelledBy: string | null = null;
  /** While the data blocks go: each byte from the receiver, as it arrives. */
  private onByte: ((b: number) => void) | null = null;

  constructor(
    private write: (data: Buffer) => Promise<void>,
    private signal?: AbortSignal,
  ) {}

  /** Bytes from the receiver. */
  feed(chunk: Uint8Array): void {
    for (const b of chunk) {
      // Two CANs in a row is the receiver cancelling; one may be line noise.
      if (b === CAN && this.lastWasCan) this.cancelledBy = 'receiver';
      this.lastWasCan = b === CAN;
      if (this.onByte) this.onByte(b);
      else this.inbox.push(b);
    }
    this.wake?.();
  }

  /** The next byte from the receiver that is one of `wanted`, or null on timeout. */
  private async next(wanted: readonly number[], timeoutMs: number): Promise<number | null> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      while (this.inboxHead < this.inbox.length) {
        const b = this.inbox[this.inboxHead++];
        if (this.cancelledBy) return CAN;
        if (wanted.includes(b)) return b;
      }
      this.inbox.length = 0;
      this.inboxHead = 0;
      if (this.cancelledBy) return CAN;
      this.signal?.throwIfAborted();
      const left = deadline - performance.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.wake = null;
          resolve();
        }, left);
        const onAbort = () => {
          clearTimeout(t);
          this.wake = null;
          resolve();
        };
        this.signal?.addEventListener('abort', onAbort, { once: true });
        this.wake = () => {
          clearTimeout(t);
          this.signal?.removeEventListener('abort', onAbort);
          this.wake = null;
          resolve();
        };
      });
    }
  }

  /** Bytes received but not consumed by the protocol (text that followed the last answer). */
  leftover(): Buffer {
    return Buffer.from(this.inbox.slice(this.inboxHead));
  }

  /** Tells the receiver we give up (CAN x5, then backspaces to clean its line, as sz does). */
  async cancel(): Promise<void> {
    await this.write(Buffer.from([CAN, CAN, CAN, CAN, CAN, 8, 8, 8, 8, 8])).catch(() => undefined);
  }

  async send(name: string, data: Uint8Array, opts: YmodemOptions = {}): Promise<YmodemResult> {
    const startMs = (opts.startTimeoutS ?? 60) * 1000;
    const blockMs = (opts.blockTimeoutS ?? 5) * 1000;
    const tries = opts.blockTries ?? 10;
    const t0 = performance.now();
    let retries = 0;
    const total = data.length;
    const blocks = Math.ceil(total / 1024);
    const event = opts.onEvent ?? (() => {});
    const window = Math.max(1, Math.floor(opts.window ?? 1));
    let fellBackAt: number | undefined;

    try {
      if ((await this.next([CRC], startMs)) !== CRC) {
        throw new YmodemError(
          this.cancelledBy
            ? 'the receiver cancelled before the transfer started'
            : `the receiver never asked for data (no 'C' within ${startMs / 1000} s): is it running loady / rb?`,
          0,
        );
      }
      const t1 = performance.now();
      event(`ymodem: receiver ready; header for ${name} (${total} bytes)`);
      // Block 0, then the receiver asks again with 'C' before data.
      retries += await this.sendBlock(headerBlock(name, total), 0, tries, blockMs);
      event('ymodem: header accepted');
      const t2 = performance.now();
      if (
        blocks > 0 &&
        (opts.dataRequestS ?? 1) > 0 &&
        (await this.next([CRC], (opts.dataRequestS ?? 1) * 1000)) === null
      ) {
        event('ymodem: no request for data after the header; sending anyway');
      }
      const sent =
        blocks > 0
          ? await this.data(data, blocks, {
              window,
              tries,
              timeoutMs: blockMs,
              leftWhen: opts.leftWhen,
              onProgress: opts.onProgress,
              event,
            })
          : { retries: 0 };
      retries += sent.retries;
      fellBackAt = sent.fellBackAt;
      if (blocks === 0) opts.onProgress?.(0, 0);
      const t3 = performance.now();
      event(
        `ymodem: ${blocks} data block(s) accepted, ${retries} resent${
          window > 1
            ? fellBackAt
              ? `; ${window} in flight up to block ${fellBackAt}, stop and wait after it`
              : `, ${window} in flight`
            : ''
        }`,
      );
      await this.endOfFile(blocks + 1, tries, blockMs);
      event('ymodem: end of file accepted');
      // End of batch: the receiver asks once more, and an empty block 0 says "no more files".
      // The file is complete once its EOT is accepted; a receiver that then falls silent
      // instead of acknowledging the end of the batch has lost nothing, so that is noted,
      // not raised (a cancel still is).
      if ((await this.next([CRC], blockMs)) === CRC) {
        try {
          retries += await this.sendBlock(headerBlock(null), blocks + 1, 2, blockMs);
          event('ymodem: batch ended');
        } catch (e) {
          if (this.cancelledBy) throw e;
          event(`ymodem: no answer to the end of the batch (${(e as Error).message}); the file itself was accepted`);
        }
      }
      return {
        bytes: total,
        blocks,
        retries,
        seconds: (performance.now() - t1) / 1000,
        waitedS: (t1 - t0) / 1000,
        dataS: (t3 - t2) / 1000,
        window,
        ...(fellBackAt ? { fellBackAt } : {}),
      };
    } catch (e) {
      if (e instanceof YmodemError && window > 1) e.streamed = true;
      if (!this.cancelledBy) await this.cancel();
      throw e;
    }
  }

  /**
   * The data blocks, 1 to `blocks`: up to `window` of them on the line ahead of the
   * receiver's answers, each next one written from inside the handler of the ACK that makes
   * room for it. Resolves with the blocks resent, and the block at which streaming gave way
   * to stop and wait.
   */
  private data(
    data: Uint8Array,
    blocks: number,
    o: {
      window: number;
      tries: number;
      timeoutMs: number;
      leftWhen?: RegExp;
      onProgress?: (sent: number, total: number) => void;
      event: (what: string) => void;
    },
  ): Promise<{ retries: number; fellBackAt?: number }> {
    const total = data.length;
    return new Promise((resolve, reject) => {
      let window = o.window;
      /** The oldest block not yet acknowledged, and the next one to write. */
      let base = 1;
      let next = 1;
      /** Times block `base` was written. */
      let sends = 1;
      let retries = 0;
      let fellBackAt: number | undefined;
      /** The receiver's recent bytes that are no answer: text, when it has left the transfer. */
      let text = '';
      const built = new Map<number, Buffer>();
      const block = (n: number): Buffer => {
        let b = built.get(n);
        if (!b) {
          b = frame(n, data.subarray((n - 1) * 1024, n * 1024), 1024);
          built.set(n, b);
        }
        return b;
      };
      const finish = (e?: unknown) => {
        if (!this.onByte) return;
        this.onByte = null;
        clearTimeout(timer);
        if (settling) clearTimeout(settling);
        this.signal?.removeEventListener('abort', onAbort);
        if (e === undefined) resolve({ retries, ...(fellBackAt ? { fellBackAt } : {}) });
        else reject(e);
      };
      const onAbort = () => finish(this.signal!.reason);
      /** Writes blocks up to the window, then builds the ones that come next meanwhile. */
      const fill = () => {
        if (settling) return;
        while (next <= blocks && next - base < window) {
          this.write(block(next++)).catch(finish);
        }
        for (const n of built.keys()) if (n < base) built.delete(n);
        for (let n = next; n < next + window && n <= blocks; n++) block(n);
      };
      /** Block `base` once more, and the ones after it as the window allows. */
      const again = (why: string) => {
        if (sends >= o.tries)
          return finish(new YmodemError(`block ${base} was not accepted after ${o.tries} tries (last: ${why})`, base));
        sends++;
        retries++;
        next = base;
        fill();
        timer.refresh();
      };
      /**
       * The receiver did not take blocks sent ahead: stop and wait from here on. First the
       * line settles (nothing sent until the receiver has been quiet for SETTLE_MS): the
       * answers to what is still in flight come in, and a receiver that gives up says so
       * before a block would land on its command line.
       */
      let settling: NodeJS.Timeout | null = null;
      let settleBy = 0;
      const fallBack = (why: string) => {
        o.event(
          `ymodem: ${why} at block ${base} with ${next - base} block(s) in flight: the receiver does not keep up with blocks sent ahead; stop and wait from here`,
        );
        window = 1;
        fellBackAt = base;
        settleBy = performance.now() + o.timeoutMs;
        settling = setTimeout(() => {
          settling = null;
          again(why);
        }, SETTLE_MS);
      };
      const noAnswer = `no answer within ${o.timeoutMs / 1000} s`;
      const timer = setTimeout(() => {
        if (settling) timer.refresh();
        else if (window > 1) fallBack(noAnswer);
        else again(`${noAnswer} (line stalled?)`);
      }, o.timeoutMs);
      this.onByte = (b) => {
        if (this.cancelledBy)
          return finish(new YmodemError(`the receiver cancelled the transfer at block ${base}`, base));
        if (settling && performance.now() + SETTLE_MS < settleBy) settling.refresh();
        if (b === ACK) {
          if (next === base) return; // nothing on the line: no answer to anything of ours
          text = '';
          base++;
          sends = 1;
          if (base > blocks) {
            o.onProgress?.(total, total);
            return finish();
          }
          fill();
          timer.refresh();
          o.onProgress?.((base - 1) * 1024, total);
        } else if (b === NAK) {
          text = '';
          if (window > 1) fallBack('NAK');
          else if (!settling) again('NAK');
        } else if (b === CRC && window > 1) {
          // U-Boot's NAK in CRC mode. In stop and wait a 'C' during data is no answer (a late
          // request for data): taking it for a NAK could pair an ACK with the wrong block.
          text = 'C'; // or the first letter of U-Boot's "Cancelled"
          fallBack("'C' (U-Boot's NAK)");
        } else if (b !== CAN && o.leftWhen) {
          text = (text + String.fromCharCode(b)).slice(-120);
          if (o.leftWhen.test(text)) {
            this.cancelledBy = 'left'; // nothing more to the line: it is a command line now
            for (let i = 0; i < text.length; i++) this.inbox.push(text.charCodeAt(i)); // the console's again (leftover())
            finish(
              new YmodemError(`the receiver left the transfer at block ${base}: ${JSON.stringify(text.trim())}`, base),
            );
          }
        }
      };
      if (this.signal?.aborted) return finish(this.signal.reason);
      this.signal?.addEventListener('abort', onAbort, { once: true });
      fill();
    });
  }

  /** Forgets what the receiver said before now: nothing sent before a block answers it. */
  private purge(): void {
    this.inbox.length = 0;
    this.inboxHead = 0;
  }

  /** Sends a block until it is acknowledged; returns how many times it was resent. */
  private async sendBlock(block: Buffer, n: number, tries: number, timeoutMs: number): Promise<number> {
    let why = '';
    // A 'C' in answer to a block 0 (header, end of batch) asks for it again: lrzsz purges its
    // input after sending 'C', so a block 0 sent at once can be lost. In answer to data a
    // late 'C' is no answer at all: taking it for a NAK could pair an ACK with the wrong block.
    const again = block[0] === SOH && block[1] === 0 ? [NAK, CRC] : [NAK];
    for (let attempt = 0; attempt < tries; attempt++) {
      this.purge();
      await this.write(block);
      const answer = await this.next([ACK, CAN, ...again], timeoutMs);
      if (answer === ACK) return attempt;
      if (answer === CAN) throw new YmodemError(`the receiver cancelled the transfer at block ${n}`, n);
      why =
        answer === null
          ? `no answer within ${timeoutMs / 1000} s (line stalled?)`
          : answer === CRC
            ? "'C' (asked again)"
            : 'NAK';
    }
    throw new YmodemError(`block ${n} was not accepted after ${tries} tries (last: ${why})`, n);
  }

  private async endOfFile(n: number, tries: number, timeoutMs: number): Promise<void> {
    for (let attempt = 0; attempt < tries; attempt++) {
      this.purge();
      await this.write(Buffer.from([EOT]));
      const answer = await this.next([ACK, NAK, CAN], timeoutMs);
      if (answer === ACK) return;
      if (answer === CAN) throw new YmodemError('the receiver cancelled at the end of the file', n);
      // NAK is the usual first answer to EOT: send it again.
    }
    throw new YmodemError(`the end of the file (EOT) was not acknowledged after ${tries} tries`, n);
  }
}
