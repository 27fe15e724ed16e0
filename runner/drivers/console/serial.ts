// A local serial console through `serialport`: a USB-UART on a real board. Opening waits
// for the device node to (re)appear, because USB-serial adapters vanish for a moment when
// a board or a powered hub is cycled, and takes the port's lock: a port another program
// (or another run) holds is a lab error that says so, and the board is left alone.
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { LabError } from '../../errors.js';
import type { ConsolePort } from '../../console/port.js';
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
   * lost (a USB-serial adapter re-enumerates when the board or its hub is cycled); 0: lost
   * at once. */
  reappearS?: number;
  signal?: AbortSignal;
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
  if (!(await appeared(path, performance.now() + o.appearS * 1000, o.signal))) {
    throw new LabError(
      'console',
      `serial port ${path} does not exist (waited ${o.appearS} s): check the USB-serial cable and the console port in the board file (a /dev/serial/by-id/ path survives re-plugging)`,
    );
  }
  const { SerialPort } = await import('serialport');
  const open = () =>
    new Promise<InstanceType<typeof SerialPort>>((resolve, reject) => {
      const p = new SerialPort({ path, baudRate, autoOpen: false, lock: true });
      p.open((err) => {
        if (!err) return resolve(p);
        const msg = err.message;
        if (/lock|Resource temporarily unavailable|EBUSY|busy/i.test(msg)) {
          reject(
            new PortBusy('console', `serial port ${path} is busy: another program holds it (find it with \`fuser ${path}\`, close it, and run again); the board was not touched`),
          );
        } else if (/EACCES|Permission denied/i.test(msg)) {
          reject(new LabError('console', `no permission to open ${path}: add your user to the "dialout" group or fix the device's mode`));
        } else {
          reject(new LabError('console', `cannot open serial port ${path}: ${msg}`));
        }
      });
    });
  let port = await open();
  let closing = false;
  let rate = baudRate;
  let dataFn: (chunk: Buffer) => void = () => {};
  const lostFns: ((e: Error) => void)[] = [];
  const noteFns: ((text: string) => void)[] = [];
  const note = (text: string) => {
    for (const fn of noteFns) fn(text);
  };
  /** Set while a port that went away is being waited for: writes wait for it too. */
  let returning: Promise<void> | null = null;

  const gone = (why: string) => {
    if (closing) return;
    const lost = (msg: string) => {
      for (const fn of lostFns) fn(new LabError('console', msg));
    };
    const wait = o.reappearS ?? 0;
    if (wait <= 0) return lost(`serial port ${path} went away (${why})`);
    note(`serial port ${path} went away (${why}); waiting up to ${wait} s for it to come back`);
    const t0 = performance.now();
    returning = (async () => {
      const deadline = t0 + wait * 1000;
      for (;;) {
        // The old node may linger a moment after the adapter left: opening it fails, and
        // the next try finds the new one.
        if (await appeared(path, deadline)) {
          try {
            const p = await open();
            if (closing) {
              p.close();
              return;
            }
            if (rate !== baudRate) await new Promise<void>((r) => p.update({ baudRate: rate }, () => r()));
            port = p;
            wire(p);
            note(`serial port ${path} is back after ${((performance.now() - t0) / 1000).toFixed(2)} s: reopened`);
            return;
          } catch {
            // not ready yet
          }
        }
        if (performance.now() >= deadline) throw new Error(`serial port ${path} went away (${why}) and did not come back within ${wait} s`);
        await sleep(100);
      }
    })()
      .catch((e: Error) => lost(e.message))
      .finally(() => {
        returning = null;
      });
  };
  const wire = (p: InstanceType<typeof SerialPort>) => {
    p.on('data', (d: Buffer) => dataFn(d));
    p.on('close', (err?: Error & { disconnected?: boolean }) => {
      if (p === port) gone(err?.message ?? 'closed');
    });
    p.on('error', () => undefined);
  };
  wire(port);
  return {
    name: path,
    write: async (data) => {
      if (returning) await returning;
      await new Promise<void>((resolve, reject) => {
        port.write(data, (err) => (err ? reject(new LabError('console', `writing to ${path} failed: ${err.message}`)) : resolve()));
      });
    },
    onData: (fn) => {
      dataFn = fn;
    },
    onLost: (fn) => void lostFns.push(fn),
    onNote: (fn) => void noteFns.push(fn),
    setBaud: (r) =>
      new Promise((resolve, reject) => {
        port.update({ baudRate: r }, (err) => {
          if (err) return reject(new LabError('load', `cannot set ${path} to ${r} baud: ${err.message}`));
          rate = r;
          resolve();
        });
      }),
    close: () =>
      new Promise((resolve) => {
        closing = true;
        if (!port.isOpen) return resolve();
        port.close(() => resolve());
      }),
  };
}

export const serialConsole = defineConsole({
  kind: 'serial',
  summary: 'a local serial device (USB-UART): port, baud',
  settings: z
    .object({
      /** A /dev/serial/by-id/... path survives USB re-enumeration. */
      port: z.string().min(1, 'give the serial device (a /dev/serial/by-id/... path is best)'),
      baud: baud.default(115200),
      /** How long to wait for the device node to appear when the console opens, seconds. */
      appear_timeout: z.number().nonnegative().default(5),
      /** How long a port that went away (an adapter re-enumerating when the board is
       * cycled) may take to come back under the same path, seconds; 0: lost at once. */
      reappear_timeout: z.number().nonnegative().default(10),
    })
    .strict(),
  open: (s, ctx) => openSerial(s.port, s.baud, { appearS: s.appear_timeout, reappearS: s.reappear_timeout, signal: ctx.signal() }),
});
