// The serial driver's writes: straight into the kernel when nothing is queued, serialport's
// own (asynchronous) write for whatever the kernel cannot take at once and for everything
// behind it; the bytes reach the line in the order they were written, whichever way each went.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { execa } from 'execa';
import { LabError } from '../../runner/errors.js';
import { openSerial, SerialWriter } from '../../runner/drivers/console/serial.js';
import { tmpDir } from '../helpers.js';

/** serialport's stream as the writer sees it: a real Writable whose writes finish when the
 * test says (the kernel took them), or fail with `failWith`. */
class SlowStream extends Writable {
  isOpen = true;
  failWith: Error | null = null;
  private finishing: (() => void)[] = [];
  constructor(private kernel: Buffer[]) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.finishing.push(() => {
      if (this.failWith) return cb(this.failWith);
      this.kernel.push(Buffer.from(chunk));
      cb();
    });
    this.emit('writing');
  }
  /** Lets every write given to the stream so far, and those queued behind them, finish. */
  async drain(): Promise<void> {
    while (this.writableLength > 0) {
      const next = this.finishing.shift();
      if (next) next();
      else await once(this, 'writing');
    }
  }
}

const errno = (code: string) => Object.assign(new Error(`${code}: write failed`), { code });

/** A writer over a SlowStream, its direct writes taken as `take` says: a byte count (all of
 * them when undefined) or an error to throw. */
function writer(take: (call: number, data: Buffer) => number | Error | undefined, fd: number | null = 7) {
  const kernel: Buffer[] = [];
  const stream = new SlowStream(kernel);
  const direct: number[] = [];
  const w = new SerialWriter(
    stream,
    () => fd,
    '/dev/ttyUSB0',
    (_fd, data) => {
      const t = take(direct.length, data);
      direct.push(data.length);
      if (t instanceof Error) throw t;
      const n = t ?? data.length;
      kernel.push(Buffer.from(data.subarray(0, n)));
      return n;
    },
  );
  return { w, stream, kernel, direct, line: () => Buffer.concat(kernel).toString() };
}

describe('the serial driver writes', () => {
  it('with nothing queued, each write goes straight into the kernel, whole and in order', async () => {
    const t = writer(() => undefined);
    await Promise.all([t.w.write('one '), t.w.write(Buffer.from('two ')), t.w.write('three')]);
    assert.equal(t.line(), 'one two three');
    assert.deepEqual(t.w.counts, { direct: 3, queued: 0 });
    assert.equal(t.stream.writableLength, 0);
  });

  it('EAGAIN: the write goes serialport’s way, and every write after it waits behind it', async () => {
    const t = writer((call) => (call === 0 ? errno('EAGAIN') : undefined));
    const first = t.w.write('AAAA');
    // The kernel would take these now; they must not overtake the queued write.
    const rest = [t.w.write('BBBB'), t.w.write('CCCC')];
    assert.equal(t.direct.length, 1, 'only the first write was tried directly');
    assert.equal(t.line(), '', 'nothing reached the kernel ahead of the queued write');
    await t.stream.drain();
    await Promise.all([first, ...rest]);
    assert.equal(t.line(), 'AAAABBBBCCCC');
    // Once serialport's writes are done, the direct way is open again.
    await t.w.write('DDDD');
    assert.equal(t.line(), 'AAAABBBBCCCCDDDD');
    assert.deepEqual(t.w.counts, { direct: 1, queued: 3 });
  });

  it('a partial write: the rest goes serialport’s way, ahead of the writes that follow', async () => {
    const t = writer((call) => (call === 0 ? 3 : undefined));
    const all = [t.w.write('0123456789'), t.w.write('abc'), t.w.write('def')];
    assert.equal(t.line(), '012', 'the kernel took three bytes of the first write');
    await t.stream.drain();
    await Promise.all(all);
    assert.equal(t.line(), '0123456789abcdef');
    await t.w.write('!');
    assert.equal(t.line(), '0123456789abcdef!');
    assert.deepEqual(t.w.counts, { direct: 1, queued: 3 });
    assert.deepEqual(t.direct, [10, 1], 'the writes behind the partial one were not tried directly');
  });

  it('another error (EIO): serialport’s write meets it and the write fails as a lab error', async () => {
    const t = writer(() => errno('EIO'));
    t.stream.failWith = errno('EIO');
    t.stream.on('error', () => undefined);
    const w = t.w.write('lost');
    await t.stream.drain();
    await assert.rejects(
      w,
      (e: Error) => e instanceof LabError && /^writing to \/dev\/ttyUSB0 failed: EIO/.test(e.message),
    );
    assert.equal(t.line(), '');
  });

  it('no descriptor (a closed port, a binding without one): every write goes serialport’s way', async () => {
    const t = writer(() => undefined, null);
    const w = t.w.write('x');
    await t.stream.drain();
    await w;
    assert.equal(t.line(), 'x');
    assert.deepEqual(t.w.counts, { direct: 0, queued: 1 });
    assert.equal(t.direct.length, 0);
  });

  it('through a real pty pair: a write larger than the kernel takes is split between the two ways, and every byte arrives in order', async () => {
    const dir = tmpDir('hil-serial-write-');
    const [a, b] = [path.join(dir, 'a'), path.join(dir, 'b')];
    const socat = execa('socat', [`PTY,link=${a},raw,echo=0`, `PTY,link=${b},raw,echo=0`], { reject: false });
    try {
      while (!existsSync(a) || !existsSync(b)) {
        if (socat.exitCode !== null) throw new Error(`socat ended: ${(await socat).stderr}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      const from = await openSerial(a, 115200, { appearS: 5 });
      const to = await openSerial(b, 115200, { appearS: 5 });
      try {
        const got: Buffer[] = [];
        let gotBytes = 0;
        let arrived: (() => void) | null = null;
        let want = 0;
        to.onData((d) => {
          got.push(Buffer.from(d));
          gotBytes += d.length;
          if (gotBytes >= want) arrived?.();
        });
        const until = (n: number) =>
          new Promise<void>((resolve) => {
            want = n;
            arrived = resolve;
            if (gotBytes >= n) resolve();
          });
        // Every byte value, in a pattern that shows a reordering or a loss anywhere.
        const big = Buffer.alloc(1024 * 1024);
        let x = 0x2545f491;
        for (let i = 0; i < big.length; i++) {
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          big[i] = x & 0xff;
        }
        const parts: Buffer[] = [Buffer.from('first, direct\n'), big];
        for (let i = 0; i < 50; i++) parts.push(Buffer.from(`after the big one ${i}\n`));
        // A pty buffers far less than a megabyte: the big write is cut short, and the rest of
        // it, with all that follows, queues behind it.
        await Promise.all(parts.map((p) => from.write(p)));
        const sent = Buffer.concat(parts);
        await until(sent.length);
        assert.equal(gotBytes, sent.length);
        assert.ok(Buffer.concat(got).equals(sent), 'the far end got the bytes in the order they were written');
        // With the queue empty again, a write goes straight through and still arrives next.
        await from.write('last\n');
        await until(sent.length + 5);
        assert.equal(Buffer.concat(got).subarray(sent.length).toString(), 'last\n');
      } finally {
        await from.close();
        await to.close();
      }
    } finally {
      socat.kill('SIGTERM');
      await socat;
    }
  });
});
