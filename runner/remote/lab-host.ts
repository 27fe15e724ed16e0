// A lab host reached over SSH (ssh2): the machine a board is wired to when it is not this
// one. Its power commands run there (power kind "ssh"), images go to its TFTP folder over
// SFTP (load tftp with via = "lab_host"), and its ser2net is reached through the SSH
// connection (console tcp/rfc2217 with via = "lab_host"), so the console port need not be
// open to the network. One connection per board and process, opened on first use, opened
// again if it dropped, closed when the case's session ends.
//
// Trust: the host key must be in known_hosts (OpenSSH's format: plain or hashed names,
// [host]:port, @revoked); an unknown host is an error that says how to add it after checking
// its fingerprint, never accepted silently, and a changed key is refused. Keys come from an
// identity file or the agent (SSH_AUTH_SOCK). Jump hosts are connected through in turn,
// each checked the same way. Nothing secret (a key, a passphrase) reaches a log.
import { createHmac, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import type { Client, ConnectConfig } from 'ssh2';
import { ConfigError, LabError } from '../errors.js';

export { labHostSchema, type LabHostSettings } from '../config/lab-host.js';
import type { LabHostSettings } from '../config/lab-host.js';

const home = (p: string) => (p.startsWith('~/') ? path.join(process.env.HOME ?? os.homedir(), p.slice(2)) : p);

/** The names a host is listed under in known_hosts: `host`, or `[host]:port` off port 22. */
const listedAs = (host: string, port: number) => (port === 22 ? host : `[${host}]:${port}`);

/** Whether one known_hosts name pattern (plain, hashed |1|salt|hash, or a wildcard) names `name`. */
function names(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    return (
      createHmac('sha1', Buffer.from(salt ?? '', 'base64'))
        .update(name)
        .digest('base64') === hash
    );
  }
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
    'i',
  );
  return re.test(name);
}

export const fingerprint = (key: Buffer) =>
  `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;

/** Checks a host key against known_hosts: undefined when trusted, else why not. */
export function checkHostKey(file: string, host: string, port: number, key: Buffer): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return `cannot read known_hosts ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
  const name = listedAs(host, port);
  let listed = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0]!.startsWith('@') ? fields.shift() : undefined;
    const [patterns, , blob] = fields;
    if (!patterns || !blob || marker === '@cert-authority') continue;
    const pats = patterns.split(',');
    const negated = pats.some((p) => p.startsWith('!') && names(p.slice(1), name));
    if (negated || !pats.some((p) => !p.startsWith('!') && names(p, name))) continue;
    const same = Buffer.from(blob, 'base64').equals(key);
    if (marker === '@revoked' && same)
      return `the host key of ${name} (${fingerprint(key)}) is marked @revoked in ${file}`;
    if (marker) continue;
    if (same) return undefined;
    listed = true;
  }
  return listed
    ? `the host key of ${name} CHANGED: it offered ${fingerprint(key)}, which ${file} does not list for it. Someone ` +
        `may be in between; if the host was reinstalled, remove its old line (ssh-keygen -R '${name}' -f ${file}) ` +
        `and add the new one`
    : `unknown host ${name} (key ${fingerprint(key)}): check that fingerprint with the lab's admin, then add it: ssh-keyscan -p ${port} ${host} >> ${file}`;
}

