// A console on a TCP port, as ser2net's raw accepter exports a serial port (`accepter:
// tcp,PORT`): the socket carries the UART's bytes unchanged, both ways. The serial side's
// speed is ser2net's business (its connector line), so there is no speed switch here.
// A console server that restarts (systemd restarting ser2net) refuses connections for a
// moment: connecting retries within connect_timeout, and a connection that drops mid-run
// is made again within the board's [console] reattach_timeout (console/reattach.ts).
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { z } from 'zod';
import { kindOf, LabError } from '../../errors.js';
import { labHostOf } from '../../remote/lab-host.js';
import { type ConsolePort, PortEvents } from '../../console/port.js';
import { reattaching } from '../../console/reattach.js';
import { defineConsole, type ConsoleOpenContext } from '../registry.js';

export const tcpSettings = {
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(1).max(65535),
  /** Seconds to wait for the connection (a server that refuses it meanwhile, restarting,
   * is tried again). */
  connect_timeout: z.number().positive().default(5),
  /** "lab_host": host and port are as the board file's [lab_host] sees them (its own
   * ser2net on 127.0.0.1, say), reached through its SSH connection. */
  via: z.enum(['direct', 'lab_host']).optional(),
};

type Reach = { host: string; port: number; connect_timeout: number; via?: 'direct' | 'lab_host' };

/** The console server's stream, straight over TCP or through the lab host; and its name. */
export async function reach(
  s: Reach,
  ctx: ConsoleOpenContext,
  scheme: string,
  signal = ctx.signal(),
): Promise<{ stream: Duplex; name: string }> {
  if (s.via !== 'lab_host')
    return { stream: await connect(s.host, s.port, s.connect_timeout, signal), name: `${scheme}:${s.host}:${s.port}` };
  const host = labHostOf(ctx.board, `console via = "lab_host"`);
  const stream = await host.forward(s.host, s.port).catch((e: Error) => {
    if (kindOf(e) === 'config') throw e;
    throw new LabError(
      'console',
      `cannot connect to the console at ${s.host}:${s.port} on ${host}: ${e.message.replace(`${host}: `, '')} (is ser2net running there, and the port the board file names?)`,
    );
  });
  return { stream, name: `${scheme}:${s.host}:${s.port} via ${host}` };
}

/** Connects to host:port within `timeoutS`; a refused connection is tried again meanwhile
 * (the server restarting), every 100 ms. */
export function connect(host: string, port: number, timeoutS: number, signal?: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let sock: net.Socket | undefined;
    let retry: NodeJS.Timeout | undefined;
    let settled = false;
    const fail = (why: string, tried = '') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(retry);
      signal?.removeEventListener('abort', onAbort);
      sock?.destroy();
      reject(
        new LabError(
          'console',
          `cannot connect to the console at ${host}:${port}: ${why} (is ser2net running there, and the port the board file names?)${tried}`,
        ),
      );
    };
    const onAbort = () => fail('interrupted');
    let refused = false;
    const attempt = () => {
      const s = net.connect({ host, port });
      sock = s;
      s.setNoDelay(true);
      s.once('connect', () => {
        if (settled) return void s.destroy();
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (e: NodeJS.ErrnoException) => {
        if (e.code !== 'ECONNREFUSED' || performance.now() - t0 + 100 >= timeoutS * 1000) {
          return fail(
            e.code ?? e.message,
            e.code === 'ECONNREFUSED' && performance.now() - t0 > 200 ? `; refused for ${timeoutS} s` : '',
          );
        }
        refused = true;
        s.destroy();
        retry = setTimeout(() => !settled && attempt(), 100);
      });
    };
    // Out of time between two refused tries (a busy machine), the refusals are what to say.
    const timer = setTimeout(
      () =>
        fail(refused ? 'ECONNREFUSED' : `no answer within ${timeoutS} s`, refused ? `; refused for ${timeoutS} s` : ''),
      timeoutS * 1000,
    );
    if (signal?.aborted) return fail('interrupted');
    signal?.addEventListener('abort', onAbort, { once: true });
    attempt();
  });
}

/** A ConsolePort over a socket; `decode`/`encode` sit between (telnet's IAC escaping). */
export function socketPort(
  sock: Duplex,
  name: string,
  codec?: { decode(chunk: Buffer): Buffer; encode(data: Buffer): Buffer },
): ConsolePort & { socket: Duplex } {
  const ev = new PortEvents();
  const goneAway = (why: string) =>
    ev.lose(new LabError('console', `the console connection ${name} went away (${why})`));
  sock.on('error', (e: NodeJS.ErrnoException) => goneAway(e.code ?? e.message));
  // Read from the start (telnet's option talk is answered at once); what arrives before the
  // console listens is kept for it, not lost.
  sock.on('data', (chunk: Buffer) => {
    const data = codec ? codec.decode(chunk) : chunk;
    if (data.length) ev.deliver(data);
  });
  sock.on('close', () => goneAway('closed by the other end'));
  return {
    name,
    socket: sock,
    write: (data) =>
      new Promise((resolve, reject) => {
        const bytes = typeof data === 'string' ? Buffer.from(data) : data;
        sock.write(codec ? codec.encode(bytes) : bytes, (err) =>
          err ? reject(new LabError('console', `writing to ${name} failed: ${err.message}`)) : resolve(),
        );
      }),
    onData: ev.onData,
    onLost: ev.onLost,
    close: () =>
      new Promise((resolve) => {
        ev.closing = true;
        if (sock.destroyed) return resolve();
        sock.end(() => resolve());
        setTimeout(() => {
          sock.destroy();
          resolve();
        }, 200).unref();
      }),
  };
}

export const tcpConsole = defineConsole({
  kind: 'tcp',
  summary: "a raw TCP port (ser2net's `accepter: tcp,PORT`): host, port",
  notes:
    '`via = "lab_host"`: `host` and `port` as the board\'s `[lab_host]` sees them, reached through its SSH connection',
  settings: z.object(tcpSettings).strict(),
  open: async (s, ctx) => {
    const once = async (timeoutS: number, signal?: AbortSignal) => {
      const { stream, name } = await reach({ ...s, connect_timeout: timeoutS }, ctx, 'tcp', signal);
      return socketPort(stream, name);
    };
    const first = await once(s.connect_timeout);
    return reattaching(first, {
      seconds: ctx.board.console.reattach_timeout ?? 0,
      label: `the console connection ${first.name}`,
      verb: 'reconnected',
      reopen: (leftS, signal) => once(Math.min(leftS, s.connect_timeout), signal),
    });
  },
});
