import assert from 'node:assert/strict';
import { crc16, frame, headerBlock, SOH, STX } from '../../runner/transfer/ymodem.js';
import { progress } from '../../runner/transfer/progress.js';

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
