// The load methods (tftp, ymodem, fastboot) made through the driver registry, as the
// runner's board session makes them (runner/job/session.ts: driver('load', kind).create with
// a LoadContext), and driven over a scripted U-Boot console (fixtures/scripted/uboot.ts), so
// they run in milliseconds with no QEMU. The far end is a small model of the board: U-Boot's
// commands print what U-Boot 2023.01 prints, and what a transfer brings lands in a model of
// the board's RAM, from which U-Boot's `crc32` is computed. So a driver that typed the wrong
// command, sent the wrong bytes or compared the wrong CRC fails here.
//
// What cannot be driven without QEMU, and is not: the TFTP transfer itself (U-Boot's own
// TFTP client fetching over the network). The model's `tftpboot` reads the file from the
// folder the board's TFTP server serves, which is what the driver is responsible for
// (staging it there under the name it then asks for). Fastboot over USB needs a USB bus
// (the gadget model is reached over UDP here, in U-Boot's net/fastboot.c framing).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { Console } from '../../runner/console/console.js';
import type { ConsolePort } from '../../runner/console/port.js';
import { Transcript } from '../../runner/console/transcript.js';
import { loadBoard } from '../../runner/drivers/board.js';
import '../../runner/drivers/index.js';
import { safeName } from '../../runner/drivers/load/tftp.js';
import { owner } from '../../runner/drivers/leftovers.js';
import {
  driver,
  FASTBOOT_UDP,
  type LoadContext,
  type Loader,
  Resources,
  TFTP_ROOT,
  TFTP_SHARE,
  type TftpShare,
} from '../../runner/drivers/registry.js';
import { LabError } from '../../runner/errors.js';
import { crcHex, hostImage } from '../../runner/transfer/image.js';
import { UBoot } from '../../runner/uboot/driver.js';
import { ScriptedUBoot } from '../../fixtures/scripted/uboot.js';
import { FastbootGadgetModel } from '../../fixtures/usb/fastboot-device.js';
import { LoadyModel } from '../../fixtures/ymodem/loady.js';
import { tmpDir, virtualBoard } from '../helpers.js';

const ADDR = '0x40400000';

/** An image with every byte value in it (0xFF, Ctrl-C, XON...), not a whole number of
 * YMODEM blocks, under a name with a blank and a quote (which must not reach U-Boot's shell). */
function testImage(dir: string, size = 20 * 1024 + 300): string {
  const file = path.join(dir, "my kernel's Image");
  writeFileSync(file, Buffer.from(Array.from({ length: size }, (_, i) => (i * 131 + (i >> 9)) & 0xff)));
  return file;
}

/**
 * A port over the scripted U-Boot for the commands that take the console over (loady,
 * fastboot udp): once the command has printed `marker`, U-Boot is inside it, so the prompt
 * the scripted console prints after it is held back, and what the host writes goes to the
 * command (loady's receiver), until the command ends (release).
 */
class TakeoverPort implements ConsolePort {
  readonly name = 'scripted-uboot';
  private fns: ((b: Buffer) => void)[] = [];
  private held: Buffer[] | null = null;
  private armed?: { marker: string; start: () => void; input: (b: Buffer) => void };
  private input: ((b: Buffer) => void) | null = null;

  constructor(readonly inner: ScriptedUBoot) {
    inner.onData((b) => {
      if (this.held) return void this.held.push(b);
      this.out(b);
      const a = this.armed;
      if (a && b.toString('latin1').includes(a.marker)) {
        this.armed = undefined;
        this.held = [];
        this.input = a.input;
        a.start();
      }
    });
  }

  private out(b: Buffer): void {
    for (const fn of this.fns) fn(b);
  }

  /** Called from a command: U-Boot stays in it from `marker` on. */
  takeOver(marker: string, start: () => void, input: (b: Buffer) => void = () => {}): void {
    this.armed = { marker, start, input };
  }

  /** U-Boot prints, from inside the command. */
  say(text: string): void {
    this.out(Buffer.from(text, 'latin1'));
  }

