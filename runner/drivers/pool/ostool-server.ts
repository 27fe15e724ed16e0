// A client of ostool-server, the board pool TGOSKits' board CI leases boards from
// (drivercraft/ostool, ostool-server/). It does what ostool's own client does
// (ostool/src/board/client.rs at c032f8c3, session.rs at e9503d50, serial_stream.rs at
// 9c6d3566, run/uboot.rs at a290a368, docs/api.md at 04ac54dc), against the server's
// rules as its source has them (ostool-server/src/api/router.rs at 09e1093b, state.rs,
// session.rs, serial/ws.rs):
//   GET    /api/v1/board-types                      [{board_type, tags, total, available}]
//   POST   /api/v1/sessions {board_type, required_tags, client_name}  201
//          -> {session_id, board_id, lease_expires_at, serial_available, boot_mode, ws_url}
//          409 {"code":"conflict","message":"no available board for type `T`"}: all busy
//          404 {"code":"not_found","message":"board type `T` not found"}
//          400 "board_type must not be empty"
//   GET    /api/v1/sessions/{id}                    {session: {..., state}, board, files...}
//   POST   /api/v1/sessions/{id}/heartbeat           -> {session_id, lease_expires_at}
//          409 "session `ID` is releasing"
//   DELETE /api/v1/sessions/{id}                     202 and the release runs in the
//          background (204 after it, from ostool-server 0.1.x); 404: already gone, fine
//   GET    /api/v1/sessions/{id}/boot-profile        {boot: {kind: "uboot", use_tftp,
//          dtb_name, kernel_load_addr, fit_load_addr, bootm_addr, network_mode, board_ip,
//          server_ip, netmask, gatewayip}, server_ip, netmask, interface, http_base_url}
//   GET    /api/v1/sessions/{id}/serial | /tftp | /dtb | /dtb/download
//   PUT    /api/v1/sessions/{id}/files  X-File-Path  201 -> {filename, relative_path, tftp_url, ...}
//   POST   /api/v1/sessions/{id}/board/power-on|power-off  200 {ok: true, message}; a failed
//          command is HTTP 500 internal_server_error, a releasing session 409
//   GET    /api/v1/sessions/{id}/serial/ws           the console (console/ostool-server.ts)
// The lease: SESSION_TTL is 10 s from the last heartbeat or serial frame. ostool's client
// (session.rs at e9503d50, the newer of the two rules the index holds) beats every second;
// its older rule (at 2e9d33e9) was half the lease left, clamped to 1..30 s. We beat every
// second. A session ends on DELETE, when its console closes, when it expires, or when the
// server drops it; the server then powers the board off, and frees it once released.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'smol-toml';
import { ConfigError, LabError } from '../../errors.js';

/** ostool's defaults: localhost:2999 (global_config.rs of the server_ip/port format). */
export const DEFAULT_SERVER = 'localhost';
export const DEFAULT_PORT = 2999;
/** ostool's heartbeat (session.rs at e9503d50): a beat every second. */
export const HEARTBEAT_MS = 1000;

export interface SessionCreated {
  session_id: string;
  board_id: string;
  lease_expires_at: string;
  serial_available: boolean;
  boot_mode: string;
  ws_url?: string | null;
}

export interface SessionDetail {
  session: {
    id: string;
    board_id: string;
    expires_at: string;
    serial_connected?: boolean;
    state?: 'active' | 'releasing';
  };
  board?: { id: string; board_type: string };
  serial_available: boolean;
  serial_connected: boolean;
}

export interface FileStaged {
  filename: string;
  relative_path: string;
  tftp_url?: string | null;
  size: number;
}

export interface UbootProfile {
  kind: string;
  use_tftp?: boolean;
  dtb_name?: string | null;
  kernel_load_addr?: string | null;
  fit_load_addr?: string | null;
  bootm_addr?: string | null;
  network_mode?: 'dhcp' | 'static_ip';
  board_ip?: string | null;
  server_ip?: string | null;
  netmask?: string | null;
  gatewayip?: string | null;
}

