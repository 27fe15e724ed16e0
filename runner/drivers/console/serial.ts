// A local serial console through `serialport`: a USB-UART on a real board. Opening waits
// for the device node to (re)appear, because USB-serial adapters vanish for a moment when
// a board or a powered hub is cycled, and takes the port's lock: a port another program
// (or another run) holds is a lab error that says so, and the board is left alone.
import { existsSync, readSync, statSync, writeSync } from 'node:fs';
import { z } from 'zod';
import { LabError } from '../../errors.js';
import { type ConsolePort, PortEvents } from '../../console/port.js';
import { reattaching } from '../../console/reattach.js';
import { defineConsole } from '../registry.js';

// ostool's run config writes the baud rate as a string ("${env:BOARD_COMM_UART_BAUD}").
export const baud = z.union([z.number().int().positive(), z.string().trim().regex(/^\d+$/).transform(Number)], {
  errorMap: () => ({ message: 'expected a baud rate such as 1500000 (a number, or a string of digits)' }),
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A port held by someone else: the session must not power the board off under them. */
export class PortBusy extends LabError {
  readonly busy = true;
}

export interface SerialOptions {
  /** Seconds to wait for the device node to (re)appear when opening. */
  appearS: number;
  /** Seconds a port that went away may take to come back under the same path before it is
   * lost (a USB-serial adapter re-enumerates when the board or its hub is cycled), in any
   * phase; 0: lost at once. */
  reappearS?: number;
  signal?: AbortSignal;
}

/** What the direct write needs of serialport's stream: its queue, and its own write. */
export interface QueuedWrites {
  readonly isOpen: boolean;
  /** Bytes given to the stream and not yet in the kernel (queued, or in its write). */
  readonly writableLength: number;
  write(data: Buffer, cb: (err: Error | null | undefined) => void): unknown;
}

/**
 * Writes to an open serial port. serialport's own write goes through a libuv worker thread
 * and back (fs.write), a tenth of a millisecond or more that a stop-and-wait protocol pays on
 * every block; when nothing is queued ahead, one non-blocking write(2) on the port's
 * descriptor puts the bytes in the kernel at once. Whatever that cannot take (the kernel's
 * buffer is full: EAGAIN, or only part was taken), and every write while one of serialport's
 * is still going, goes serialport's way, which waits for room and notices a port that went
 * away; so the bytes reach the line in the order they were given.
 */
export class SerialWriter {
  /** Writes handed to serialport that have not called back yet. */
  private queued = 0;
  /** How the writes went: straight into the kernel in full, or (in whole or part) queued. */
  readonly counts = { direct: 0, queued: 0 };

  constructor(
    private stream: QueuedWrites,
    /** The open descriptor, or null when there is none (closed, or not a Unix binding). */
    private fd: () => number | null,
    private name: string,
    private writeNow: (fd: number, data: Buffer) => number = writeSync,
  ) {}

  write(data: string | Buffer): Promise<void> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    const fd = this.fd();
    if (buf.length === 0 || fd === null || this.queued > 0 || this.stream.writableLength > 0 || !this.stream.isOpen)
      return this.queue(buf);
    let n: number;
    try {
      n = this.writeNow(fd, buf);
    } catch {
      // EAGAIN (no room), EINTR, or a port that is going: serialport's write waits for room,
      // or meets the same error and reports the port gone, as it always has.
      return this.queue(buf);
    }
    if (n >= buf.length) {
      this.counts.direct++;
      return Promise.resolve();
    }
    return this.queue(buf.subarray(n));
  }

  private queue(buf: Buffer): Promise<void> {
    this.counts.queued++;
    this.queued++;
    return new Promise<void>((resolve, reject) => {
      this.stream.write(buf, (err) => {
        this.queued--;
        if (err) reject(new LabError('console', `writing to ${this.name} failed: ${err.message}`));
        else resolve();
      });
    });
  }
}

/** What the direct read needs of serialport's Unix binding (Linux, macOS): the descriptor it
 * opened (non-blocking; null once closed) and its poller, which watches the descriptor from
 * the event loop (uv_poll) and says `readable`, with an error when the watch failed, or one
 * marked `canceled` when the port is being closed. */
export interface UnixBinding {
  readonly fd: number | null;
  readonly poller: { once(event: 'readable', cb: (err: (Error & { canceled?: boolean }) | null) => void): unknown };
}

/** Room read into at a time; a new pool when less than `MIN_ROOM` of it is left. */
const POOL = 64 * 1024;
const MIN_ROOM = 1024;

/**
 * Reads the port from the event loop. serialport's stream, once its poller says there are
 * bytes, reads them with fs.read on a libuv worker thread and waits for that to come back:
 * a thread round trip before every answer from the board reaches its reader, which a
 * stop-and-wait protocol pays on every block. Here the poller's callback reads itself, a
 * non-blocking read(2) that finds the bytes waiting. The descriptor stays serialport's (it
 * closes it and stops the poller); a read that fails (EIO: the device went), or finds the
 * end of the line, is told to `gone` once and reading stops.
 */
export function readInLoop(
  b: UnixBinding,
  deliver: (chunk: Buffer) => void,
  gone: (why: string) => void,
  readNow: (fd: number, buf: Buffer, offset: number, length: number, position: null) => number = readSync,
): void {
  let pool = Buffer.allocUnsafe(POOL);
  let used = 0;
  const wait = (): void => {
    b.poller.once('readable', (err) => {
      if (b.fd === null || err?.canceled) return;
      if (err) gone(err.message);
      else read();
    });
  };
  const read = (): void => {
    const fd = b.fd;
    if (fd === null) return;
    if (pool.length - used < MIN_ROOM) {
      pool = Buffer.allocUnsafe(POOL);
      used = 0;
    }
    let n: number;
    try {
      n = readNow(fd, pool, used, pool.length - used, null);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN' || code === 'EWOULDBLOCK' || code === 'EINTR') wait();
      else gone((e as Error).message);
      return;
    }
    // A non-blocking tty with nothing to read says EAGAIN; nothing at all is a hang-up.
    if (n === 0) {
      gone('the line hung up');
      return;
    }
    // Each chunk is its own part of the pool, never written over: a reader may keep it.
    const chunk = pool.subarray(used, used + n);
    used += n;
    deliver(chunk);
    // Whatever is left (or comes next) the poller tells at once: it watches while bytes wait.
    wait();
  };
  read();
}

/** Waits for `path` to exist, until `deadline` (performance.now() ms). */
async function appeared(path: string, deadline: number, signal?: AbortSignal): Promise<boolean> {
  while (!existsSync(path)) {
    if (performance.now() >= deadline) return false;
    signal?.throwIfAborted();
    await sleep(50);
  }
  return true;
}

export async function openSerial(path: string, baudRate: number, o: SerialOptions): Promise<ConsolePort> {
  const first = await openOnce(path, baudRate, o.appearS, o.signal, true);
  // A port that goes away is waited for and reopened at the same path (reattach.ts): the
  // same for an adapter re-enumerating at power-on as for one that vanished mid-run.
  return reattaching(first, {
    seconds: o.reappearS ?? 0,
    label: `serial port ${path}`,
    verb: 'reopened',
    // The old node may linger a moment after the adapter left: opening it fails, and the
    // next try finds the new one.
    reopen: (leftS, signal) => openOnce(path, baudRate, leftS, signal, false),
  });
}

/** Opens the port once (waiting `appearS` for its node): a port that tells its loss once. */
async function openOnce(
  path: string,
  baudRate: number,
  appearS: number,
  signal: AbortSignal | undefined,
  first: boolean,
): Promise<ConsolePort> {
  if (!(await appeared(path, performance.now() + appearS * 1000, signal))) {
    throw new LabError(
      'console',
      first
        ? `serial port ${path} does not exist (waited ${appearS} s): check the USB-serial cable and the console port in the board file (a /dev/serial/by-id/ path survives re-plugging)`
        : `serial port ${path} is not back`,
    );
  }
  const { SerialPort } = await import('serialport');
  const port = await new Promise<InstanceType<typeof SerialPort>>((resolve, reject) => {
    const p = new SerialPort({ path, baudRate, autoOpen: false, lock: true });
    p.open((err) => {
      if (!err) return resolve(p);
      const msg = err.message;
      if (/lock|Resource temporarily unavailable|EBUSY|busy/i.test(msg)) {
        reject(
          new PortBusy(
            'console',
            `serial port ${path} is busy: another program holds it (find it with \`fuser ${path}\`, close it, and run again); the board was not touched`,
          ),
        );
      } else if (/EACCES|Permission denied/i.test(msg)) {
        reject(
          new LabError(
            'console',
            `no permission to open ${path}: add your user to the "dialout" group or fix the device's mode`,
          ),
        );
      } else {
        reject(new LabError('console', `cannot open serial port ${path}: ${msg}`));
      }
    });
  });
  const ev = new PortEvents();
  let watch: NodeJS.Timeout | undefined;
  const went = (why: string) => ev.lose(new LabError('console', `serial port ${path} went away (${why})`));
  port.on('close', (err?: Error & { disconnected?: boolean }) => {
    clearInterval(watch);
    went(err?.message ?? 'closed');
  });
  port.on('error', () => undefined);
  // A port whose device is gone does not always say so: a read may simply never come back
  // (seen with a pty whose other side ended, as a USB adapter's node goes when it is
  // pulled). So the node is watched too: gone, or another device under the path now (the
  // adapter re-enumerated), the port went away.
  let device: number;
  try {
    device = statSync(path).rdev;
  } catch {
    port.close(() => undefined);
    throw new LabError('console', `serial port ${path} went away as it was opened`);
  }
  watch = setInterval(() => {
    let now: number | undefined;
    try {
      now = statSync(path).rdev;
    } catch {}
    if (now === device) return;
    clearInterval(watch);
    if (went(now === undefined ? 'its device node is gone' : 'another device is at its path now'))
      port.close(() => undefined);
  }, 200);
  watch.unref();
  const unix = port.port as Partial<UnixBinding> | undefined;
  if (typeof unix?.fd === 'number' && unix.poller) {
    readInLoop(
      unix as UnixBinding,
      (d) => ev.deliver(d),
      (why) => {
        if (went(why)) port.close(() => undefined);
      },
    );
  } else {
    // Another binding (Windows): serialport's stream reads.
    port.on('data', (d: Buffer) => ev.deliver(d));
  }
  // serialport's Unix binding keeps the descriptor it opened (non-blocking) as `fd`, null once
  // closed; another binding has none, and every write then goes serialport's way.
  const binding = () => port.port as { fd?: unknown } | undefined;
  const writer = new SerialWriter(
    port,
    () => {
      const fd = binding()?.fd;
      return typeof fd === 'number' && port.isOpen ? fd : null;
    },
    path,
  );
  return {
    name: path,
    write: (data) => writer.write(data),
    onData: ev.onData,
    onLost: ev.onLost,
    setBaud: (r) =>
      new Promise((resolve, reject) => {
        port.update({ baudRate: r }, (err) =>
          err ? reject(new LabError('load', `cannot set ${path} to ${r} baud: ${err.message}`)) : resolve(),
        );
      }),
    close: () =>
      new Promise((resolve) => {
        ev.closing = true;
        clearInterval(watch);
        if (!port.isOpen) return resolve();
        port.close(() => resolve());
      }),
  };
}

export const serialConsole = defineConsole({
  kind: 'serial',
  summary: 'a local serial device (USB-UART): port, baud',
  notes:
    '`port`: a `/dev/serial/by-id/...` path survives re-plugging; `baud`: a number or a string; `appear_timeout`: ' +
    'how long to wait for the device node when opening; `reappear_timeout`: a port that vanishes (as an adapter ' +
    'does when the board is cycled) is reopened if it comes back within this (default 10 s)',
  settings: z
    .object({
      /** A /dev/serial/by-id/... path survives USB re-enumeration. */
      port: z.string().min(1, 'give the serial device (a /dev/serial/by-id/... path is best)'),
      baud: baud.default(115200),
      /** How long to wait for the device node to appear when the console opens, seconds. */
      appear_timeout: z.number().nonnegative().default(5),
      /** How long a port that went away (an adapter re-enumerating when the board is
       * cycled, in any phase) may take to come back under the same path, seconds; 0: lost
       * at once. The board's [console] reattach_timeout, when given, is this bound. */
      reappear_timeout: z.number().nonnegative().default(10),
    })
    .strict(),
  open: (s, ctx) =>
    openSerial(s.port, s.baud, {
      appearS: s.appear_timeout,
      reappearS: ctx.board.console.reattach_timeout ?? s.reappear_timeout,
      signal: ctx.signal(),
    }),
});
