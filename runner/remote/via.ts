// How a driver reaches its device: from this host, or through the board's [lab_host] (the
// host the board is wired to, over SSH), as a board file's `via = "lab_host"` says. A
// command runs there as the ssh power kind runs it; an HTTP request (a network PDU on the
// lab's own network) goes through the SSH connection's TCP forwarding, as a console's
// ser2net port does. A driver asks for a runner or a requester once and never looks at
// which it got.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { z } from 'zod';
import type { Board } from '../config/board.js';
import { kindOf, LabError } from '../errors.js';
import { type CommandRunner, runCommand } from './command.js';
import { labHostOf, shq } from './lab-host.js';

/** "lab_host": the device is as the board file's [lab_host] sees it, reached through it. */
export const viaSetting = z.enum(['direct', 'lab_host']).optional();
export type Via = z.infer<typeof viaSetting>;

/** Where a driver's shell commands run, and how its errors name that place ("" here, " on
 * lab host u@h" there). The environment is set on the lab host as here. */
export function commandsVia(board: Board, via: Via, who: string): { run: CommandRunner; where: string } {
  return via === 'lab_host' ? commandsOnLabHost(board, who) : { run: runCommand, where: '' };
}

/** Commands run on the board's [lab_host] over SSH (the ssh power kind's way). */
export function commandsOnLabHost(board: Board, who: string): { run: CommandRunner; where: string } {
  const host = labHostOf(board, who);
  return {
    run: async (cmd, timeoutS, env) => {
      const prefix = Object.entries(env)
        .map(([k, v]) => `${k}=${shq(v)}`)
        .join(' ');
      return host.exec(`${prefix ? `export ${prefix}; ` : ''}${cmd}`, timeoutS).catch((e: Error) => {
        throw kindOf(e) ? e : new LabError('power', `${host}: ${e.message}`);
      });
    },
    where: ` on ${host}`,
  };
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  /** The path and query: `/netio.json`. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Sends one HTTP request to host:port and reads the whole answer (1 MiB at most). */
export type HttpRequester = (req: HttpRequest, signal: AbortSignal) => Promise<HttpAnswer>;

/** HTTP to host:port from this host, or from the board's [lab_host] through its SSH
 * connection; and how messages name the way (" via lab host u@h"). A connection that
 * cannot be made is an Error saying why (the driver names its device around it). */
export function httpVia(
  board: Board,
  via: Via,
  host: string,
  port: number,
  who: string,
): { request: HttpRequester; where: string } {
  let connect: (() => Promise<Duplex>) | undefined;
  let where = '';
  if (via === 'lab_host') {
    const lab = labHostOf(board, who);
    // A channel the lab host cannot open is said once, without the lab host's name again
    // (the driver's message names the way); a key or known_hosts problem stays what it is.
    connect = () =>
      lab.forward(host, port).catch((e: Error) => {
        if (kindOf(e) === 'config') throw e;
        const m = /cannot reach .* from there: (.*)$/.exec(e.message);
        throw new Error(
          m ? `the lab host cannot connect to ${host}:${port} (${m[1]!.replace(/:\s*$/, '').trim()})` : e.message,
        );
      });
    where = ` via ${lab}`;
  }
  const request: HttpRequester = (req, signal) =>
    new Promise<HttpAnswer>((resolve, reject) => {
      const headers: Record<string, string> = { ...req.headers };
      if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
      const r = http.request({
        host,
        port,
        method: req.method,
        path: req.path,
        headers,
        signal,
        ...(connect
          ? {
              // Node's http waits for a socket given later through the callback.
              createConnection: ((_o: unknown, done: (e: Error | null, s?: Duplex) => void) => {
                connect!().then(
                  (s) => done(null, s),
                  (e: Error) => done(e),
                );
                return undefined;
              }) as never,
            }
          : {}),
      });
      r.once('error', (e: Error) => reject(signal.aborted ? signal.reason : e));
      r.once('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (d: Buffer) => {
          size += d.length;
          if (size <= 1 << 20) chunks.push(d);
        });
        res.once('error', (e: Error) => reject(signal.aborted ? signal.reason : e));
        res.once('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
      });
      r.end(req.body);
    });
  return { request, where };
}