export interface BootProfile {
  boot: UbootProfile;
  server_ip?: string | null;
  netmask?: string | null;
  interface?: string | null;
  http_base_url?: string | null;
}

export interface TftpStatus {
  available: boolean;
  provider: string;
  server_ip?: string | null;
  netmask?: string | null;
  writable: boolean;
}

export interface SessionDtb {
  dtb_name: string | null;
  relative_path: string | null;
  session_file_path: string | null;
  tftp_url: string | null;
}

/** An answer the server gave that was not a success: its status, code and message. A
 * request that got no answer is status 503, code "request_failed", as ostool has it. */
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
    return (
      this.status === 409 && this.code === 'conflict' && this.message === `no available board for type \`${boardType}\``
    );
  }
  /** The session is being released (router.rs: heartbeat, power, files, the console). */
  get releasing(): boolean {
    return this.status === 409 && /is releasing$/.test(this.message);
  }
  get answered(): boolean {
    return this.code !== 'request_failed';
  }
  /** "HTTP 500 internal_server_error", for a message. */
  get http(): string {
    return `HTTP ${this.status}${this.code ? ` ${this.code}` : ''}`;
  }
}

/** The pool's global config as ostool reads it: the URL format ([board] server = "http://h:p",
 * optional port; a bare address gets http://) or the older server_ip/port. */
function readGlobalConfig(file: string): { server?: string; port?: number } {
  let doc: { board?: Record<string, unknown> };
  try {
    doc = parse(readFileSync(file, 'utf8')) as { board?: Record<string, unknown> };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ConfigError(`${file}: ${(e as Error).message.split('\n')[0]}: fix it or remove it`);
  }
  const b = doc.board ?? {};
  if (b.port !== undefined && (typeof b.port !== 'number' || !Number.isInteger(b.port) || b.port < 1 || b.port > 65535))
    throw new ConfigError(`${file}: board.port must be in 1..=65535`);
  if (b.auth_mode !== undefined && b.auth_mode !== 'disabled')
    throw new ConfigError(
      `${file}: board.auth_mode = "${String(b.auth_mode)}": hil speaks to a pool without a login only (auth_mode = "disabled")`,
    );
  const port = b.port as number | undefined;
  for (const key of ['server', 'server_ip'] as const) {
    if (b[key] === undefined) continue;
    if (typeof b[key] !== 'string' || !b[key].trim()) throw new ConfigError(`${file}: board.${key} must not be empty`);
    const raw = b[key].trim();
    if (key === 'server' && /^[a-z]+:\/\//i.test(raw)) {
      let url: URL;
      try {
        url = new URL(raw);
      } catch {
        throw new ConfigError(`${file}: board.server = "${raw}" is not a URL`);
      }
      if (url.protocol !== 'http:')
        throw new ConfigError(`${file}: board.server = "${raw}": hil speaks http:// to a pool`);
      return { server: url.hostname.replace(/^\[|\]$/g, ''), port: port ?? (url.port ? Number(url.port) : 80) };
    }
    return { server: raw, port };
  }
  return { port };
}

/**
 * Where the pool is, as ostool resolves it: the runner's own flags (in our case the board
 * file's [power] server/port, which is the lab's word), then the case's `server`/`port`,
 * then `~/.ostool/config.toml` ([board] server and port, or the older server_ip and port),
 * then localhost:2999. Unlike ostool the runner never writes that file: it only reads it.
 */
export function resolveServer(
  board: { server?: string; port?: number },
  theCase: { server?: string; port?: number },
  home = process.env.HOME ?? os.homedir(),
): { server: string; port: number; from: string } {
  const file = path.join(home, '.ostool', 'config.toml');
  const global = readGlobalConfig(file);
  const server = board.server ?? theCase.server ?? global.server ?? DEFAULT_SERVER;
  const port = board.port ?? theCase.port ?? global.port ?? DEFAULT_PORT;
  const from = board.server ? 'the board file' : theCase.server ? 'the case' : global.server ? file : 'the default';
  return { server, port, from };
}