  /** The command ends with `text`; the held prompt follows. */
  release(text: string): void {
    this.say(text);
    const held = this.held ?? [];
    this.held = null;
    this.input = null;
    for (const b of held) this.out(b);
  }

  async write(data: string | Buffer): Promise<void> {
    const b = typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data);
    if (this.input) return this.input(b);
    return this.inner.write(data);
  }

  onData(fn: (b: Buffer) => void): void {
    this.fns.push(fn);
  }
  onLost(fn: (e: Error) => void): void {
    this.inner.onLost(fn);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/**
 * U-Boot's `fastboot udp` (net/fastboot.c) in front of the gadget model's command engine
 * (fixtures/usb/fastboot-device.ts, fb_command.c): query and init answered, every packet
 * under the next sequence number answered once (a repeat of the last one re-sent), a
 * command's or a download's answer given to the packet after it, as the client reads.
 */
class FastbootUdpModel {
  readonly sock = dgram.createSocket('udp4');
  private seqNo = 1;
  private last = Buffer.alloc(0);
  private chain = Promise.resolve();
  /** The gadget of the `fastboot` command now running (made by the command, at its size). */
  constructor(public gadget: FastbootGadgetModel) {
    this.sock.on('message', (m, from) => {
      this.chain = this.chain.then(() => this.packet(m, from));
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.sock.bind(0, '127.0.0.1', () => r()));
    return this.sock.address().port;
  }

  private async packet(m: Buffer, from: dgram.RemoteInfo): Promise<void> {
    const id = m[0]!;
    const seq = m.readUInt16BE(2);
    const body = m.subarray(4);
    const reply = (payload: Buffer) => {
      this.last = Buffer.concat([Buffer.from([id, 0, seq >> 8, seq & 0xff]), payload]);
      this.sock.send(this.last, from.port, from.address);
    };
    if (id === 1) return reply(Buffer.from([this.seqNo >> 8, this.seqNo & 0xff]));
    if (seq === ((this.seqNo - 1) & 0xffff)) return void this.sock.send(this.last, from.port, from.address);
    if (seq !== this.seqNo) return;
    this.seqNo = (this.seqNo + 1) & 0xffff;
    if (id === 2) return reply(Buffer.from([0, 1, 0x04, 0x00])); // version 1, 1024-byte packets
    if (body.length) {
      await this.gadget.bulkOut(Buffer.from(body)); // a command, or a piece of the download
      return reply(Buffer.alloc(0));
    }
    try {
      return reply(await this.gadget.bulkIn(4096)); // the answer, asked for by an empty packet
    } catch {
      return reply(Buffer.alloc(0)); // none yet
    }
  }

  close(): void {
    this.sock.close();
  }
}

interface BenchOptions {
  /** The folder the board's TFTP server serves (the model's tftpboot reads it). */
  tftpServes?: string;
  /** The TFTP transfer flips this byte of the image (a corrupted transfer). */
  corruptAt?: number;
  /** loady reports this many bytes instead of what it received. */
  loadyReports?: number;
}

/** A board as the load methods meet it: U-Boot at its prompt, its RAM, its TFTP server,
 * its loady and its fastboot; and the LoadContext a board session gives a load method. */
async function bench(o: BenchOptions = {}) {
  const dir = tmpDir('hil-load-');
  const ram = new Map<number, Buffer>();
  const put = (addr: string, bytes: Buffer) => ram.set(Number.parseInt(addr, 16), bytes);
  let port!: TakeoverPort;
  const loadys: LoadyModel[] = [];
  const devices: FastbootUdpModel[] = [];
  /** What the TFTP server sent for each file U-Boot asked for. */
  const served: { name: string; bytes: Buffer }[] = [];
  const inner = new ScriptedUBoot({
    bootdelay: 0,
    commands: {
      tftpboot: ([addr, name]) => {
        const file = o.tftpServes && name ? path.join(o.tftpServes, name) : '';
        if (!file || !existsSync(file))
          return {
            out: `Using virtio-net#32 device\nTFTP from server 10.0.2.2; our IP address is 10.0.2.15\nFilename '${name}'.\nLoad address: ${addr}\nLoading: *\nTFTP error: 'File not found' (1)\nNot retrying...\n`,
            status: 1,
          };
        const bytes = readFileSync(file);
        served.push({ name: name!, bytes });
        const got = Buffer.from(bytes);
        if (o.corruptAt !== undefined) got[o.corruptAt] ^= 0x10;
        put(addr!, got);
        const n = bytes.length;
        return {
          out: `Using virtio-net#32 device\nTFTP from server 10.0.2.2; our IP address is 10.0.2.15\nFilename '${name}'.\nLoad address: ${addr}\nLoading: #\n\t 1.5 MiB/s\ndone\nBytes transferred = ${n} (${n.toString(16)} hex)\n`,
        };
      },
      crc32: ([addr, size]) => {
        const a = Number.parseInt(addr!, 16);
        const n = Number.parseInt(size!, 16);
        const mem = ram.get(a) ?? Buffer.alloc(0);
        const bytes = Buffer.concat([mem, Buffer.alloc(Math.max(0, n - mem.length))]).subarray(0, n);
        return { out: `crc32 for ${a.toString(16)} ... ${(a + n - 1).toString(16)} ==> ${crcHex(crc32(bytes))}\n` };
      },
      loady: ([addr]) => {
        const rx = new LoadyModel((b) => setImmediate(() => port.say(b.toString('latin1'))));
        loadys.push(rx);
        port.takeOver(
          '## Ready for binary (ymodem) download',
          () =>
            void rx.run().then((ended) => {
              const n = o.loadyReports ?? rx.data.length;
              if (ended === 'ok') put(addr!, Buffer.from(rx.data));
              // After its last answer (which is on its way, as every answer, a turn later).
              setImmediate(() =>
                port.release(
                  ended === 'ok'
                    ? `## Total Size      = 0x${n.toString(16).padStart(8, '0')} = ${n} Bytes\r\n## Start Addr      = ${addr}\r\n`
                    : '\r\n## Binary (ymodem) download aborted\r\n',
                ),
              );
            }),
          (b) => rx.push(b),
        );
        return { out: `## Ready for binary (ymodem) download to ${addr} at 115200 bps...\n` };
      },
      fastboot: (args) => {
        // fastboot -l ADDR -s SIZE udp: the download buffer is ADDR, SIZE bytes of it.
        const at = args[args.indexOf('-l') + 1]!;
        const size = Number.parseInt(args[args.indexOf('-s') + 1]!, 16);
        if (args.at(-1) !== 'udp' || args.indexOf('-l') < 0 || !(size > 0))
          return { out: 'fastboot - run as a fastboot usb or udp device\n', status: 1 };
        const gadget = new FastbootGadgetModel({ bufferSize: size });
        devices.at(-1)!.gadget = gadget;
        // What U-Boot prints as the download comes in, and when `continue` ends fastboot.
        const bulkOut = gadget.bulkOut.bind(gadget);
        gadget.bulkOut = async (data: Buffer) => {
          const before = gadget.received;
          const cmd = data.toString('latin1');
          await bulkOut(data);
          if (/^download:/.test(cmd) && gadget.commands.at(-1) === cmd)
            port.say(`Starting download of ${Number.parseInt(cmd.slice(9), 16)} bytes\r\n`);
          if (gadget.received !== before) {
            put(at, gadget.received);
            port.say(`..........\r\ndownloading of ${gadget.received.length} bytes finished\r\n`);
          }
          if (gadget.exited) setImmediate(() => port.release(''));
        };
        port.takeOver('Listening for fastboot command on', () => {});
        return { out: 'Using virtio-net#32 device\nListening for fastboot command on 10.0.2.15\n' };
      },
    },
  });
  port = new TakeoverPort(inner);
  const transcript = new Transcript(dir);
  const con = new Console(port, transcript);
  const board = loadBoard(virtualBoard);
  const run = new AbortController();
  const uboot = new UBoot(con, board, () => run.signal);
  inner.powerOn();
  await uboot.interrupt();
  const resources = new Resources();
  const runId = `${owner()}.1`;
  const ctx: LoadContext = {
    board,
    log: () => {},
    signal: () => run.signal,
    outDir: dir,
    uboot,
    console: con,
    resources,
    runId,
  };
  /** The load method, made as the board session makes it: settings through its schema. */
  const loader = (kind: string, settings: Record<string, unknown> = {}): Loader => {
    const d = driver('load', kind)!;
    return d.create(d.settings.parse(settings), ctx);
  };
  /** A fastboot device listening, for FASTBOOT_UDP (its gadget is made by the command). */
  const fastbootDevice = async () => {
    const dev = new FastbootUdpModel(new FastbootGadgetModel());
    devices.push(dev);
    return { dev, port: await dev.listen() };
  };
  /** The command lines U-Boot ran, without the runner's completion marker. */
  const typed = () => inner.ran.map((l) => l.replace(/; echo '[^']*''[^']*'-\$\?$/, ''));
  const close = async () => {
    for (const d of devices) d.close();
    await con.close();
  };
  return {
    dir,
    ram,
    inner,
    port,
    con,
    uboot,
    ctx,
    resources,
    runId,
    loader,
    typed,
    served,
    loadys,
    fastbootDevice,
    close,
  };
}

type Bench = Awaited<ReturnType<typeof bench>>;

const labError = (re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof LabError, `expected a lab error, got ${e}`);
  assert.match((e as Error).message, re);
  return true;
};

describe('load methods through the registry, on a scripted U-Boot', () => {
  let b: Bench | undefined;
  afterEach(async () => {
    await b?.close();
    b = undefined;
  });

  describe('tftp', () => {
    it('stages the image in TFTP_ROOT under a safe name, asks `tftpboot ADDR NAME`, checks crc32 against the host, and cleanup removes only what it staged', async () => {
      const root = tmpDir('hil-tftp-root-');
      writeFileSync(path.join(root, 'someone-elses.bin'), 'not ours');
      b = await bench({ tftpServes: root });
      b.resources.set(TFTP_ROOT, root);
      const file = testImage(b.dir);
      const img = hostImage('kernel', file);
      const l = b.loader('tftp', { board_ip: '10.0.2.15', server_ip: '10.0.2.2' });
      assert.equal(l.method, 'tftp');
      const fig = await l.load(img, ADDR);
      const name = `hil-${safeName(b.runId)}/kernel-my_kernel_s_Image`;
      assert.deepEqual(b.typed(), [
        'echo hil-sync',
        'setenv ipaddr 10.0.2.15',
        'setenv serverip 10.0.2.2',
        `tftpboot ${ADDR} ${name}`,
        `crc32 ${ADDR} 0x${img.size.toString(16)}`,
      ]);
      assert.equal(b.served.length, 1);
      assert.equal(b.served[0]!.name, name);
      assert.deepEqual(b.served[0]!.bytes, readFileSync(file), 'the staged file is the image, byte for byte');
      assert.deepEqual(b.ram.get(0x40400000), readFileSync(file));
      assert.equal(fig.method, 'tftp');
      assert.equal(fig.bytes, img.size);
      assert.equal(fig.crc32, crcHex(img.crc32));
      assert.equal(fig.verified, true);
      assert.ok(existsSync(path.join(root, name)), 'still staged until cleanup');
      await l.cleanup();
      assert.deepEqual(readdirSync(root), ['someone-elses.bin'], "this run's folder is gone, nothing else");
      await l.cleanup(); // never throws, also a second time
    });

    it("a folder left by a runner that was killed (its pid gone) is swept when the method is made; a live runner's is not", async () => {
      const root = tmpDir('hil-tftp-root-');
      const dead = spawnSync(process.execPath, ['-e', '0']).pid!; // a process that has ended
      const host = owner().slice(0, owner().lastIndexOf('.'));
      mkdirSync(path.join(root, `hil-${host}.${dead}.3`));
      mkdirSync(path.join(root, `hil-${owner()}.7`)); // this process: alive
      b = await bench({ tftpServes: root });
      b.resources.set(TFTP_ROOT, root);
      b.loader('tftp', { board_ip: '10.0.2.15' });
      assert.deepEqual(readdirSync(root), [`hil-${owner()}.7`]);
    });

    it("with a pool's TFTP_SHARE, the image goes through the share's put() (no folder is written), and tftpboot asks the name put() returned", async () => {
      const shareRoot = tmpDir('hil-tftp-share-');
      const root = tmpDir('hil-tftp-root-');
      const puts: { local: string; name: string; signal: AbortSignal }[] = [];
      const share: TftpShare = {
        serverIp: '10.0.2.2',
        boardIp: '10.0.2.20',
        netmask: '255.255.255.0',
        describe: 'test share',
        put: async (local, name, signal) => {
          puts.push({ local, name, signal });
          const rel = `ostool/sessions/s1/${name}`;
          mkdirSync(path.dirname(path.join(shareRoot, rel)), { recursive: true });
          copyFileSync(local, path.join(shareRoot, rel));
          return rel;
        },
      };
      b = await bench({ tftpServes: shareRoot });
      b.resources.set(TFTP_SHARE, share).set(TFTP_ROOT, root);
      const file = testImage(b.dir);
      const img = hostImage('kernel', file);
      const l = b.loader('tftp');
      await l.load(img, ADDR);
      assert.equal(puts.length, 1);
      assert.equal(puts[0]!.local, img.path);
      assert.equal(puts[0]!.name, `hil-${safeName(b.runId)}/kernel-my_kernel_s_Image`);
      assert.equal(puts[0]!.signal, b.ctx.signal(), "the run's signal");
      assert.deepEqual(b.typed(), [
        'echo hil-sync',
        'setenv ipaddr 10.0.2.20',
        'setenv netmask 255.255.255.0',
        'setenv serverip 10.0.2.2',
        `tftpboot ${ADDR} ostool/sessions/s1/hil-${safeName(b.runId)}/kernel-my_kernel_s_Image`,
        `crc32 ${ADDR} 0x${img.size.toString(16)}`,
      ]);
      assert.deepEqual(b.ram.get(0x40400000), readFileSync(file));
      assert.deepEqual(readdirSync(root), [], 'TFTP_ROOT untouched');
      await l.cleanup();
    });

    it("a transfer that corrupts a byte: the CRC check is a lab error naming the board's and the host's CRC", async () => {
      const root = tmpDir('hil-tftp-root-');
      b = await bench({ tftpServes: root, corruptAt: 5000 });
      b.resources.set(TFTP_ROOT, root);
      const file = testImage(b.dir);
      const img = hostImage('kernel', file);
      const bad = Buffer.from(readFileSync(file));
      bad[5000] ^= 0x10;
      await assert.rejects(
        b.loader('tftp', { board_ip: '10.0.2.15' }).load(img, ADDR),
        labError(
          new RegExp(
            `^CRC mismatch for the kernel my kernel's Image: board ${crcHex(crc32(bad))}, host ${crcHex(img.crc32)} \\(`,
          ),
        ),
      );
    });

    it("no TFTP_ROOT and no dir: a lab error when the method is made; a file the server does not have: a lab error naming the file and U-Boot's words", async () => {
      b = await bench({ tftpServes: tmpDir('hil-tftp-elsewhere-') });
      assert.throws(
        () => b!.loader('tftp', { board_ip: '10.0.2.15' }),
        labError(
          /^board qemu-virt-aarch64: \[load\.tftp\] dir is not set: the folder your TFTP server serves is needed/,
        ),
      );
      const root = tmpDir('hil-tftp-root-');
      const l = b.loader('tftp', { dir: root, board_ip: '10.0.2.15' });
      const img = hostImage('kernel', testImage(b.dir));
      await assert.rejects(
        l.load(img, ADDR),
        labError(
          /^TFTP load of the kernel my kernel's Image \(server from DHCP, file hil-[\w.-]+\/kernel-my_kernel_s_Image\) failed: U-Boot reported "TFTP error: 'File not found' \(1\)"/,
        ),
      );
      assert.ok(!b.typed().some((l) => l.startsWith('crc32')), 'no CRC asked after a failed transfer');
      await l.cleanup();
      assert.deepEqual(readdirSync(root), []);
    });
  });

  describe('ymodem', () => {
    it('types `loady ADDR`, sends the image to the receiver intact (every byte value, a short last block), takes the prompt back and checks crc32', async () => {
      b = await bench();
      const file = testImage(b.dir);
      const img = hostImage('kernel', file);
      const l = b.loader('ymodem');
      assert.equal(l.method, 'ymodem');
      const fig = await l.load(img, ADDR);
      assert.deepEqual(b.typed(), ['echo hil-sync', `loady ${ADDR}`, `crc32 ${ADDR} 0x${img.size.toString(16)}`]);
      const rx = b.loadys[0]!;
      assert.deepEqual(rx.header, { name: "my kernel's Image", size: img.size });
      assert.equal(rx.bad, 0, 'no block arrived damaged');
      assert.deepEqual(Buffer.from(rx.data), readFileSync(file), 'the whole image, in order');
      assert.equal(fig.method, 'ymodem');
      assert.equal(fig.crc32, crcHex(img.crc32));
      assert.equal(fig.verified, true);
      assert.equal(fig.retries, 0);
      // The console is U-Boot's again: a command runs.
      assert.deepEqual((await b.uboot.run('echo after')).output, ['after']);
    });

    it('loady reporting a size other than the file: a lab error naming both', async () => {
      b = await bench({ loadyReports: 1000 });
      const img = hostImage('kernel', testImage(b.dir, 3000));
      await assert.rejects(
        b.loader('ymodem').load(img, ADDR),
        labError(/^loady received 1000 bytes of the kernel, the host file has 3000$/),
      );
    });
  });

  describe('fastboot', () => {
    it('over FASTBOOT_UDP: `fastboot -l ADDR -s SIZE udp`, max-download-size, download, continue; the bytes land at ADDR and crc32 matches', async () => {
      b = await bench();
      const { dev, port } = await b.fastbootDevice();
      b.resources.set(FASTBOOT_UDP, { host: '127.0.0.1', port });
      const file = testImage(b.dir, 70 * 1024 + 11);
      const img = hostImage('kernel', file);
      const l = b.loader('fastboot', { board_ip: '10.0.2.15' });
      assert.equal(l.method, 'fastboot');
      const fig = await l.load(img, ADDR);
      assert.deepEqual(b.typed(), [
        'echo hil-sync',
        'setenv ipaddr 10.0.2.15',
        `fastboot -l ${ADDR} -s 0x${img.size.toString(16)} udp`,
        `crc32 ${ADDR} 0x${img.size.toString(16)}`,
      ]);
      assert.deepEqual(dev.gadget.commands, [
        'getvar:max-download-size',
        `download:${img.size.toString(16).padStart(8, '0')}`,
        'continue',
      ]);
      assert.ok(dev.gadget.exited, 'fastboot was left with continue');
      assert.deepEqual(dev.gadget.received, readFileSync(file));
      assert.deepEqual(b.ram.get(0x40400000), readFileSync(file));
      assert.equal(fig.method, 'fastboot');
      assert.equal(fig.crc32, crcHex(img.crc32));
      assert.equal(fig.verified, true);
      assert.deepEqual((await b.uboot.run('echo after')).output, ['after']);
    });

    it('no host and no FASTBOOT_UDP: a lab error, before anything is typed', async () => {
      b = await bench();
      const img = hostImage('kernel', testImage(b.dir, 100));
      await assert.rejects(
        b.loader('fastboot').load(img, ADDR),
        labError(/^board qemu-virt-aarch64: \[load\.fastboot\] host is not set/),
      );
      assert.deepEqual(b.typed(), ['echo hil-sync']);
    });
  });
});
