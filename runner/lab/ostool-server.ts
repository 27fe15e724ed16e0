// A client of ostool-server, the board pool TGOSKits' board CI leases boards from
// (drivercraft/ostool, ostool-server/). What it sends and how it reads the answers follow
// ostool's own client of the version TGOSKits pins (ostool 0.24: board/client.rs,
// board/session.rs, board/serial_stream.rs, board/global_config.rs):
//   GET    /api/v1/board-types                      [{board_type, tags, total, available}]
//   POST   /api/v1/sessions {board_type, required_tags, client_name}
//          -> {session_id, board_id, lease_expires_at, serial_available, boot_mode, ws_url}
//          409 {"code":"conflict","message":"no available board for type `T`"}: all busy
//          404 {"code":"not_found","message":"board type `T` not found"}
//   POST   /api/v1/sessions/{id}/heartbeat           -> {session_id, lease_expires_at}
//   DELETE /api/v1/sessions/{id}                     (404: already gone, which is fine)
//   GET    /api/v1/sessions/{id}/boot-profile        {boot: {kind: "uboot", ...}, server_ip}
//   PUT    /api/v1/sessions/{id}/files  X-File-Path  -> {filename, relative_path, tftp_url, size}
//   POST   /api/v1/sessions/{id}/board/power-on|power-off -> {ok, message}
//   GET    /api/v1/sessions/{id}/serial/ws           the console (console/ostool-server.ts)
// The lease: SESSION_TTL is 10 s from the last heartbeat; ostool beats at half the time left,
// clamped to 1..30 s, and so do we. A session ends on DELETE, when its serial WebSocket
// closes, when it expires, or when the server drops it; the server then powers the board off.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'smol-toml';
import { ConfigError, LabError } from '../errors.js';

/** ostool's defaults (global_config.rs): localhost:2999. */
export const DEFAULT_SERVER = 'localhost';
export const DEFAULT_PORT = 2999;

export interface SessionCreated {
  session_id: string;
  board_id: string;
  lease_expires_at: string;
  serial_available: boolean;
  boot_mode: string;
  ws_url?: string | null;
}

export interface FileStaged {
  filename: string;
  relative_path: string;
  tftp_url?: string | null;
  size: number;
}

export interface BootProfile {
  boot: { kind: string; use_tftp?: boolean };
  server_ip?: string | null;
  netmask?: string | null;
}

/** An answer the server gave that was not a success: its status, code and message. */
export class PoolError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
  /** ostool's is_no_available_board_for: the type exists and every board of it is busy. */
  busy(boardType: string): boolean {
    return this.status === 409 && this.code === 'conflict' && this.message === `no available board for type \`${boardType}\``;
  }
}

/**
 * Where the pool is, as ostool resolves it: the runner's own flags (in our case the board
 * file's [power] server/port, which is the lab's word), then the case's `server`/`port`,
 * then `~/.ostool/config.toml` ([board] server_ip, port), then localhost:2999. Unlike ostool
 * the runner never writes that file: it only reads it.
 */
export function resolveServer(
  board: { server?: string; port?: number },
  theCase: { server?: string; port?: number },
  home = process.env.HOME ?? os.homedir(),
): { server: string; port: number; from: string } {
  const file = path.join(home, '.ostool', 'config.toml');
  let global: { server_ip?: string; port?: number } = {};
  try {
    const doc = parse(readFileSync(file, 'utf8')) as { board?: { server_ip?: unknown; port?: unknown } };
    const b = doc.board ?? {};
    if (b.server_ip !== undefined && (typeof b.server_ip !== 'string' || !b.server_ip.trim())) throw new ConfigError(`${file}: board.server_ip must not be empty`);
    if (b.port !== undefined && (typeof b.port !== 'number' || !Number.isInteger(b.port) || b.port < 1 || b.port > 65535))
      throw new ConfigError(`${file}: board.port must be in 1..=65535`);
    global = { server_ip: (b.server_ip as string | undefined)?.trim(), port: b.port as number | undefined };
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError(`${file}: ${(e as Error).message.split('\n')[0]}: fix it or remove it`);
  }
  const server = board.server ?? theCase.server ?? global.server_ip ?? DEFAULT_SERVER;
  const port = board.port ?? theCase.port ?? global.port ?? DEFAULT_PORT;
  const from = board.server ? 'the board file' : theCase.server ? 'the case' : global.server_ip ? file : 'the default';
  return { server, port, from };
}