/** What a server's answers say about the API it speaks (there is no version endpoint). */
export interface PoolApi {
  /** "background": DELETE answers 202 and the session is "releasing" until the board is
   * off and free (ostool-server with the release job: session.state in its answers).
   * "in-request": DELETE answers once released (204; ostool-server 0.1.x). */
  release: 'background' | 'in-request' | 'unknown';
  /** The U-Boot profile's fields beyond use_tftp and dtb_name. */
  profile: string[];
}

export const describeApi = (a: PoolApi) =>
  `${
    a.release === 'background'
      ? 'releases in the background (DELETE 202, then "releasing" until the board is off and free)'
      : a.release === 'in-request'
        ? 'releases before answering DELETE (204; ostool-server 0.1.x)'
        : 'release not yet seen'
  }${a.profile.length ? `; boot profile with ${a.profile.join(', ')}` : ''}`;

/** The API a session's detail and boot profile show. */
export function apiOf(detail: SessionDetail | undefined, profile?: BootProfile): PoolApi {
  const release = detail ? (detail.session.state !== undefined ? 'background' : 'in-request') : 'unknown';
  const p = profile ? (profile as unknown as Record<string, unknown>) : {};
  const b = profile ? (profile.boot as unknown as Record<string, unknown>) : {};
  const extra = ['kernel_load_addr', 'fit_load_addr', 'bootm_addr', 'network_mode'].filter((k) => k in b);
  if ('http_base_url' in p) extra.push('http_base_url');
  return { release, profile: extra };
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

  private async request(
    method: string,
    p: string,
    opts: {
      body?: unknown;
      raw?: Buffer;
      headers?: Record<string, string>;
      signal?: AbortSignal;
      timeoutS?: number;
    } = {},
  ): Promise<Response> {
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
      res = await fetch(this.base + p, {
        method,
        headers,
        body,
        signal: opts.signal ? AbortSignal.any([opts.signal, limit]) : limit,
      });
    } catch (e) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new PoolError(
        503,
        'request_failed',
        `did not answer ${method} ${p}: ${cause?.code ?? cause?.message ?? (e as Error).message}`,
      );
    }
    if (!res.ok) {
      // parse_error_body: {code, message}, else the body, else the status.
      const text = await res.text();
      try {
        const e = JSON.parse(text) as { code?: string; message?: string };
        if (typeof e.message === 'string' && typeof e.code === 'string')
          throw new PoolError(res.status, e.code, e.message);
      } catch (err) {
        if (err instanceof PoolError) throw err;
      }
      throw new PoolError(res.status, undefined, text.trim() || `request failed with status ${res.status}`);
    }
    return res;
  }

  private async call<T>(method: string, p: string, opts: Parameters<PoolClient['request']>[2] = {}): Promise<T> {
    const text = await (await this.request(method, p, opts)).text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private s(id: string, rest = ''): string {
    return `/api/v1/sessions/${encodeURIComponent(id)}${rest}`;
  }

  boardTypes(signal?: AbortSignal) {
    return this.call<{ board_type: string; tags: string[]; total: number; available: number }[]>(
      'GET',
      '/api/v1/board-types',
      { signal, timeoutS: 10 },
    );
  }

  createSession(boardType: string, requiredTags: string[], clientName: string, signal?: AbortSignal) {
    return this.call<SessionCreated>('POST', '/api/v1/sessions', {
      body: { board_type: boardType, required_tags: requiredTags, client_name: clientName },
      signal,
    });
  }

  /** The session, or undefined once the server has forgotten it (404). */
  async session(id: string, signal?: AbortSignal): Promise<SessionDetail | undefined> {
    try {
      return await this.call<SessionDetail>('GET', this.s(id), { signal, timeoutS: 10 });
    } catch (e) {
      if (e instanceof PoolError && e.status === 404) return undefined;
      throw e;
    }
  }

  heartbeat(id: string) {
    return this.call<{ session_id: string; lease_expires_at: string }>('POST', this.s(id, '/heartbeat'), {
      timeoutS: 5,
    });
  }

  /** Ends the session: 202 (released in the background), 204 (released), or 404 (already
   * gone, which is fine: ostool's delete_session). */
  async deleteSession(id: string): Promise<number> {
    try {
      return (await this.request('DELETE', this.s(id), { timeoutS: 30 })).status;
    } catch (e) {
      if (e instanceof PoolError && e.status === 404) return 404;
      throw e;
    }
  }

  bootProfile(id: string, signal?: AbortSignal) {
    return this.call<BootProfile>('GET', this.s(id, '/boot-profile'), { signal });
  }

  serialStatus(id: string, signal?: AbortSignal) {
    return this.call<{ available: boolean; connected: boolean; ws_url?: string | null }>('GET', this.s(id, '/serial'), {
      signal,
    });
  }

  tftpStatus(id: string, signal?: AbortSignal) {
    return this.call<TftpStatus>('GET', this.s(id, '/tftp'), { signal });
  }

  sessionDtb(id: string, signal?: AbortSignal) {
    return this.call<SessionDtb>('GET', this.s(id, '/dtb'), { signal });
  }

  async downloadDtb(id: string, signal?: AbortSignal): Promise<Buffer> {
    return Buffer.from(await (await this.request('GET', this.s(id, '/dtb/download'), { signal })).arrayBuffer());
  }

  putFile(id: string, relativePath: string, bytes: Buffer, signal?: AbortSignal) {
    return this.call<FileStaged>('PUT', this.s(id, '/files'), {
      raw: bytes,
      headers: { 'X-File-Path': relativePath, 'content-type': 'application/octet-stream' },
      signal,
      timeoutS: 300,
    });
  }

  power(id: string, on: boolean, signal?: AbortSignal) {
    return this.call<{ ok: boolean; message: string }>('POST', this.s(id, `/board/${on ? 'power-on' : 'power-off'}`), {
      signal,
      timeoutS: 60,
    });
  }

  /** resolve_ws_url: an absolute ws:// URL as it is, a path against the server. */
  wsUrl(wsUrl: string): string {
    if (/^wss?:\/\//.test(wsUrl)) return wsUrl;
    return new URL(wsUrl, this.base.replace(/^http/, 'ws')).toString();
  }

  /**
   * Which release the server does, asked without a session (so without touching a board):
   * the board runtime-status route came with the release job, so a JSON not_found for an
   * unknown board there means "releases in the background", axum's empty 404 means the
   * route does not exist (ostool-server 0.1.x). Admin routes behind a login say nothing.
   */
  async probeRelease(signal?: AbortSignal): Promise<PoolApi['release']> {
    try {
      await this.request('GET', '/api/v1/admin/boards/hil-probe-no-such-board/runtime-status', {
        signal,
        timeoutS: 10,
      });
      return 'background';
    } catch (e) {
      if (!(e instanceof PoolError) || !e.answered) throw e;
      if (e.status === 404) return e.code === 'not_found' ? 'background' : 'in-request';
      return 'unknown';
    }
  }
}

// --- releases this process asked for ----------------------------------------------------
// A board the run gave back stays the pool's ("releasing": powered off, a relay's settle
// delay, the share emptied) for a while after DELETE answered 202; the run's next case asks
// for a board of the same type meanwhile and must wait for its own, not end as "busy".

interface OwnRelease {
  client: string;
  boardType: string;
  sessionId: string;
  boardId: string;
  since: number;
}
const ownReleases: OwnRelease[] = [];

export function noteOwnRelease(client: PoolClient, boardType: string, sessionId: string, boardId: string): void {
  ownReleases.push({ client: client.base, boardType, sessionId, boardId, since: Date.now() });
}

/** Waits (bounded) until the server has forgotten every session this process released on
 * `client` for `boardType`: the board is free again (state.rs complete_session_release).
 * Says what it waited for, or throws a lab error naming the board still being released. */
export async function waitOwnReleases(
  client: PoolClient,
  boardType: string,
  limitS: number,
  signal: AbortSignal,
  log: (msg: string) => void,
): Promise<void> {
  const mine = ownReleases.filter((r) => r.client === client.base && r.boardType === boardType);
  for (const r of mine) {
    const deadline = r.since + limitS * 1000;
    let told = false;
    for (;;) {
      const detail = await client.session(r.sessionId, signal).catch((e: unknown) => {
        if (signal.aborted) throw signal.reason;
        throw poolLabError(client, `asking after the release of ${r.boardId}`, e);
      });
      if (!detail) break;
      if (!told)
        log(
          `${client}: waiting for ${r.boardId} to be released by the pool (session ${r.sessionId} ${detail.session.state ?? 'ending'})`,
        );
      told = true;
      if (Date.now() >= deadline)
        throw new LabError(
          'power',
          `${client}: board ${r.boardId}, given back by this run ${Math.round((Date.now() - r.since) / 1000)} s ago, ` +
            `is still being released by the pool (session ${r.sessionId} ${detail.session.state ?? 'not gone'}): ` +
            `the pool's release is stuck; see its admin page`,
        );
      await new Promise((res) => setTimeout(res, 250));
      signal.throwIfAborted();
    }
    ownReleases.splice(ownReleases.indexOf(r), 1);
  }
}

/** A lab error naming the pool, what failed and how it answered. */
export const poolLabError = (client: PoolClient, what: string, e: unknown) =>
  new LabError(
    'power',
    `${client}: ${what}: ${(e as Error).message}${e instanceof PoolError ? (e.answered ? ` (${e.http})` : ' (is the server running, and the address right?)') : ''}`,
  );

/** `hil lab status` for pool boards: the pool's board types and the API it speaks. */
export async function poolStatusLines(
  boards: { name: string; server: string; port: number; boardType: string }[],
): Promise<string[]> {
  const lines: string[] = [];
  const byPool = new Map<string, typeof boards>();
  for (const b of boards) byPool.set(`${b.server}:${b.port}`, [...(byPool.get(`${b.server}:${b.port}`) ?? []), b]);
  for (const group of byPool.values()) {
    const client = new PoolClient(group[0]!.server, group[0]!.port);
    try {
      const [types, release] = await Promise.all([client.boardTypes(), client.probeRelease()]);
      lines.push(`${client}: ${describeApi({ release, profile: [] })}`);
      for (const b of group) {
        const t = types.find((x) => x.board_type === b.boardType);
        lines.push(
          `${b.name.padEnd(22)} pool board type ${b.boardType}: ${t ? `${t.available} of ${t.total} free${t.tags.length ? ` (tags ${t.tags.join(',')})` : ''}` : 'not in the pool'}`,
        );
      }
    } catch (e) {
      lines.push(
        `${client}: cannot ask it: ${(e as Error).message}${e instanceof PoolError && !e.answered ? ' (is the server running, and the address right?)' : ''}`,
      );
    }
  }
  return lines;
}

/** `hil lab status`'s lines for the lab's boards that come from a pool (power kind
 * "ostool-server"): per pool, the release it does; per board, its type's free boards. */
export async function poolStatus(): Promise<string[]> {
  const { listBoardNames, readBoard: loadBoard, standInEnv } = await import('../../config/board.js');
  const pools: { name: string; server: string; port: number; boardType: string }[] = [];
  for (const name of listBoardNames()) {
    try {
      const b = loadBoard(name, { env: standInEnv(name).env });
      if (b.power.kind !== 'ostool-server') continue;
      const st = b.power.settings as { server?: string; port?: number; board_type?: string };
      const where = resolveServer(st, {});
      pools.push({ name: b.name, server: where.server, port: where.port, boardType: st.board_type ?? b.name });
    } catch {
      // a board file that does not load is told by `hil boards`
    }
  }
  return pools.length ? poolStatusLines(pools) : [];
}
