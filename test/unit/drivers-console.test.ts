// The console kinds (pty, tcp, rfc2217, ostool-server) opened through the driver registry,
// as the runner's board session opens them (runner/job/session.ts: driver('console',
// kind).open with the board's settings and a ConsoleOpenContext), against real far ends
// that start in milliseconds: a pty made by socat, a local TCP server, Debian's ser2net
// exporting a socat pty with RFC 2217, and the ostool-server model's serial WebSocket. For
// each: bytes both ways arrive intact and in order (every byte value, 0xFF and Ctrl-C
// included), close() ends the connection, and a far end that goes away is reported through
// the port's onLost, naming the port. serial.ts is covered by test/unit/console-lost.test.ts.
//
// The ostool-server model's boards carry console bytes only while a QEMU board runs behind
// them; its dark boards (no QEMU) carry none. So the model is used for what it does without
// QEMU (the WebSocket's opening, its close handshake, the server's error, the server going
// away), and the bytes both ways are checked against a local WebSocket server that speaks
// ostool's framing (serial/ws.rs: {"type":"opened"} first, binary frames both ways).
import assert from 'node:assert/strict';
import { existsSync, readlinkSync, readdirSync, realpathSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Board } from '../../runner/config/board.js';
import type { ConsolePort } from '../../runner/console/port.js';
import '../../runner/drivers/index.js';
import { driver, type ConsoleOpenContext } from '../../runner/drivers/registry.js';
import { LabError } from '../../runner/errors.js';
import { freePort, startSer2net, type Ser2net } from '../../fixtures/ser2net.js';
import { type PoolModel, startPoolModel } from '../../fixtures/ostool-server/start.js';
import { tmpDir, until } from '../helpers.js';
import { rig } from './drivers-context.js';

/** Every byte value, many times over, in an order a reordering or a dropped chunk would break. */
const PAYLOAD = Buffer.from(Array.from({ length: 96 * 1024 }, (_, i) => (i * 7 + (i >> 8)) & 0xff));

/** The board as a console driver reads it: its name, and its console's kind and reattach bound. */
function consoleCtx(kind: string, consolePath?: string): ConsoleOpenContext {
  const dir = tmpDir('hil-console-');
  const board = {
    name: 'bench-board',
    file: path.join(dir, 'bench-board.toml'),
    console: { kind, settings: {}, reattach_timeout: 0 },
    power: { kind: 'shell', settings: {} },
  } as unknown as Board;
  const run = new AbortController();
  return { board, log: () => {}, signal: () => run.signal, outDir: dir, consolePath };
}

/** The console kind's port, opened as the board session opens it: settings through its schema. */
async function open(kind: string, settings: Record<string, unknown>, consolePath?: string): Promise<ConsolePort> {
  const d = driver('console', kind)!;
  return d.open(d.settings.parse(settings), consoleCtx(kind, consolePath));
}

/** What a port delivers, and its loss. */
function watch(port: ConsolePort) {
  const chunks: Buffer[] = [];
  let lost: Error | undefined;
  port.onData((b) => chunks.push(Buffer.from(b)));
  port.onLost((e) => (lost = e));
  return {
    received: () => Buffer.concat(chunks),
    lost: () => lost,
  };
}

/** A byte sink the test reads back. */
const sink = () => {
  const chunks: Buffer[] = [];
  return { push: (b: Buffer) => chunks.push(Buffer.from(b)), all: () => Buffer.concat(chunks) };
};

/** Both ways: `PAYLOAD` from the far end to the port, and from the port to the far end. */
async function bothWays(
  port: ConsolePort,
  seen: ReturnType<typeof watch>,
  farSend: (b: Buffer) => void,
  farGot: () => Buffer,
): Promise<void> {
  farSend(PAYLOAD);
  await until(() => seen.received().length >= PAYLOAD.length, 'the far end’s bytes at the port');
  assert.ok(seen.received().equals(PAYLOAD), 'the far end’s bytes arrived intact and in order');
  // Written in pieces, as the runner writes (a command, YMODEM blocks).
  for (let o = 0; o < PAYLOAD.length; o += 1029) await port.write(PAYLOAD.subarray(o, o + 1029));
  await until(() => farGot().length >= PAYLOAD.length, 'the port’s bytes at the far end');
  assert.ok(farGot().equals(PAYLOAD), 'the port’s bytes arrived intact and in order');
}