/** The HTTP side of ostool-server. */
export class PoolClient {
  readonly base: string;

  constructor(
    readonly server: string,
    readonly port: number,
  ) {
    const host = server.includes(':') && !server.startsWith('[') ? `[${server}]` : server;
    this.base = `http://${host}:${port}`;
  }

  toString(): string {
    return `ostool-server ${this.server}:${this.port}`;
  }

  private async call<T>(
    method: string,
    p: string,
    opts: { body?: unknown; raw?: Buffer; headers?: Record<string, string>; signal?: AbortSignal; timeoutS?: number } = {},
  ): Promise<T> {
    const headers: Record<string, string> = { ...opts.headers };
    let body: BodyInit | undefined;
    if (opts.raw) body = opts.raw as unknown as BodyInit;
    else if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    const limit = AbortSignal.timeout((opts.timeoutS ?? 30) * 1000);
    let res: Response;
    try {
      res = await fetch(this.base + p, { method, headers, body, signal: opts.signal ? AbortSignal.any([opts.signal, limit]) : limit });
    } catch (e) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new PoolError(503, 'request_failed', `did not answer ${method} ${p}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
    }
    const text = await res.text();
    if (!res.ok) {
      // parse_error_body: {code, message}, else the body, else the status.
      try {
        const e = JSON.parse(text) as { code?: string; message?: string };
        if (typeof e.message === 'string') throw new PoolError(res.status, e.code, e.message);
      } catch (err) {
        if (err instanceof PoolError) throw err;
      }
      throw new PoolError(res.status, undefined, text.trim() || `request failed with status ${res.status}`);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  boardTypes(signal?: AbortSignal) {
    return this.call<{ board_type: string; tags: string[]; total: number; available: number }[]>('GET', '/api/v1/board-types', { signal });
  }

  createSession(boardType: string, requiredTags: string[], clientName: string, signal?: AbortSignal) {
    return this.call<SessionCreated>('POST', '/api/v1/sessions', { body: { board_type: boardType, required_tags: requiredTags, client_name: clientName }, signal });
  }

  heartbeat(id: string) {
    return this.call<{ session_id: string; lease_expires_at: string }>('POST', `/api/v1/sessions/${encodeURIComponent(id)}/heartbeat`, { timeoutS: 5 });
  }

  /** Ends the session; one that is already gone is fine (ostool's delete_session). */
  async deleteSession(id: string): Promise<void> {
    try {
      await this.call('DELETE', `/api/v1/sessions/${encodeURIComponent(id)}`, { timeoutS: 10 });
    } catch (e) {
      if (!(e instanceof PoolError && e.status === 404)) throw e;
    }
  }

  bootProfile(id: string, signal?: AbortSignal) {
    return this.call<BootProfile>('GET', `/api/v1/sessions/${encodeURIComponent(id)}/boot-profile`, { signal });
  }

  putFile(id: string, relativePath: string, bytes: Buffer, signal?: AbortSignal) {
    return this.call<FileStaged>('PUT', `/api/v1/sessions/${encodeURIComponent(id)}/files`, {
      raw: bytes,
      headers: { 'X-File-Path': relativePath, 'content-type': 'application/octet-stream' },
      signal,
      timeoutS: 300,
    });
  }

  power(id: string, on: boolean, signal?: AbortSignal) {
    return this.call<{ ok: boolean; message: string }>('POST', `/api/v1/sessions/${encodeURIComponent(id)}/board/${on ? 'power-on' : 'power-off'}`, { signal, timeoutS: 60 });
  }

  /** resolve_ws_url: an absolute ws:// URL as it is, a path against the server. */
  wsUrl(wsUrl: string): string {
    if (/^wss?:\/\//.test(wsUrl)) return wsUrl;
    return new URL(wsUrl, this.base.replace(/^http/, 'ws')).toString();
  }
}

/** ostool's next_heartbeat_delay: half the lease left, clamped to 1..30 s. */
export function heartbeatDelayMs(leaseExpiresAt: string, now = Date.now()): number {
  const left = Date.parse(leaseExpiresAt) - now;
  const half = Number.isFinite(left) && left > 0 ? left / 2 : 1000;
  return Math.min(30_000, Math.max(1000, half));
}

/** A lab error naming the pool and what failed. */
export const poolLabError = (client: PoolClient, what: string, e: unknown) =>
  new LabError('power', `${client}: ${what}: ${(e as Error).message}${e instanceof PoolError && e.status === 503 ? ' (is the server running, and the address right?)' : ''}`);
