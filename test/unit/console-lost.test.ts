// A console that goes away, in the runner's own layers: the reattaching port (the same for a
// serial adapter and a ser2net connection), the console's loss as an event, the guest
// watch's boot_silence (a gap of the console is not the board's silence), the line
// engine's memory bounds under a flood, and the board and case keys.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { loadBoard } from '../../runner/drivers/board.js';
import { loadCase } from '../../runner/config/case.js';
import { compileAll } from '../../runner/config/regex.js';
import { Console, ConsoleLost } from '../../runner/console/console.js';
import { expect, LineEngine, MAX_BEFORE_CHARS } from '../../runner/console/expect.js';
import { type ConsolePort, PortEvents } from '../../runner/console/port.js';
import { reattaching } from '../../runner/console/reattach.js';
import { Transcript } from '../../runner/console/transcript.js';
import { ConfigError, LabError, PhaseTimeout } from '../../runner/errors.js';
import { openSerial } from '../../runner/drivers/console/serial.js';
import { watchGuest } from '../../runner/guest/watch.js';
import { deriveToml, helloCaseWith, tmpDir, virtualBoard } from '../helpers.js';

/** A port whose far end the test drives: it prints, takes writes, goes away. */
class FakePort implements ConsolePort {
  readonly ev = new PortEvents();
  written = '';
  baud?: number;
  closed = false;
  constructor(readonly name: string) {}
  print(text: string): void {
    this.ev.deliver(Buffer.from(text));
  }
  goAway(why = 'EIO'): void {
    this.ev.lose(new LabError('console', `serial port ${this.name} went away (${why})`));
  }
  async write(d: string | Buffer): Promise<void> {
    if (this.ev.closing) throw new LabError('console', `writing to ${this.name} failed: closed`);
    this.written += d.toString();
  }
  onData = this.ev.onData;
  onLost = this.ev.onLost;
  async setBaud(b: number): Promise<void> {
    this.baud = b;
  }
  async close(): Promise<void> {
    this.closed = true;
    this.ev.closing = true;
  }
}

/** A reattaching port over FakePorts; `back()` lets the next reopen succeed. */
function reattachable(seconds: number) {
  const ports = [new FakePort('/dev/ttyUSB0')];
  let ready = false;
  const tries: number[] = [];
  const notes: string[] = [];
  const aways: boolean[] = [];
  const port = reattaching(ports[0], {
    seconds,
    label: 'serial port /dev/ttyUSB0',
    verb: 'reopened',
    reopen: async (leftS) => {
      tries.push(leftS);
      if (!ready) throw new Error('not there');
      const p = new FakePort('/dev/ttyUSB0');
      ports.push(p);
      return p;
    },
  });
  port.onNote?.((t) => notes.push(t));
  port.onAway?.((a) => aways.push(a));
  return { port, ports, tries, notes, aways, back: () => void (ready = true), latest: () => ports[ports.length - 1] };
}

const until = async (cond: () => boolean) => {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
};

