// Our YMODEM sender against real receivers: lrzsz's rb (byte-identical files, through the
// line simulator's faults) and U-Boot's own loady on the virtual board: blocks sent ahead of
// its answers, and through a UART that cannot take them (the fallback to stop and wait),
// or that loses a byte of a block in flight (U-Boot gives up; loaded once more).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { deviceEndpoint, type Endpoint, ptyEndpoint } from '../../fixtures/line-sim/line-sim.js';
import { sendToRb, signalRb } from '../../fixtures/line-sim/rb-peer.js';
import { verdictOf } from '../../runner/errors.js';
import { YmodemError } from '../../runner/transfer/ymodem.js';
import { checkNoQemuLeft, deriveToml, helloCaseWith, hil, tmpDir, virtualBoard } from '../helpers.js';

const FAST = 1e9; // the simulator without pacing: a plain pty link
const block = (n: number, at = 0) => 133 + 1029 * (n - 1) + 3 + at; // offset of a data block's payload byte

interface UartPlan {
  overrun?: boolean;
  dropLastByteOf?: { transfer: number; block: number };
}

/**
 * A UART between the runner (a serial port, at `hostLink`) and the virtual board's pty (QEMU
 * links it at `boardLink`), that knows where YMODEM blocks begin and end on their way to the
 * board:
 *   - `overrun`: what arrives after a block's last byte and before U-Boot's answer to it is
 *     lost (a UART with no room while U-Boot stores a block: blocks sent ahead are not taken);
 *   - `dropLastByteOf`: the last byte of one data block of one transfer (1-based) is lost.
 */
class BlockUart {
  private board: Endpoint | null = null;
  private poll: NodeJS.Timeout;
  private closed = false;
  /** The block now passing: its first byte (SOH, STX), its number, bytes still to come (0:
   * between blocks); whether U-Boot has yet to answer the last block. */
  private kind = 0;
  private num = 0;
  private at = 0;
  private left = 0;
  private unanswered = false;
  /** Transfers begun (a block 0 with a file name after an EOT), and whether an EOT went by. */
  private transfer = 0;
  private eot = true;
  private dropped = false;
  readonly stats = { lost: 0 };

  private constructor(
    private host: Endpoint,
    private boardLink: string,
    private plan: UartPlan,
  ) {
    host.onData((d) => this.down(d));
    this.poll = setInterval(() => void this.connect(), 20);
  }

  static async start(hostLink: string, boardLink: string, plan: UartPlan): Promise<BlockUart> {
    return new BlockUart(await ptyEndpoint(hostLink), boardLink, plan);
  }

  private async connect(): Promise<void> {
    if (this.board || this.closed || !existsSync(this.boardLink)) return;
    this.board = {} as Endpoint;
    try {
      const b = await deviceEndpoint(this.boardLink, () => {
        if (this.board === b) this.board = null;
      });
      if (this.closed) return void b.close();
      this.board = b;
      b.onData((d) => {
        this.unanswered = false;
        this.host.write(d);
      });
    } catch {
      this.board = null;
    }
  }

  private down(data: Buffer): void {
    const out: number[] = [];
    for (const byte of data) {
      if (this.left === 0) {
        if (this.plan.overrun && this.unanswered) {
          this.stats.lost++;
          continue;
        }
        if (byte === 0x04) this.eot = true;
        if (byte === 0x01 || byte === 0x02) {
          this.kind = byte;
          this.at = 0;
          this.left = byte === 0x02 ? 1029 : 133;
        }
      }
      if (this.left > 0) {
        if (this.at === 1) this.num = byte;
        if (this.at === 3 && this.kind === 0x01 && this.num === 0 && byte !== 0 && this.eot) {
          this.transfer++;
          this.eot = false;
        }
        this.at++;
        if (--this.left === 0) {
          this.unanswered = true;
          const p = this.plan.dropLastByteOf;
          if (p && !this.dropped && this.kind === 0x02 && this.transfer === p.transfer && this.num === p.block) {
            this.dropped = true;
            this.stats.lost++;
            continue;
          }
        }
      }
      out.push(byte);
    }
    if (out.length) this.board?.write?.(Buffer.from(out));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.poll);
    await this.board?.close?.();
    await this.host.close();
  }
}