function parseHop(spec: string, fallbackUser: string): { user: string; host: string; port: number } {
  const m = /^(?:([^@]+)@)?(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(spec)!;
  return { user: m[1] ?? fallbackUser, host: m[2]!.replace(/^\[|\]$/g, ''), port: m[3] ? Number(m[3]) : 22 };
}

/** One connected SSH client per lab host and process, shared by a board's drivers. */
export class LabHost {
  private static hosts = new Map<string, LabHost>();
  /** Connections that closed: an SFTP or command failure on one is the drop, said so. */
  private static gone = new WeakSet<Client>();
  private conn?: Promise<Client[]>;

  static for(s: LabHostSettings): LabHost {
    const key = JSON.stringify(s);
    let h = LabHost.hosts.get(key);
    if (!h) LabHost.hosts.set(key, (h = new LabHost(s)));
    return h;
  }

  /** Closes every lab host connection (the session's end). */
  static closeAll(): void {
    for (const h of LabHost.hosts.values()) h.close();
  }

  private constructor(readonly s: LabHostSettings) {}

  toString(): string {
    return `lab host ${this.s.user}@${listedAs(this.s.host, this.s.port)}`;
  }

  auth(): Partial<ConnectConfig> {
    if (this.s.identity_file) {
      const file = home(this.s.identity_file);
      let key: Buffer;
      try {
        key = readFileSync(file);
      } catch (e) {
        throw new ConfigError(
          `[lab_host] identity_file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        );
      }
      return { privateKey: key, passphrase: this.s.passphrase };
    }
    if (process.env.SSH_AUTH_SOCK) return { agent: process.env.SSH_AUTH_SOCK };
    throw new ConfigError(
      '[lab_host]: no identity_file and no SSH agent (SSH_AUTH_SOCK is not set): give a key file, or start ssh-agent and ssh-add a key',
    );
  }

  /** auth(), with the key file opened by its passphrase here: a key that is no key, an
   * encrypted key with no passphrase or a wrong one is the board file's to fix (a
   * ConfigError saying which), never a failure deep inside a connection. */
  async checkedAuth(): Promise<Partial<ConnectConfig>> {
    const a = this.auth();
    if (!a.privateKey) return a;
    // ssh2 is CommonJS: its utils are on the default export only.
    const ssh2 = await import('ssh2');
    const { utils } = (ssh2 as unknown as { default: typeof ssh2 }).default ?? ssh2;
    const parsed = utils.parseKey(a.privateKey as Buffer, a.passphrase);
    if (!(parsed instanceof Error)) return a;
    const file = home(this.s.identity_file!);
    const why = parsed.message;
    if (/no passphrase given/i.test(why))
      throw new ConfigError(
        `[lab_host] identity_file ${file} is encrypted and no passphrase is given: add passphrase = "\${secret:NAME}" to [lab_host], or use the SSH agent`,
      );
    if (/passphrase/i.test(why) || (this.s.passphrase !== undefined && /integrity|malformed|bad decrypt/i.test(why)))
      throw new ConfigError(
        `[lab_host] identity_file ${file}: the passphrase does not open it (${why}): fix [lab_host] passphrase (or the secret it names)`,
      );
    throw new ConfigError(`[lab_host] identity_file ${file} is not a private key ssh can read: ${why}`);
  }

  /** Connects one hop, over `sock` when it is reached through the previous one. */
  private async hop(hop: { user: string; host: string; port: number }, sock?: Duplex): Promise<Client> {
    const { Client } = await import('ssh2');
    const auth = await this.checkedAuth();
    const c = new Client();
    const known = home(this.s.known_hosts);
    let refused: string | undefined;
    return new Promise<Client>((resolve, reject) => {
      const where = `${hop.user}@${listedAs(hop.host, hop.port)}`;
      c.once('ready', () => {
        // Later errors (a reset when the connection drops) are not a crash: the drop shows
        // as 'close', which the operations on it and client() act on.
        c.on('error', () => {});
        resolve(c);
      });
      c.once('error', (e: Error & { level?: string }) => {
        const why =
          refused ??
          (e.level === 'client-authentication'
            ? `the key was refused for ${hop.user} (is it in the host's authorized_keys?)`
            : e.message);
        reject(new LabError('power', `${this}: cannot connect to ${where}: ${why}`));
      });
      c.connect({
        host: hop.host,
        port: hop.port,
        username: hop.user,
        sock,
        readyTimeout: this.s.connect_timeout * 1000,
        keepaliveInterval: 5000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          refused = checkHostKey(known, hop.host, hop.port, key);
          return refused === undefined;
        },
        ...auth,
      });
    });
  }

  /** The connection to the lab host (through its jump hosts), opened on first use and again
   * after it dropped. */
  client(): Promise<Client> {
    const chain = async () => {
      const hops = [
        ...this.s.jump.map((j) => parseHop(j, this.s.user)),
        { user: this.s.user, host: this.s.host, port: this.s.port },
      ];
      const clients: Client[] = [];
      try {
        for (const h of hops) {
          const prev = clients.at(-1);
          const sock = prev ? await this.forwardOn(prev, h.host, h.port) : undefined;
          clients.push(await this.hop(h, sock));
        }
      } catch (e) {
        for (const c of clients) c.end();
        throw e;
      }
      const last = clients.at(-1)!;
      const dropped = () => {
        LabHost.gone.add(last);
        if (this.conn === current) this.conn = undefined;
      };
      last.once('close', dropped);
      last.once('error', dropped);
      return clients;
    };
    const current = this.conn ?? chain();
    this.conn = current;
    current.catch(() => {
      if (this.conn === current) this.conn = undefined;
    });
    return current.then((cs) => cs.at(-1)!);
  }

  private forwardOn(c: Client, host: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) =>
      c.forwardOut('127.0.0.1', 0, host, port, (err, stream) =>
        err
          ? reject(new LabError('console', `${this}: cannot reach ${host}:${port} from there: ${err.message}`))
          : resolve(stream),
      ),
    );
  }

  /** A TCP connection from the lab host to host:port (its ser2net), through SSH. */
  async forward(host: string, port: number): Promise<Duplex> {
    return this.forwardOn(await this.client(), host, port);
  }

  /**
   * Runs `work` on connection `c`: settles when it does, or fails when the connection
   * closes first (ssh2 leaves a channel's callbacks waiting then) or `signal` aborts.
   */
  private guarded<T>(
    c: Client,
    phase: string,
    what: string,
    work: (ok: (v: T) => void, fail: (e: Error) => void) => void,
    signal?: AbortSignal,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const dropped = () => done(new LabError(phase, `${this}: ${what}: the SSH connection dropped`));
      const aborted = () => done(signal!.reason as Error);
      let settled = false;
      const done = (e: Error | undefined, v?: T) => {
        if (settled) return;
        settled = true;
        c.off('close', dropped);
        signal?.removeEventListener('abort', aborted);
        if (e) reject(e);
        else resolve(v as T);
      };
      if (LabHost.gone.has(c)) return dropped();
      if (signal?.aborted) return aborted();
      c.once('close', dropped);
      signal?.addEventListener('abort', aborted, { once: true });
      work(
        (v) => done(undefined, v),
        (e) => done(e),
      );
    });
  }

  /** Runs a shell command on the lab host: its exit status and output (64 KiB at most). */
  async exec(
    cmd: string,
    timeoutS: number,
  ): Promise<{ code: number | null; signal: string | null; output: string; timedOut: boolean }> {
    const c = await this.client();
    return this.guarded(c, 'power', 'running a command', (resolve, reject) => {
      let output = '';
      let timedOut = false;
      let code: number | null = null;
      let signal: string | null = null;
      const timer =
        timeoutS > 0
          ? setTimeout(() => {
              timedOut = true;
              resolve({ code, signal, output, timedOut });
            }, timeoutS * 1000)
          : undefined;
      c.exec(cmd, (err, ch) => {
        if (err) {
          clearTimeout(timer);
          return reject(new LabError('power', `${this}: cannot run a command there: ${err.message}`));
        }
        const add = (d: Buffer) => {
          if (output.length < 64 * 1024) output += d.toString();
        };
        ch.on('data', add);
        ch.stderr.on('data', add);
        ch.on('exit', (c: number | null, s?: string) => {
          code = c;
          signal = s ?? null;
        });
        ch.on('close', () => {
          clearTimeout(timer);
          resolve({ code, signal, output, timedOut });
        });
        if (timedOut) ch.close();
      });
    });
  }

  /** Copies a file to the lab host over SFTP (the folder is made first). */
  async put(local: string, remote: string, signal?: AbortSignal): Promise<void> {
    const c = await this.client();
    const sftp = await this.guarded<import('ssh2').SFTPWrapper>(
      c,
      'load',
      'SFTP',
      (ok, fail) => c.sftp((err, s) => (err ? fail(new LabError('load', `${this}: no SFTP: ${err.message}`)) : ok(s))),
      signal,
    );
    try {
      await this.guarded<void>(
        c,
        'load',
        `copying to ${remote}`,
        (ok, fail) => {
          sftp.mkdir(path.posix.dirname(remote), () => {
            // made, or there already: either is fine
            sftp.fastPut(local, remote, (err) =>
              err ? fail(new LabError('load', `${this}: copying to ${remote}: ${err.message}`)) : ok(),
            );
          });
        },
        signal,
      );
    } finally {
      sftp.end();
    }
  }

  close(): void {
    const conn = this.conn;
    this.conn = undefined;
    void conn?.then(
      (cs) => {
        for (const c of cs.reverse()) c.end();
      },
      () => {},
    );
  }
}

/** What can be known wrong before the board is touched: no key to offer, a key or
 * known_hosts file that cannot be read. Throws a ConfigError saying which. */
export async function checkLabHost(s: LabHostSettings): Promise<void> {
  const host = LabHost.for(s);
  await host.checkedAuth();
  const known = home(s.known_hosts);
  try {
    readFileSync(known);
  } catch (e) {
    throw new ConfigError(
      `[lab_host] known_hosts ${known}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}: the lab host's ` +
        `key must be listed there (ssh-keyscan -p ${s.port} ${s.host} >> ${known}, after checking its fingerprint)`,
    );
  }
}

/** A board's lab host, or a clear error when a driver asks for one the board file lacks. */
export function labHostOf(board: { name: string; lab_host?: LabHostSettings }, who: string): LabHost {
  if (!board.lab_host)
    throw new ConfigError(
      `board ${board.name}: ${who} needs a [lab_host] table (host, user, identity_file, known_hosts): where the board is wired`,
    );
  return LabHost.for(board.lab_host);
}

/** A word quoted for the lab host's POSIX shell: every command sent there quotes with this. */
export const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
