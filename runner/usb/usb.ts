// The USB layer: finding a board's USB device and talking to it, on the `usb` package
// (node-usb, libusb underneath). Major 2, not 3: 3.x is a rewrite that offers only the
// WebUSB API, while rockusb's maskrom download needs libusb's vendor control transfers as
// rkdeveloptool makes them, and both find devices by bus and port path, which 2.x gives
// directly (busNumber, portNumbers); 2.x ships prebuilt binaries for Node 20 and is kept.
//
// Devices are found by VID/PID and told apart by their USB port path as Linux names it in
// sysfs (`1-2.3`: bus 1, hub port 2, port 3), which stays the same for a cable in the same
// socket, so two identical boards on one host are two paths. Everything above this file
// talks to a UsbLink: the real device here, or a device model in the tests (no USB bus
// exists on the machines the tests run on).
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { LabError } from '../errors.js';

/** What the protocols need of a USB device: vendor control transfers out, bulk out and in. */
export interface UsbLink {
  readonly name: string;
  /** A vendor request to the device (bmRequestType 0x40); resolves with the bytes taken. */
  controlOut(request: number, value: number, index: number, data: Buffer): Promise<number>;
  bulkOut(data: Buffer): Promise<void>;
  /** Reads one transfer of up to `length` bytes from the bulk IN endpoint, waiting up to
   * `timeoutMs` (else the link's own limit). */
  bulkIn(length: number, timeoutMs?: number): Promise<Buffer>;
  close(): Promise<void>;
}

export interface UsbMatch {
  vid: number;
  pid: number | number[];
  /** The port path (`1-2.3`) when several devices match. */
  path?: string;
}

export interface FoundDevice {
  vid: number;
  pid: number;
  path: string;
}

export const hex4 = (n: number) => n.toString(16).padStart(4, '0');

/** Linux's sysfs name for a device's place: bus, then the port numbers through each hub. */
export const portPath = (bus: number, ports: number[]) => `${bus}-${ports.join('.') || '0'}`;

/** The one device matching, or a lab error that says what was seen and what to do. */
export function pick(found: FoundDevice[], m: UsbMatch, what: string): FoundDevice {
  const pids = ([] as number[]).concat(m.pid);
  const want = `${hex4(m.vid)}:${pids.map(hex4).join('|')}`;
  const same = found.filter((d) => d.vid === m.vid && pids.includes(d.pid));
  const at = m.path ? same.filter((d) => d.path === m.path) : same;
  if (at.length === 1) return at[0]!;
  const seen = found.length
    ? found.map((d) => `${hex4(d.vid)}:${hex4(d.pid)} at ${d.path}`).join(', ')
    : 'no USB device at all';
  if (!at.length)
    throw new LabError(
      'usb',
      `no ${what} (${want}${m.path ? ` at ${m.path}` : ''}) on this host's USB: seen ${seen}. Is the board in that mode, and its USB cable in${m.path ? ' that socket' : ''}?`,
    );
  throw new LabError(
    'usb',
    `${at.length} ${what}s (${want}) are plugged in, at ${at.map((d) => d.path).join(', ')}: say which with the board file's usb_path`,
  );
}

/** Whether this host has a USB bus libusb can see; a clear error when it has none. */
export function requireUsbBus(): void {
  if (!existsSync('/dev/bus/usb'))
    throw new LabError(
      'usb',
      "this host has no USB bus (/dev/bus/usb is missing): run on the lab host the boards' USB cables are plugged into (in a container, pass the bus in: --device /dev/bus/usb)",
    );
}

type NodeUsb = typeof import('usb');

async function nodeUsb(): Promise<NodeUsb> {
  return import('usb');
}

/** The USB devices of this host, with their port paths. */
export async function listUsb(): Promise<FoundDevice[]> {
  requireUsbBus();
  const usb = await nodeUsb();
  return usb.getDeviceList().map((d) => ({
    vid: d.deviceDescriptor.idVendor,
    pid: d.deviceDescriptor.idProduct,
    path: portPath(d.busNumber, d.portNumbers ?? []),
  }));
}

/** Opens the matching device's first interface with a bulk IN and a bulk OUT endpoint. */
export async function openUsb(m: UsbMatch, what: string, timeoutMs = 10_000): Promise<UsbLink> {
  // A USB backend of the lab's (a module exporting openUsb): how the tests put a board model
  // where a real board would be, on machines with no USB bus.
  const backend = process.env.HIL_USB_BACKEND;
  if (backend) return (await import(pathToFileURL(backend).href)).openUsb(m, what);
  const found = await listUsb(); // says first when there is no USB bus at all
  const usb = await nodeUsb();
  const one = pick(found, m, what);
  const dev = usb.getDeviceList().find((d) => portPath(d.busNumber, d.portNumbers ?? []) === one.path)!;
  const name = `${what} ${hex4(one.vid)}:${hex4(one.pid)} at ${one.path}`;
  try {
    dev.open();
  } catch (e) {
    throw new LabError(
      'usb',
      `cannot open the ${name}: ${(e as Error).message} (permissions: a udev rule giving your user the device, as rkdeveloptool's 99-rk-rockusb.rules)`,
    );
  }
  dev.timeout = timeoutMs;
  const iface = dev.interfaces?.find((i) =>
    i.endpoints.some((e) => e.direction === 'in' && e.transferType === usb.usb.LIBUSB_TRANSFER_TYPE_BULK),
  );
  if (!iface) throw new LabError('usb', `the ${name} has no interface with bulk endpoints`);
  if (iface.isKernelDriverActive()) iface.detachKernelDriver();
  iface.claim();
  const bulkIn = iface.endpoints.find((e) => e.direction === 'in') as import('usb').InEndpoint;
  const bulkOut = iface.endpoints.find((e) => e.direction === 'out') as import('usb').OutEndpoint;
  const fail = (step: string) => (e: unknown) =>
    new LabError('usb', `${name}: ${step} failed: ${(e as Error).message}`);
  return {
    name,
    controlOut: (request, value, index, data) =>
      new Promise((resolve, reject) =>
        dev.controlTransfer(0x40, request, value, index, data, (err, got) =>
          err
            ? reject(fail(`vendor request 0x${request.toString(16)}`)(err))
            : resolve(typeof got === 'number' ? got : data.length),
        ),
      ),
    bulkOut: (data) =>
      new Promise((resolve, reject) =>
        bulkOut.transfer(data, (err) => (err ? reject(fail('bulk write')(err)) : resolve())),
      ),
    bulkIn: (length, wait) =>
      new Promise((resolve, reject) => {
        // libusb's limit is the device's: set for this read (transfers here are one at a time).
        dev.timeout = wait ?? timeoutMs;
        bulkIn.transfer(length, (err, got) => (err ? reject(fail('bulk read')(err)) : resolve(got ?? Buffer.alloc(0))));
      }),
    close: async () => {
      await new Promise<void>((r) => iface.release(true, () => r()));
      dev.close();
    },
  };
}
