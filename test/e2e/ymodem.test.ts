// Our YMODEM sender against real receivers: lrzsz's rb (byte-identical files, through the
// line simulator's faults) and U-Boot's own loady on the virtual board.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { sendToRb, signalRb } from '../../fixtures/line-sim/rb-peer.js';
import { verdictOf } from '../../runner/errors.js';
import { YmodemError } from '../../runner/transfer/ymodem.js';
import { checkNoQemuLeft, deriveToml, helloCaseWith, hil, tmpDir, virtualBoard } from '../helpers.js';

const FAST = 1e9; // the simulator without pacing: a plain pty link
const block = (n: number, at = 0) => 133 + 1029 * (n - 1) + 3 + at; // offset of a data block's payload byte

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
      const r = await sendToRb('c.bin', data, { baud: FAST, faults: [{ kind: 'corrupt', dir: 'down', at: [block(2, 500)] }] });
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
      const r = await sendToRb('d.bin', data, { baud: FAST, faults: [{ kind: 'drop', dir: 'down', at: [block(3, 10)] }] }, { blockTimeoutS: 12 });
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
      assert.equal(r.error.message, 'block 5 was not accepted after 2 tries (last: no answer within 0.5 s (line stalled?))');
      assert.equal(r.error.block, 5);
    });

    it('a receiver that never asks: says so', async () => {
      const r = await sendToRb('n.bin', randomBytes(10), { baud: FAST, faults: [{ kind: 'drop', dir: 'up', rate: 1 }] }, { startTimeoutS: 1 });
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
