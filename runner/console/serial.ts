// A serial console through `serialport`: a USB-UART on a real board, the pty of the
// virtual board. Opening waits for the device node to (re)appear, because USB-serial
// adapters vanish for a moment when a board or a powered hub is cycled.
import { existsSync } from 'node:fs';
import { SerialPort } from 'serialport';
import { LabError } from '../errors.js';
import type { ConsolePort } from './port.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function openSerial(path: string, baud: number, appearTimeoutS: number): Promise<ConsolePort> {
  const deadline = performance.now() + appearTimeoutS * 1000;
  while (!existsSync(path)) {
    if (performance.now() >= deadline) {
      throw new LabError('console', `serial port ${path} does not exist (waited ${appearTimeoutS} s): check the USB-serial cable and console.port in the board file (a /dev/serial/by-id/ path survives re-plugging)`);
    }
    await sleep(100);
  }
  const port = new SerialPort({ path, baudRate: baud, autoOpen: false, lock: true });
  await new Promise<void>((resolve, reject) =>
    port.open((err) => {
      if (!err) return resolve();
      const msg = err.message;
      if (/lock|Resource temporarily unavailable|EBUSY|busy/i.test(msg)) {
        reject(new LabError('console', `serial port ${path} is busy: another program holds it (find it with \`fuser ${path}\`, close it, and run again)`));
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
    setBaud: (baudRate) =>
      new Promise((resolve, reject) => {
        port.update({ baudRate }, (err) => (err ? reject(new LabError('load', `cannot set ${path} to ${baudRate} baud: ${err.message}`)) : resolve()));
      }),
    close: () =>
      new Promise((resolve) => {
        closing = true;
        if (!port.isOpen) return resolve();
        port.close(() => resolve());
      }),
  };
}