describe('a console that goes away', () => {
  describe('the reattaching port', () => {
    it('waits for the port to come back, reopens it, carries on reading and writing, and says how long it was gone', async () => {
      const r = reattachable(30);
      const got: string[] = [];
      r.port.onData((d) => got.push(d.toString()));
      let lost: Error | undefined;
      r.port.onLost((e) => (lost = e));
      r.ports[0].print('before\n');
      await r.port.setBaud!(1500000);
      r.ports[0].goAway('EIO');
      assert.deepEqual(r.aways, [true]);
      assert.match(
        r.notes[0],
        /^serial port \/dev\/ttyUSB0 went away \(EIO\); waiting up to 30 s for it to come back$/,
      );
      await until(() => r.tries.length >= 2);
      const typed = r.port.write('typed while away'); // waits for the port
      r.back();
      await typed;
      assert.equal(r.ports.length, 2);
      assert.equal(r.latest().written, 'typed while away', 'the write went to the port that came back');
      assert.equal(r.latest().baud, 1500000, 'at the speed set before it went');
      r.latest().print('after\n');
      r.ports[0].print('stale\n'); // the old port is not read any more
      assert.deepEqual(got, ['before\n', 'after\n']);
      assert.deepEqual(r.aways, [true, false]);
      assert.match(
        r.notes[1],
        /^serial port \/dev\/ttyUSB0 is back after (\d+\.\d\d) s: reopened \(the console was gone \1 s: what the board printed meanwhile is not in the transcript\)$/,
      );
      assert.equal(lost, undefined);
    });

    it('not back within its bound: lost for good, naming the port and the bound; a waiting write fails with it', async () => {
      const r = reattachable(0.2);
      let lost: Error | undefined;
      r.port.onLost((e) => (lost = e));
      r.ports[0].goAway('disconnected');
      const typed = r.port.write('x');
      await assert.rejects(
        typed,
        /serial port \/dev\/ttyUSB0 went away \(disconnected\) and did not come back within 0\.2 s/,
      );
      assert.ok(lost instanceof LabError);
      assert.match(lost!.message, /and did not come back within 0\.2 s$/);
      assert.ok(
        r.tries.every((left) => left <= 0.2),
        'each try is given what is left of the bound',
      );
    });

    it('bound 0: the port as it is, lost at once', () => {
      const p = new FakePort('/dev/ttyUSB0');
      const port = reattaching(p, {
        seconds: 0,
        label: 'x',
        verb: 'reopened',
        reopen: () => Promise.reject(new Error('never')),
      });
      assert.equal(port, p);
    });

    it('closed while it waits: no more tries, no loss told', async () => {
      const r = reattachable(30);
      let lost: Error | undefined;
      r.port.onLost((e) => (lost = e));
      r.ports[0].goAway();
      await until(() => r.tries.length >= 1);
      await r.port.close();
      const n = r.tries.length;
      await new Promise((resolve) => setTimeout(resolve, 250));
      assert.ok(r.tries.length <= n + 1);
      assert.equal(lost, undefined);
    });
  });

  describe('the serial driver', () => {
    it('a port whose device goes (the pty of a socat that ended) is lost every time, whether its reads say so or not', async () => {
      // serialport misses such an end now and then (its reads just stop): the node is watched.
      const dir = tmpDir('hil-serial-');
      for (let i = 0; i < 10; i++) {
        const link = path.join(dir, `tty${i}`);
        const socat = execa('socat', [`PTY,link=${link},raw,echo=0`, 'STDIO'], {
          stdin: 'pipe',
          stdout: 'pipe',
          buffer: false,
          reject: false,
        });
        await until(() => existsSync(link));
        const port = await openSerial(link, 115200, { appearS: 1 });
        let got = 0;
        port.onData((d) => (got += d.length));
        const lost = new Promise<Error>((resolve) => port.onLost(resolve));
        for (let n = 0; n < 20; n++) socat.stdin!.write(`${'x'.repeat(100)}\r\n`);
        await until(() => got > 0);
        socat.kill('SIGTERM');
        await socat;
        assert.match((await lost).message, new RegExp(`^serial port ${link} went away \\(.+\\)$`));
      }
    });
  });

  describe('the console', () => {
    it('a lost port is an event: its signal aborts with a ConsoleLost naming the port, and every expect ends with it', async () => {
      const p = new FakePort('/dev/ttyUSB0');
      const con = new Console(p, new Transcript(tmpDir()));
      const waiting = con.expect([/never/], { timeoutMs: 60_000, onTimeout: () => new Error('timeout') });
      p.goAway('EIO');
      await assert.rejects(waiting, /serial port \/dev\/ttyUSB0 went away \(EIO\)/);
      assert.ok(con.lostSignal.aborted);
      assert.ok(con.lostSignal.reason instanceof ConsoleLost);
      assert.equal((con.lostSignal.reason as ConsoleLost).port, '/dev/ttyUSB0');
      await assert.rejects(con.write('x'), ConsoleLost);
    });

    it('a loss told before the console listened is still heard', () => {
      const p = new FakePort('tcp:127.0.0.1:4000');
      p.goAway('ECONNRESET');
      const con = new Console(p, new Transcript(tmpDir()));
      assert.ok(con.lostSignal.aborted);
    });
  });

  describe('boot_silence in the guest watch', () => {
    /** A console past U-Boot's hand-off line (the boot action took it), and the watch on it. */
    const setup = async (seconds: number) => {
      const r = reattachable(30);
      const con = new Console(r.port, new Transcript(tmpDir()));
      const handoff = con.expect([/^Starting kernel/], { timeoutMs: 5000, onTimeout: () => new Error('no hand-off') });
      r.ports[0].print('Starting kernel ...\r\n\r\n');
      await handoff;
      const done = watchGuest(
        con,
        { success: compileAll(['^never$'], 't'), fail: [] },
        {
          firstOutputS: 60,
          silenceS: seconds,
          typeDelayMs: 0,
          shellInitDelayS: 0.1,
          signal: new AbortController().signal,
        },
      );
      return { r, con, done };
    };

    it('that long with no output ends the watch as a timeout naming the last line', async () => {
      const { r, done } = await setup(0.3);
      const t0 = performance.now();
      r.ports[0].print('Hello, world!\r\nhil-hello: bare-metal guest done\r\n');
      const err = await done.then(
        () => assert.fail('passed'),
        (e) => e,
      );
      assert.ok(err instanceof PhaseTimeout);
      assert.equal(err.verdict, 'timeout');
      assert.equal(err.phase, 'guest');
      assert.equal(err.message, 'guest: no output for 0.3 s after "hil-hello: bare-metal guest done" (the last line)');
      assert.ok(performance.now() - t0 >= 300, 'not before the silence was complete');
    });

    it('nothing at all after the hand-off is the boot phase', async () => {
      const { done } = await setup(0.2);
      await assert.rejects(
        done,
        (e: PhaseTimeout) =>
          e.phase === 'boot' && e.message === 'boot: no output for 0.2 s after "Starting kernel ..." (the last line)',
      );
    });

    it('output moves the silence on; the time the console itself was away is not the board silent', async () => {
      const { r, con, done } = await setup(0.3);
      let ended = false;
      void done.catch(() => (ended = true));
      const t0 = performance.now();
      // The guest prints for longer than the silence, each line within it.
      for (let i = 0; i < 6; i++) {
        r.ports[0].print(`line ${i}\r\n`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(ended, false, 'the guest kept talking');
      r.ports[0].goAway();
      // Away for longer than the silence: not the board's.
      await until(() => r.tries.length >= 6 && performance.now() - t0 > 1200);
      assert.equal(ended, false, 'the console was away, not the board silent');
      r.back();
      const err: PhaseTimeout = await done.then(
        () => assert.fail('passed'),
        (e) => e,
      );
      assert.ok(
        con.backAt > 0 && performance.now() - con.backAt >= 300,
        'the silence counts from the moment the console was back',
      );
      assert.match(err.message, /^guest: no output for 0\.3 s after "line 5" \(the last line\)$/);
    });
  });

  describe('the line engine under a flood', () => {
    it('keeps a bounded backlog in characters, the newest lines, while nobody consumes', async () => {
      const e = new LineEngine();
      const line = `${'x'.repeat(1000)}\n`;
      for (let i = 0; i < 20; i++) e.feed(line.repeat(1000)); // 20 MB, no consumer
      e.feed('the last line\n');
      const pending = e.pending();
      const chars = pending.reduce((n, l) => n + l.length, 0);
      assert.ok(chars <= 4 * 1024 * 1024, `${chars} characters kept`);
      assert.ok(e.dropped > 15_000);
      assert.equal(pending[pending.length - 1], 'the last line');
      const m = await expect(e, [/^the last line$/], { timeoutMs: 1000, onTimeout: () => new Error('timeout') });
      assert.equal(m.line, 'the last line', 'the next consumer still sees the newest');
    });

    it("keeps a bounded `before` in characters, the lines nearest the match (a command's output)", async () => {
      const e = new LineEngine();
      const p = expect(e, [/^done$/], { timeoutMs: 5000, onTimeout: () => new Error('timeout') });
      const long = 'y'.repeat(64 * 1024);
      for (let i = 0; i < 100; i++) e.feed(`${long}\n`); // 6.4 MB of 64 KiB lines
      e.feed('near\ndone\n');
      const m = await p;
      const chars = m.before.reduce((n, l) => n + l.length, 0);
      assert.ok(chars <= MAX_BEFORE_CHARS, `${chars} characters kept`);
      assert.equal(m.before[m.before.length - 1], 'near');
    });

    it('a line of binary noise longer than 64 KiB is cut, and the last lines for reports are short', () => {
      const e = new LineEngine();
      const cut: string[] = [];
      e.observe((l) => cut.push(l));
      const noise = Buffer.from(`${'z'.repeat(200 * 1024)}\nok\n`);
      for (let o = 0; o < noise.length; o += 4096) e.feed(noise.subarray(o, o + 4096)); // as a serial line reads it
      assert.ok(cut.length >= 4 && cut.every((l) => l.length <= 64 * 1024 + 8192));
      assert.ok(e.recent(5).every((l) => l.length <= 4096));
      assert.equal(e.recent(1)[0], 'ok');
    });
  });

  describe('the keys', () => {
    it('[console] reattach_timeout is a board key of every console kind', () => {
      const dir = tmpDir();
      const b = loadBoard(
        deriveToml(
          virtualBoard,
          (d) => {
            d.console = { kind: 'tcp', host: '127.0.0.1', port: 4000, reattach_timeout: 12 };
          },
          dir,
        ),
      );
      assert.equal(b.console.reattach_timeout, 12);
      assert.equal(b.console.settings.reattach_timeout, undefined, "not the driver's setting");
      assert.equal(loadBoard(virtualBoard).console.reattach_timeout, undefined);
      const bad = deriveToml(virtualBoard, (d) => (d.console.reattach_timeout = -1), dir, 'bad.toml');
      assert.throws(
        () => loadBoard(bad),
        (e: Error) =>
          e instanceof ConfigError &&
          /bad\.toml: console\.reattach_timeout: Number must be greater than or equal to 0/.test(e.message),
      );
    });

    it('boot_silence is read, and must be shorter than the case timeout', () => {
      const ok = loadCase(helloCaseWith((d) => (d.boot_silence = 10)));
      assert.equal(ok.bootSilence, 10);
      assert.throws(
        () => loadCase(helloCaseWith((d) => (d.boot_silence = 60))),
        (e: Error) =>
          e instanceof ConfigError &&
          /boot_silence: 60 s is not shorter than the case's timeout \(60 s\)/.test(e.message),
      );
      const noLimit = path.join(tmpDir(), 'board-x.toml');
      writeFileSync(noLimit, 'success_regex = ["x"]\ntimeout = 0\nboot_silence = 600\n');
      assert.equal(loadCase(noLimit).bootSilence, 600, 'a case with no time limit may have any');
    });
  });
});
