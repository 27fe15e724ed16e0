import assert from 'node:assert/strict';
import { expect, LineEngine, stripEscapes } from '../../runner/console/expect.js';

const wait = (e: LineEngine, patterns: RegExp[], partial = false, ms = 200) =>
  expect(e, patterns, { timeoutMs: ms, partial, onTimeout: () => new Error('timeout') });

describe('expect engine', () => {
  it('matches line by line, so a prompt inside output does not count (crc32 prints "==> ")', async () => {
    const e = new LineEngine();
    const prompt = /^=> $/;
    const p = wait(e, [prompt], true);
    e.feed('crc32 ${kernel_addr_r} 0xa0\r\ncrc32 for 40400000 ... 4040009f ==> bb56a755\r\n');
    e.feed('=');
    e.feed('> ');
    const m = await p;
    assert.equal(m.partial, true);
    assert.deepEqual(m.before, ['crc32 ${kernel_addr_r} 0xa0', 'crc32 for 40400000 ... 4040009f ==> bb56a755']);
  });

  it('keeps lines that arrive between two waits for the next one', async () => {
    const e = new LineEngine();
    e.feed('first\nsecond\nthird\n');
    assert.equal((await wait(e, [/second/])).line, 'second');
    assert.equal((await wait(e, [/./])).line, 'third', 'the second wait starts after the first match');
  });

  it('joins lines split across chunks, strips CR and terminal escapes', async () => {
    const e = new LineEngine();
    const p = wait(e, [/^guest test pass!$/]);
    e.feed(Buffer.from('\x1b[32mguest te'));
    e.feed(Buffer.from('st pass!\x1b[0m\r'));
    e.feed(Buffer.from('\n'));
    assert.equal((await p).line, 'guest test pass!');
  });

  it('a terminal escape cut between reads shows in no line still being printed (busybox prompt, ESC[6n)', () => {
    assert.equal(stripEscapes('root@hil-guest:~# \x1b[6'), 'root@hil-guest:~# ');
    assert.equal(stripEscapes('root@hil-guest:~# \x1b'), 'root@hil-guest:~# ');
    assert.equal(stripEscapes('root@hil-guest:~# \x1b[6n'), 'root@hil-guest:~# ');
    assert.equal(
      stripEscapes('a \x1b[6 b'),
      'a ',
      'a space is an intermediate byte, b the final one: a whole sequence',
    );
  });

  it('decodes UTF-8 split between chunks', async () => {
    const e = new LineEngine();
    const p = wait(e, [/^héllo$/]);
    const bytes = Buffer.from('héllo\n');
    e.feed(bytes.subarray(0, 2));
    e.feed(bytes.subarray(2));
    assert.equal((await p).line, 'héllo');
  });

  it('does not hand a consumed prompt to the next consumer again', async () => {
    const e = new LineEngine();
    e.feed('=> ');
    await wait(e, [/^=> $/], true);
    const p = wait(e, [/.*/]);
    e.feed('echo hi\r\n');
    assert.equal((await p).line, 'echo hi');
  });

  it('only tests the incomplete line when asked to', async () => {
    const e = new LineEngine();
    e.feed('/ # ');
    await assert.rejects(wait(e, [/^\/ # $/], false, 50), /timeout/);
    assert.equal((await wait(e, [/^\/ # $/], true)).partial, true);
  });

  it('lets only the named patterns match a line still being printed', async () => {
    const e = new LineEngine();
    const prompt = /^=> $/;
    const handoff = /Starting kernel/;
    const p = expect(e, [handoff, prompt], {
      timeoutMs: 200,
      partial: [prompt],
      onTimeout: () => new Error('timeout'),
    });
    e.feed('Starting kernel'); // the line arrives in two reads
    e.feed(' ...\r\n');
    const m = await p;
    assert.equal(m.index, 0);
    assert.equal(m.partial, false, 'matched on the whole line, not its first half');
    assert.equal(m.line, 'Starting kernel ...');
  });

  it('keeps a bounded backlog and a bounded line when nobody reads', () => {
    const e = new LineEngine();
    for (let i = 0; i < 30_000; i++) e.feed(`line ${i}\n`);
    assert.equal(e.dropped, 10_000);
    e.feed('#'.repeat(70 * 1024));
    assert.equal(e.lineCount, 30_001, 'a line with no end is passed on as a line, not kept growing');
    assert.equal(e.partial, '');
  });

  it("rejects with the caller's error on timeout and with the abort reason", async () => {
    const e = new LineEngine();
    await assert.rejects(wait(e, [/never/], false, 20), /timeout/);
    const ac = new AbortController();
    const p = expect(e, [/never/], { timeoutMs: 5000, onTimeout: () => new Error('t'), signal: ac.signal });
    ac.abort(new Error('interrupted by SIGINT'));
    await assert.rejects(p, /interrupted by SIGINT/);
  });
});
