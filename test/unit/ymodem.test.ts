import assert from 'node:assert/strict';
import { crc16, frame, headerBlock, SOH, STX, YmodemError, YmodemSender } from '../../runner/transfer/ymodem.js';
import { progress } from '../../runner/transfer/progress.js';
import { LoadyModel } from '../../fixtures/ymodem/loady.js';

describe('YMODEM framing', () => {
  it('computes CRC-16/XMODEM', () => {
    assert.equal(crc16(Buffer.from('123456789')), 0x31c3); // the standard check value
    assert.equal(crc16(Buffer.alloc(0)), 0);
  });

  it('frames a data block: STX, n, ~n, 1024 bytes padded with 0x1A, CRC big endian', () => {
    const b = frame(3, Buffer.from('abc'), 1024);
    assert.equal(b.length, 1029);
    assert.deepEqual([...b.subarray(0, 6)], [STX, 3, 0xfc, 0x61, 0x62, 0x63]);
    assert.equal(b[6], 0x1a);
    assert.equal(b.readUInt16BE(1027), crc16(b, 3, 1027));
    assert.deepEqual([...frame(256, Buffer.alloc(0), 1024).subarray(1, 3)], [0, 0xff], 'the block number wraps');
  });

  it('puts name and decimal size in block 0, and ends a batch with an empty one', () => {
    const h = headerBlock('axvisor.bin', 8388608);
    assert.equal(h.length, 133);
    assert.equal(h[0], SOH);
    assert.equal(h.subarray(3, 3 + 20).toString('latin1'), 'axvisor.bin\x008388608\x00');
    assert.ok(
      h.subarray(23, 131).every((x) => x === 0),
      'zero padded',
    );
    assert.ok(
      headerBlock(null)
        .subarray(3, 131)
        .every((x) => x === 0),
    );
    assert.throws(() => headerBlock('x'.repeat(130), 1), /too long/);
  });
});

describe('load progress off a terminal', () => {
  it('says one line per 10 %, with rate and ETA', () => {
    const lines: string[] = [];
    const p = progress('ymodem kernel Image', 1000, (l) => lines.push(l), false);
    for (let done = 0; done <= 1000; done += 7) p.update(done);
    p.update(1000);
    p.stop();
    assert.equal(lines.length, 10);
    assert.match(lines[0], /^ymodem kernel Image: 10% 0\.0 MB\/0\.0 MB, [\d.]+ kB\/s, ETA \d+ s$/);
    assert.match(lines[9], /: 100% /);
  });
});

describe('YMODEM sender, blocks sent ahead (against a model of U-Boot loady)', () => {
  const image = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + (i >> 9)) & 0xff));

  async function transfer(
    data: Buffer,
    o: ConstructorParameters<typeof LoadyModel>[1],
    send: Parameters<YmodemSender['send']>[2],
  ) {
    let sender!: YmodemSender;
    const board = new LoadyModel((b) => setImmediate(() => sender.feed(b)), { storeMs: 2, ...o });
    sender = new YmodemSender(async (b) => void setImmediate(() => board.push(b)));
    const events: string[] = [];
    const ran = board.run();
    const sent = await sender
      .send('image.bin', data, {
        dataRequestS: 0,
        blockTimeoutS: 2,
        leftWhen: /## Binary \(ymodem\) download aborted/,
        onEvent: (e) => events.push(e),
        ...send,
      })
      .catch((e: Error) => e);
    return { sent, ended: await ran, board, events };
  }

  it('with a window of 2, U-Boot takes the blocks queued in its input, in order, nothing resent', async () => {
    const data = image(20 * 1024 + 300);
    const { sent, ended, board } = await transfer(data, {}, { window: 2 });
    assert.equal(ended, 'ok');
    assert.deepEqual(Buffer.from(board.data), data);
    assert.ok(!(sent instanceof Error));
    assert.equal(sent.retries, 0);
    assert.equal(sent.window, 2);
    assert.equal(sent.fellBackAt, undefined);
    assert.ok(board.ahead >= 1029, `blocks came ahead of U-Boot's answers (${board.ahead} bytes)`);
  });

  it('stop and wait (window 1) sends nothing before U-Boot answered', async () => {
    const data = image(8 * 1024);
    const { sent, board } = await transfer(data, {}, { window: 1 });
    assert.ok(!(sent instanceof Error));
    assert.deepEqual(Buffer.from(board.data), data);
    assert.equal(board.ahead, 0, 'nothing came before U-Boot answered');
  });

  it("a board that cannot take blocks sent ahead: at its first 'C' the rest goes stop and wait, and the image arrives whole", async () => {
    const data = image(12 * 1024);
    const { sent, ended, board, events } = await transfer(data, { overrun: true }, { window: 2 });
    assert.equal(ended, 'ok');
    assert.ok(board.lost > 0, 'blocks sent ahead were lost');
    assert.deepEqual(Buffer.from(board.data), data);
    assert.ok(!(sent instanceof Error));
    assert.equal(sent.fellBackAt, 2);
    assert.ok(sent.retries >= 1);
    assert.ok(
      events.some((e) =>
        /^ymodem: 'C' \(U-Boot's NAK\) at block 2 with 2 block\(s\) in flight: .*stop and wait from here$/.test(e),
      ),
      events.join('\n'),
    );
  });

  it('U-Boot giving up: the sender stops at its words (nothing more goes to its command line) and says blocks were in flight', async () => {
    const { sent, board } = await transfer(image(10 * 1024), { leaveAfter: 3 }, { window: 2 });
    assert.ok(sent instanceof YmodemError, String(sent));
    assert.match(
      sent.message,
      /^the receiver left the transfer at block 3: "Cancelled\\r\\n## Binary \(ymodem\) download aborted"$/,
    );
    assert.equal(sent.streamed, true);
    const written = board.written;
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(board.written, written, 'no cancel and no block after it left');
  });
});
