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

/** serialport and its native binding: 100 ms and more to load, so loaded once, early. */
let serialport: Promise<typeof import('serialport')> | undefined;
export const loadSerialport = () => (serialport ??= import('serialport'));

/** A port held by someone else: the session must not power the board off under them. */
export class PortBusy extends LabError {
  readonly busy = true;
}

export async function openSerial(path: string, baudRate: number, appearTimeoutS: number, signal?: AbortSignal): Promise<ConsolePort> {
  const deadline = performance.now() + appearTimeoutS * 1000;
  while (!existsSync(path)) {
    if (performance.now() >= deadline) {
      throw new LabError(
        'console',
        `serial port ${path} does not exist (waited ${appearTimeoutS} s): check the USB-serial cable and the console port in the board file (a /dev/serial/by-id/ path survives re-plugging)`,
      );
    }
    signal?.throwIfAborted();
    await sleep(100);
  }
  const { SerialPort } = await loadSerialport();
  const port = new SerialPort({ path, baudRate, autoOpen: false, lock: true });
  await new Promise<void>((resolve, reject) =>
    port.open((err) => {
      if (!err) return resolve();
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
    }),
  );
  let closing = false;
  return {
    name: path,
    write: (data) =>
      new Promise((resolve, reject) => {
        port.write(data, (err) => (err ? reject(new LabError('console', `writing to ${path} failed: ${err.message}`)) : resolve()));
      }),
    onData: (fn) => port.on('data', fn),
    onLost: (fn) =>
      port.on('close', (err?: Error & { disconnected?: boolean }) => {
        if (!closing) fn(new LabError('console', `serial port ${path} went away${err ? ` (${err.message})` : ''}`));
      }),
    setBaud: (rate) =>
      new Promise((resolve, reject) => {
        port.update({ baudRate: rate }, (err) => (err ? reject(new LabError('load', `cannot set ${path} to ${rate} baud: ${err.message}`)) : resolve()));
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
      /** How long to wait for the device node to (re)appear after power-on, seconds. */
      appear_timeout: z.number().nonnegative().default(5),
    })
    .strict(),
  open: (s, ctx) => openSerial(s.port, s.baud, s.appear_timeout, ctx.signal()),
  warm: loadSerialport,
});