describe('YMODEM sender', function () {
  describe('into lrzsz rb', () => {
    it('delivers byte-identical files of 0, 1, 127, 128, 1023, 1024, 1025 bytes and 3 MiB', async () => {
      const sizes = [0, 1, 127, 128, 1023, 1024, 1025, 3 * 1024 * 1024];
      const runs = await Promise.all(
        sizes.map(async (n) => {
          const data = randomBytes(n);
          return { n, data, r: await sendToRb(`f${n}.bin`, data, { baud: FAST }) };
        }),
      );
      for (const { n, data, r } of runs) {
        assert.equal(r.error, undefined, `${n} bytes: ${r.error?.message}`);
        assert.ok(r.received, `${n} bytes: rb wrote the file`);
        assert.ok(r.received.equals(data), `${n} bytes: identical (got ${r.received.length})`);
        assert.equal(r.result!.blocks, Math.ceil(n / 1024));
      }
    });

    it('resends a corrupted block, and the file still arrives intact', async () => {
      const data = randomBytes(20_000);
      const r = await sendToRb('c.bin', data, {
        baud: FAST,
        faults: [{ kind: 'corrupt', dir: 'down', at: [block(2, 500)] }],
      });
      assert.equal(r.sim!.down.counts.corrupt, 1, 'the fault happened');
      // Usually one resend. Under load rb can still be clearing its input after its NAK when
      // the resend arrives, and discards it: seen as NAK, silence, our block timeout, resend.
      assert.ok(r.result!.retries >= 1 && r.result!.retries <= 3, `retries: ${r.result!.retries}`);
      assert.ok(r.received?.equals(data));
    });

    it('recovers from a byte lost on the line', async () => {
      const data = randomBytes(20_000);
      // rb waits 10 s for the rest of a short block before it answers NAK. The sender waits
      // longer than that, as sz does: with a 1 s wait it resent into a block rb was still
      // reading, and on a loaded machine the two could stay out of step until rb gave up
      // (about 1 run in 10 under load).
      const r = await sendToRb(
        'd.bin',
        data,
        { baud: FAST, faults: [{ kind: 'drop', dir: 'down', at: [block(3, 10)] }] },
        { blockTimeoutS: 12 },
      );
      assert.equal(r.sim!.down.counts.drop, 1);
      assert.ok(r.result!.retries >= 1);
      assert.ok(r.received?.equals(data));
    });

    it('a receiver that cancels: a lab error naming the block', async () => {
      // lrzsz answers Ctrl-C with its cancel sequence (CAN CAN ...), interrupted here once
      // 10 KiB are through. rb runs on a socket pair: on a pty its own exit flush can
      // discard the cancel before it leaves (see RbOptions.offPty).
      let receiver: Parameters<typeof signalRb>[0] | undefined;
      let interrupted = false;
      const r = await sendToRb(
        'x.bin',
        randomBytes(60_000),
        { baud: 115200 },
        {
          during: (rb) => (receiver = rb),
          onProgress: (done) => {
            if (!interrupted && done >= 10 * 1024) {
              interrupted = true;
              void signalRb(receiver!, 'SIGINT');
            }
          },
          offPty: true,
        },
      );
      assert.ok(r.error instanceof YmodemError, String(r.error));
      assert.match(r.error.message, /^the receiver cancelled the transfer at block \d+$/);
      assert.ok(r.error.block > 1);
      assert.equal(verdictOf(r.error), 'error');
    });

    it('a stalled line: gives up after the per-block tries, naming the block', async () => {
      const r = await sendToRb(
        's.bin',
        randomBytes(20_000),
        { baud: FAST, faults: [{ kind: 'stall', dir: 'down', at: block(5, 7), ms: 3000 }] },
        { blockTimeoutS: 0.5, blockTries: 2 },
      );
      assert.ok(r.error instanceof YmodemError);
      assert.equal(
        r.error.message,
        'block 5 was not accepted after 2 tries (last: no answer within 0.5 s (line stalled?))',
      );
      assert.equal(r.error.block, 5);
    });

    it('a receiver that never asks: says so', async () => {
      const r = await sendToRb(
        'n.bin',
        randomBytes(10),
        { baud: FAST, faults: [{ kind: 'drop', dir: 'up', rate: 1 }] },
        { startTimeoutS: 1 },
      );
      assert.match(r.error!.message, /^the receiver never asked for data \(no 'C' within 1 s\)/);
    });
  });

  describe('into U-Boot loady on the virtual board', () => {
    checkNoQemuLeft();

    it('loads a 1 MiB random image, CRC-32 verified by U-Boot, with progress lines', async function () {
      this.timeout(600_000);
      const dir = tmpDir();
      const image = path.join(dir, 'random-1m.bin');
      const data = randomBytes(1024 * 1024);
      writeFileSync(image, data);
      // The bare-metal hello boots; the random image rides along as its "initrd".
      // U-Boot's loady takes 20-30 kB/s from QEMU's emulated UART here (lrzsz's sz gets no
      // more): the board's per-image load limit is raised for a slow machine (the limit is
      // enforced on YMODEM loads too).
      const board = deriveToml(virtualBoard, (d) => (d.timeouts.load = 400));
      const r = await hil([
        'run',
        '--board',
        board,
        '--suite',
        helloCaseWith((d) => {
          d.load_method = 'ymodem';
          d.images.initrd = image;
          d.timeout = 500;
        }, dir),
      ]);
      assert.equal(r.exitCode, 0, r.stdout);
      const t = r.results.cases[0].transfers.find((x: any) => x.role === 'initrd');
      assert.equal(t.method, 'ymodem');
      assert.equal(t.bytes, data.length);
      assert.equal(t.crc32, (crc32(data) >>> 0).toString(16).padStart(8, '0'));
      assert.equal(t.verified, true);
      assert.equal(t.retries, 0);
      assert.ok(t.bytes_per_s > 0);
      assert.match(r.stdout, /ymodem initrd random-1m\.bin: 50% 0\.5 MB\/1\.0 MB, [\d.]+ kB\/s, ETA \d+ s/);
      // Blocks went two at a time ahead of U-Boot's answers, and U-Boot took them all.
      const timed = readFileSync(path.join(r.out, r.results.cases[0].transcript, 'console.timed.log'), 'utf8');
      assert.match(timed, /ymodem: 1024 data block\(s\) accepted, 0 resent, 2 in flight/);
      assert.doesNotMatch(timed, /stop and wait/);
    });

    /** A run of the hello case with `initrd` loaded by YMODEM, the console through a BlockUart. */
    async function throughUart(plan: UartPlan, initrd: Buffer) {
      const dir = tmpDir('hil-uart-');
      const hostLink = path.join(dir, 'ttyUSB-board');
      const boardLink = path.join(dir, 'qemu-pty');
      const image = path.join(dir, 'initrd.bin');
      writeFileSync(image, initrd);
      const uart = await BlockUart.start(hostLink, boardLink, plan);
      try {
        const board = deriveToml(
          virtualBoard,
          (d) => {
            d.console = { kind: 'serial', port: hostLink, baud: 115200 };
            d.power.pty_link = boardLink;
            d.load.methods = ['ymodem'];
            d.timeouts.load = 300;
          },
          dir,
        );
        const r = await hil(['run', '--board', board, '--suite', helloCaseWith((d) => (d.images.initrd = image), dir)]);
        assert.equal(r.exitCode, 0, r.stdout + r.stderr);
        const t = r.results.cases[0].transfers.find((x: any) => x.role === 'initrd');
        assert.equal(t.method, 'ymodem');
        assert.equal(t.bytes, initrd.length);
        assert.equal(t.crc32, (crc32(initrd) >>> 0).toString(16).padStart(8, '0'));
        assert.equal(t.verified, true);
        const timed = readFileSync(path.join(r.out, r.results.cases[0].transcript, 'console.timed.log'), 'utf8');
        return { r, t, timed, lost: uart.stats.lost };
      } finally {
        await uart.close();
      }
    }

    it('through a UART that cannot take blocks sent ahead: the rest of the transfer goes stop and wait, CRC-verified', async () => {
      const { r, t, timed, lost } = await throughUart({ overrun: true }, randomBytes(40 * 1024));
      assert.ok(lost > 0, 'blocks sent ahead were lost');
      assert.ok(t.retries >= 1, `retries: ${t.retries}`);
      assert.match(
        timed,
        /ymodem: ('C' \(U-Boot's NAK\)|no answer within 5 s) at block \d+ with \d block\(s\) in flight: the receiver does not keep up with blocks sent ahead; stop and wait from here/,
      );
      assert.match(
        timed,
        /ymodem: 40 data block\(s\) accepted, \d+ resent; 2 in flight up to block \d+, stop and wait after it/,
      );
      assert.match(
        r.stdout,
        /ymodem: U-Boot did not keep up with 2 blocks in flight \(at block \d+\); stop and wait from there on/,
      );
    });

    it('a byte of a block in flight lost, and U-Boot gives up (three CANs where it looked for a block): the image is loaded once more, stop and wait', async () => {
      // U-Boot reads block 2 with the next block's first byte as its CRC, asks again ('C'),
      // and looks for the next block in what follows: block 3's number (3, which it counts
      // as a cancel, as ETX) and its first data bytes, two CANs: "Cancelled". The rest of
      // block 3 ('a's, no Enter) lands on its command line.
      const initrd = Buffer.alloc(8 * 1024, 0x61);
      for (let i = 0; i < 1024; i++) initrd[1024 + i] = (i * 7 + 3) & 0xff; // block 2
      initrd[2048] = 0x18;
      initrd[2049] = 0x18;
      const { r, timed, lost } = await throughUart({ dropLastByteOf: { transfer: 2, block: 2 } }, initrd);
      assert.equal(lost, 1);
      assert.match(
        r.stdout,
        /the receiver left the transfer at block 2: ".*Cancelled.*## Binary \(ymodem\) download aborted"; loading it again, one block at a time/,
      );
      assert.match(timed, /^\[ *[\d.]+\] ## Binary \(ymodem\) download aborted$/m);
      assert.match(timed, /ymodem: the transfer with blocks in flight failed; once more, stop and wait/);
      assert.match(timed, /ymodem: 8 data block\(s\) accepted, 0 resent\n/);
    });

    it('falls back from TFTP to YMODEM when TFTP fails, and says so', async () => {
      const empty = tmpDir();
      const board = deriveToml(virtualBoard, (d) => {
        d.power.args = d.power.args.map((a: string) => a.replace('{tftp_dir}', empty)); // a TFTP server without our files
        d.load.methods = ['tftp', 'ymodem'];
      });
      const r = await hil(['run', '--board', board, '--suite', helloCaseWith()]);
      assert.equal(r.exitCode, 0, r.stdout);
      const t = r.results.cases[0].transfers[0];
      assert.equal(t.method, 'ymodem');
      assert.equal(t.verified, true);
      assert.equal(t.fallback_from.length, 1);
      assert.equal(t.fallback_from[0].method, 'tftp');
      assert.match(t.fallback_from[0].reason, /File not found/);
      assert.match(r.stdout, /tftp failed for the kernel .*; falling back to ymodem/);
    });
  });
});