const lostNaming = (seen: ReturnType<typeof watch>, re: RegExp) => {
  const e = seen.lost();
  assert.ok(e instanceof LabError, `lost with a lab error, not ${e}`);
  assert.match(e.message, re);
};

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A pty whose other end is socat's stdin and stdout (a board's UART, as a test drives it). */
async function socatPty(link: string) {
  const socat: ResultPromise = execa('socat', [`PTY,link=${link},raw,echo=0`, 'STDIO'], {
    stdin: 'pipe',
    stdout: 'pipe',
    buffer: false,
    reject: false,
  });
  const out = sink();
  socat.stdout!.on('data', (d: Buffer) => out.push(d));
  const running = () => socat.exitCode === null && socat.signalCode === null;
  await until(() => existsSync(link) || !running(), 'socat’s pty');
  assert.ok(existsSync(link), 'socat made its pty');
  return {
    link,
    send: (b: Buffer) => void socat.stdin!.write(b),
    got: out.all,
    stop: async () => {
      if (running()) socat.kill('SIGTERM');
      await socat;
    },
  };
}

/** This process's open descriptors that point at `file`. */
const descriptorsOn = (file: string) =>
  readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === file;
    } catch {
      return false;
    }
  });

describe('console kinds through the registry', () => {
  describe('pty', () => {
    let far: Awaited<ReturnType<typeof socatPty>> | undefined;
    let port: ConsolePort | undefined;
    afterEach(async () => {
      await port?.close();
      await far?.stop();
      port = far = undefined;
    });

    it('opens the pty the power driver reports; bytes both ways intact; close() leaves no descriptor on it', async () => {
      far = await socatPty(path.join(tmpDir('hil-pty-'), 'ttyBoard'));
      port = await open('pty', { baud: 115200 }, far.link);
      assert.equal(port.name, far.link);
      const seen = watch(port);
      await bothWays(port, seen, far.send, far.got);
      const dev = realpathSync(far.link);
      assert.ok(descriptorsOn(dev).length > 0, 'open: a descriptor on the pty');
      await port.close();
      await until(() => descriptorsOn(dev).length === 0, 'the pty’s descriptor to be closed');
      assert.equal(seen.lost(), undefined, 'a close is not a loss');
    });

    it('no pty reported (a power driver without one): a lab error naming the board and its power kind', async () => {
      await assert.rejects(
        open('pty', {}),
        (e: Error) =>
          e instanceof LabError &&
          /console kind "pty" needs a power driver that reports a pty .*board bench-board has shell/.test(e.message),
      );
    });

    it('the far end going away (socat ended) is a loss naming the pty', async () => {
      far = await socatPty(path.join(tmpDir('hil-pty-'), 'ttyBoard'));
      port = await open('pty', {}, far.link);
      const seen = watch(port);
      far.send(Buffer.from('U-Boot 2023.01\r\n'));
      await until(() => seen.received().length > 0, 'the first bytes');
      await far.stop();
      await until(() => seen.lost() !== undefined, 'the loss');
      lostNaming(seen, new RegExp(`^serial port ${esc(far.link)} went away \\(.+\\)$`));
    });
  });

  describe('tcp', () => {
    let server: net.Server | undefined;
    let port: ConsolePort | undefined;
    afterEach(async () => {
      await port?.close();
      if (server) await new Promise((r) => server!.close(r));
      port = server = undefined;
    });

    /** A raw TCP console server (ser2net's `accepter: tcp,PORT`): its connections, and what each got. */
    async function tcpServer(at = 0) {
      const conns: { sock: net.Socket; got: ReturnType<typeof sink>; ended: boolean }[] = [];
      const srv = net.createServer((sock) => {
        const c = { sock, got: sink(), ended: false };
        sock.on('data', (d) => c.got.push(d));
        sock.on('end', () => (c.ended = true));
        sock.on('error', () => {});
        conns.push(c);
      });
      await new Promise<void>((r) => srv.listen(at, '127.0.0.1', r));
      return { srv, conns, port: (srv.address() as net.AddressInfo).port };
    }

    it('connects to host:port; bytes both ways intact; close() ends the connection (the server reads its end)', async () => {
      const s = await tcpServer();
      server = s.srv;
      port = await open('tcp', { host: '127.0.0.1', port: s.port });
      assert.equal(port.name, `tcp:127.0.0.1:${s.port}`);
      const seen = watch(port);
      await until(() => s.conns.length === 1, 'the connection at the server');
      const c = s.conns[0]!;
      await bothWays(port, seen, (b) => c.sock.write(b), c.got.all);
      await port.close();
      await until(() => c.ended, 'the end of the connection at the server');
      assert.equal(seen.lost(), undefined, 'a close is not a loss');
    });

    it('a server that is not listening yet (restarting) is connected to once it listens, within connect_timeout', async () => {
      const at = await freePort();
      const opening = open('tcp', { host: '127.0.0.1', port: at, connect_timeout: 30 });
      const s = await tcpServer(at);
      server = s.srv;
      port = await opening;
      await until(() => s.conns.length === 1, 'the connection at the server');
    });

    it('the server dropping the connection is a loss naming host and port', async () => {
      const s = await tcpServer();
      server = s.srv;
      port = await open('tcp', { port: s.port });
      const seen = watch(port);
      await until(() => s.conns.length === 1, 'the connection at the server');
      s.conns[0]!.sock.destroy();
      await until(() => seen.lost() !== undefined, 'the loss');
      lostNaming(
        seen,
        new RegExp(
          `^the console connection tcp:127\\.0\\.0\\.1:${s.port} went away \\((closed by the other end|ECONNRESET)\\)$`,
        ),
      );
    });

    it('nothing listening within connect_timeout: a lab error naming host and port', async () => {
      const at = await freePort();
      // Whichever of the driver's two ends comes first (its overall timer, or the refusal seen
      // on the last retry: that depends on the machine's load), the refusals are what it says.
      await assert.rejects(
        open('tcp', { port: at, connect_timeout: 0.3 }),
        (e: Error) =>
          e instanceof LabError &&
          new RegExp(
            `^cannot connect to the console at 127\\.0\\.0\\.1:${at}: ECONNREFUSED \\(is ser2net running there.*\\); refused for 0\\.3 s$`,
          ).test(e.message),
      );
    });
  });

  describe('rfc2217 (Debian ser2net exporting a socat pty)', () => {
    let far: Awaited<ReturnType<typeof socatPty>> | undefined;
    let ser2net: Ser2net | undefined;
    let port: ConsolePort | undefined;
    afterEach(async () => {
      await port?.close();
      await ser2net?.stop();
      await far?.stop();
      port = ser2net = far = undefined;
    });

    /** socat's pty where fixtures/ser2net.ts has ser2net look for the board's UART. */
    async function exported() {
      const dir = tmpDir('hil-rfc2217-');
      far = await socatPty(path.join(dir, 'ttyVirtualBoard'));
      ser2net = await startSer2net(dir, true);
      return { far, ser2net };
    }

    /** The pty's speed as the kernel has it (stty on the pty ser2net drives). */
    const speedOf = async (link: string) => (await execa('stty', ['-F', link, 'speed'])).stdout.trim();

    it('telnet with RFC 2217: the speed asked is confirmed and set on the serial side; 0xFF and every other byte pass both ways; close() frees the one connection ser2net allows', async () => {
      const { far, ser2net } = await exported();
      port = await open('rfc2217', { host: '127.0.0.1', port: ser2net.port, baud: 57600 });
      assert.equal(port.name, `rfc2217:127.0.0.1:${ser2net.port}`);
      assert.equal(await speedOf(far.link), '57600', "the connection's speed reached the UART");
      await port.setBaud!(1500000);
      assert.equal(await speedOf(far.link), '1500000', 'a speed switch (loady ADDR BAUD) too');
      const seen = watch(port);
      await bothWays(port, seen, far.send, far.got);
      // ser2net is set to one connection at a time: a second one works only once this one ended.
      await port.close();
      port = await open('rfc2217', { host: '127.0.0.1', port: ser2net.port });
      const again = watch(port);
      // Our bytes first: once they are through, ser2net has the pty open again (what the
      // pty is given while nobody holds it is not kept).
      const before = far.got().length;
      await port.write('version\r');
      await until(() => far.got().length >= before + 8, 'bytes on the second connection, to the board');
      assert.equal(far.got().subarray(before).toString(), 'version\r');
      far.send(Buffer.from('=> '));
      await until(() => again.received().toString() === '=> ', 'bytes on the second connection, from the board');
      assert.equal(seen.lost(), undefined, 'a close is not a loss');
    });

    it('ser2net going away is a loss naming the connection', async () => {
      const { ser2net } = await exported();
      port = await open('rfc2217', { host: '127.0.0.1', port: ser2net.port });
      const seen = watch(port);
      await ser2net.stop();
      await until(() => seen.lost() !== undefined, 'the loss');
      lostNaming(
        seen,
        new RegExp(
          `^the console connection rfc2217:127\\.0\\.0\\.1:${ser2net.port} went away \\((closed by the other end|ECONNRESET)\\)$`,
        ),
      );
    });
  });

  describe('ostool-server', () => {
    let m: PoolModel | undefined;
    let port: ConsolePort | undefined;
    let offs: (() => Promise<void>)[] = [];
    afterEach(async () => {
      await port?.close();
      for (const off of offs) await off().catch(() => {});
      await m?.stop();
      port = m = undefined;
      offs = [];
    });

    /** A board leased from the model through the ostool-server power driver: where its console is. */
    async function leased(powerOn: ('silent' | 'fail')[] = Array(20).fill('silent')) {
      m = await startPoolModel(tmpDir('hil-pool-'), {
        boards: [{ id: 'rk-01', board_type: 'rk3568', tags: ['lab-a'], power_on: powerOn } as never],
      });
      const r = rig({ name: 'rk3568', board: { console: { kind: 'ostool-server' } } as never });
      const power = r.power('ostool-server', { server: '127.0.0.1', port: m.port, board_type: 'rk3568' });
      offs.push(() => power.off());
      const { consolePath } = await power.attach();
      const session = m.events().find((e) => e.event === 'session-create')!.session!;
      return { consolePath: consolePath!, session, m };
    }

    it('opens the WebSocket the power driver reports; close() says {"type":"close"}, and the server ends the session for it', async () => {
      const { consolePath, session, m } = await leased();
      port = await open('ostool-server', {}, consolePath);
      assert.equal(port.name, `ostool-server console ${consolePath.replace('ws://', '')}`);
      const seen = watch(port);
      await until(
        () => m.events().some((e) => e.event === 'serial-open' && e.session === session),
        'the console at the server',
      );
      await port.close();
      await until(
        () => m.events().some((e) => e.event === 'session-end' && e.session === session),
        'the session’s end',
      );
      assert.ok(
        m.events().some((e) => e.event === 'serial-close-request' && e.session === session),
        'ended by the client’s {"type":"close"}',
      );
      assert.equal(m.events().find((e) => e.event === 'session-end' && e.session === session)!.reason, 'serial_closed');
      assert.equal(seen.received().length, 0, 'the control messages are not console output');
      assert.equal(seen.lost(), undefined, 'a close is not a loss');
    });

    it("the server's error (its automatic power-on failed) is in the loss, naming the console", async () => {
      const { consolePath } = await leased(['fail']);
      port = await open('ostool-server', {}, consolePath);
      const seen = watch(port);
      await until(() => seen.lost() !== undefined, 'the loss');
      lostNaming(
        seen,
        new RegExp(
          `^the ostool-server console ${esc(consolePath.replace('ws://', ''))} went away \\(the server said: automatic power-on failed: command \`hil-pool-power on rk-01\` exited`,
        ),
      );
    });

    it('the server going away (killed) is a loss naming the console', async () => {
      const { consolePath, m } = await leased();
      port = await open('ostool-server', {}, consolePath);
      const seen = watch(port);
      await m.kill();
      await until(() => seen.lost() !== undefined, 'the loss');
      lostNaming(seen, new RegExp(`^the ostool-server console ${esc(consolePath.replace('ws://', ''))} went away \\(`));
    });

    describe('bytes both ways, against a local server in ostool’s framing', () => {
      let http_: http.Server | undefined;
      let wss: WebSocketServer | undefined;
      afterEach(async () => {
        for (const c of wss?.clients ?? []) c.terminate();
        wss?.close();
        if (http_) await new Promise((r) => http_!.close(r));
        http_ = wss = undefined;
      });

      async function wsServer() {
        http_ = http.createServer();
        wss = new WebSocketServer({ server: http_, path: '/api/v1/sessions/s1/serial/ws' });
        const conns: { ws: WebSocket; got: ReturnType<typeof sink>; texts: string[]; closed?: number }[] = [];
        wss.on('connection', (ws) => {
          const c = { ws, got: sink(), texts: [] as string[], closed: undefined as number | undefined };
          ws.on('message', (d: Buffer, binary: boolean) => (binary ? c.got.push(d) : c.texts.push(d.toString())));
          ws.on('close', (code) => (c.closed = code));
          conns.push(c);
          ws.send('{"type":"opened"}');
        });
        await new Promise<void>((r) => http_!.listen(0, '127.0.0.1', r));
        return {
          conns,
          url: `ws://127.0.0.1:${(http_.address() as net.AddressInfo).port}/api/v1/sessions/s1/serial/ws`,
        };
      }

      it('binary frames both ways intact and in order; a plain text frame is console output, the controls are not; close() is {"type":"close"} and a close frame', async () => {
        const s = await wsServer();
        port = await open('ostool-server', {}, s.url);
        const seen = watch(port);
        await until(() => s.conns.length === 1, 'the connection at the server');
        const c = s.conns[0]!;
        await bothWays(port, seen, (b) => c.ws.send(b, { binary: true }), c.got.all);
        c.ws.send('{"type":"closed"}'); // a control, said before a close: not output
        c.ws.send('=> ');
        await until(() => seen.received().length >= PAYLOAD.length + 3, 'the text frame');
        assert.equal(seen.received().subarray(PAYLOAD.length).toString(), '=> ');
        await port.close();
        await until(() => c.closed !== undefined, 'the close at the server');
        assert.deepEqual(c.texts, ['{"type":"close"}']);
        assert.equal(c.closed, 1000);
        assert.equal(seen.lost(), undefined, 'a close is not a loss');
      });

      it('the connection dropped by the server is a loss naming the console', async () => {
        const s = await wsServer();
        port = await open('ostool-server', {}, s.url);
        const seen = watch(port);
        await until(() => s.conns.length === 1, 'the connection at the server');
        s.conns[0]!.ws.terminate();
        await until(() => seen.lost() !== undefined, 'the loss');
        lostNaming(
          seen,
          new RegExp(
            `^the ostool-server console ${esc(s.url.replace('ws://', ''))} went away \\(closed by the server, code 1006\\)$`,
          ),
        );
      });
    });

    it('no WebSocket reported (another power kind): a lab error naming the board', async () => {
      await assert.rejects(
        open('ostool-server', {}),
        (e: Error) =>
          e instanceof LabError &&
          /console kind "ostool-server" needs power kind "ostool-server".*board bench-board has shell/.test(e.message),
      );
    });
  });
});
