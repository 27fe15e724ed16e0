// The console of a board leased from ostool-server: its serial WebSocket
// (GET /api/v1/sessions/{id}/serial/ws), whose address the power driver of kind
// "ostool-server" gives when it leases the board. The framing is ostool's (client:
// board/serial_stream.rs at 9c6d3566; server: serial/ws.rs and serial/transport.rs at
// 245cfd8a): UART bytes travel as binary messages both ways; the server's text messages
// are JSON controls, {"type":"opened"} first, {"type":"error","message":...} when it failed
// (an automatic power-on that failed, a serial port that would not open), and
// {"type":"closed"} before its close frame; any other text is console output. The client
// ends with {"type":"close"} and a close frame; the server answers {"type":"closed"}, and
// the console's end starts the session's release (the board is powered off by the server).
import { z } from 'zod';
import { LabError } from '../../errors.js';
import { type ConsolePort, PortEvents } from '../../console/port.js';
import { defineConsole } from '../registry.js';

const settings = z
  .object({
    /** Seconds to wait for the WebSocket to open. */
    connect_timeout: z.number().positive().default(10),
  })
  .strict();

async function openPoolConsole(url: string, timeoutS: number, signal: AbortSignal): Promise<ConsolePort> {
  const { WebSocket } = await import('ws');
  const name = `ostool-server console ${url.replace(/^wss?:\/\//, '')}`;
  const ws = new WebSocket(url, { handshakeTimeout: timeoutS * 1000 });
  // Listening before the open completes: the server's first messages can come in the same
  // read as its handshake (a power-on that fails at once: its error, then its close), and
  // are emitted before the code after an awaited open runs. Before the open, a failure is
  // the open's (below), not a loss.
  let opened = false;
  const ev = new PortEvents();
  let serverError: string | undefined;
  /** The server said {"type":"closed"}: it ended the console (the session is being released). */
  let serverClosed = false;
  const deliver = (b: Buffer) => ev.deliver(b);
  const wentAway = (why: string) =>
    new LabError(
      'console',
      `the ${name} went away (${serverError ? `the server said: ${serverError}` : serverClosed ? `the server closed it: the session was released or its lease ran out; ${why}` : why})`,
    );
  let gone: LabError | undefined;
  const goneAway = (why: string) => {
    const e = wentAway(why);
    if (ev.lose(e)) gone = e;
  };
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) return deliver(data);
    const text = data.toString('utf8');
    try {
      const control = JSON.parse(text) as { type?: string; message?: string };
      if (control.type === 'opened') return;
      if (control.type === 'closed') {
        serverClosed = true;
        return;
      }
      if (control.type === 'error') {
        serverError = control.message ?? 'serial websocket error';
        return;
      }
    } catch {}
    deliver(Buffer.from(text, 'utf8'));
  });
  ws.on(
    'close',
    (code: number, reason: Buffer) =>
      opened && goneAway(`closed by the server, code ${code}${reason.length ? ` ${reason.toString()}` : ''}`),
  );
  ws.on('error', (e: NodeJS.ErrnoException) => opened && goneAway(e.code ?? e.message));
  await new Promise<void>((resolve, reject) => {
    const fail = (why: string) => {
      ws.terminate();
      reject(new LabError('console', `cannot open the ${name}: ${why}`));
    };
    ws.once('open', () => {
      opened = true;
      resolve();
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => {
        let msg = body.trim();
        try {
          msg = (JSON.parse(body) as { message?: string }).message ?? msg;
        } catch {}
        fail(`HTTP ${res.statusCode}${msg ? `: ${msg}` : ''}`);
      });
    });
    ws.once('error', (e: NodeJS.ErrnoException) => fail(e.code ?? e.message));
    signal.addEventListener('abort', () => fail('interrupted'), { once: true });
  });

  return {
    name,
    write: (data) =>
      new Promise((resolve, reject) => {
        // Closed by the server while the close is still on its way here: the same loss.
        if (ws.readyState !== ws.OPEN) return reject(gone ?? wentAway('closed by the server'));
        ws.send(typeof data === 'string' ? Buffer.from(data) : data, { binary: true }, (err) =>
          err ? reject(new LabError('console', `writing to the ${name} failed: ${err.message}`)) : resolve(),
        );
      }),
    onData: ev.onData,
    onLost: ev.onLost,
    close: () =>
      new Promise((resolve) => {
        ev.closing = true;
        if (ws.readyState !== ws.OPEN) {
          ws.terminate();
          return resolve();
        }
        // As ostool's serial_stream.rs ends: {"type":"close"}, then the close frame; the
        // server answers {"type":"closed"} and its own close frame.
        ws.send('{"type":"close"}');
        ws.close(1000);
        const done = setTimeout(() => {
          ws.terminate();
          resolve();
        }, 2000);
        done.unref();
        ws.once('close', () => {
          clearTimeout(done);
          resolve();
        });
      }),
  };
}

export const ostoolServerConsole = defineConsole({
  kind: 'ostool-server',
  summary: 'the serial WebSocket of a board leased from ostool-server (with power kind "ostool-server")',
  settings,
  // async: a missing path is a rejected promise like every other failure to open.
  open: async (s, ctx) => {
    if (!ctx.consolePath?.startsWith('ws'))
      throw new LabError(
        'console',
        `console kind "ostool-server" needs power kind "ostool-server", which leases the board and says where its console is; board ${ctx.board.name} has ${ctx.board.power.kind}`,
      );
    return openPoolConsole(ctx.consolePath, s.connect_timeout, ctx.signal());
  },
});
