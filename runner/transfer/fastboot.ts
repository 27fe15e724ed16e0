// fastboot, the host side: one protocol core over a transport (UDP here, USB bulk behind the
// same interface). The wire facts are AOSP's (fastboot's own docs/protocol.md in AOSP and udp.cpp) and
// U-Boot's (drivers/fastboot/fb_command.c, net/fastboot.c of 2023.01):
//   - a command is ASCII (at most 64 bytes); the device answers OKAY<text>, FAIL<text>,
//     INFO<text> (any number, before the final answer) or DATA<8 hex digits>;
//   - download:<8 hex digits> is answered DATA<size>; the host then sends the bytes and the
//     device answers OKAY once it has them all;
//   - over UDP every packet has a 4-byte header: id (0 error, 1 query, 2 init, 3 fastboot),
//     flags (bit 0: more of this message follows), a 16-bit big-endian sequence number.
//     The client asks the device's sequence number (query), agrees a version and packet size
//     (init), then each packet it sends is answered by one from the device, which is how it
//     reads: it sends empty packets until an answer comes. A lost packet is sent again with
//     the same number; the device repeats its last answer for it.
import dgram from 'node:dgram';
import { LabError } from '../errors.js';

/** Bytes to and from a fastboot device: a UDP socket, or a USB device's bulk endpoints. */
export interface FastbootTransport {
  readonly name: string;
  /** The most of a download one write should carry (a UDP packet's room, or a large USB transfer). */
  readonly dataRoom: number;
  /** Sends one message (a command, or a piece of a download). */
  write(data: Buffer): Promise<void>;
  /** Sends a piece of a download's data, where the transport has a faster way than write()
   * (UDP: packets ahead of their answers). */
  writeData?(data: Buffer): Promise<void>;
  /** The device's next message; `waitMs`, when given, is how long it may take (a flash or
   * an erase U-Boot works on before it answers), else the transport's own limit. */
  read(waitMs?: number): Promise<Buffer>;
  close(): Promise<void>;
}

export interface FastbootReply {
  /** OKAY's text (getvar's value). */
  text: string;
  /** The INFO lines that came before it. */
  info: string[];
}

/** A FAIL, or an answer that is none of fastboot's: a lab error naming the command. */
export class FastbootFail extends LabError {
  constructor(
    readonly command: string,
    readonly reply: string,
  ) {
    super('load', `fastboot ${command}: the device said ${reply}`);
  }
}

export class Fastboot {
  constructor(
    readonly t: FastbootTransport,
    private onInfo: (line: string) => void = () => {},
  ) {}

  /** Reads answers until the final one; DATA is final for download. */
  private async answer(
    command: string,
    waitMs?: number,
  ): Promise<{ kind: 'OKAY' | 'DATA'; text: string; info: string[] }> {
    const info: string[] = [];
    for (;;) {
      const m = (await this.t.read(waitMs)).toString('latin1');
      const kind = m.slice(0, 4);
      const text = m.slice(4);
      if (kind === 'INFO') {
        info.push(text);
        this.onInfo(text);
      } else if (kind === 'OKAY' || kind === 'DATA') return { kind, text, info };
      else if (kind === 'FAIL') throw new FastbootFail(command, `FAIL ${text || '(no reason given)'}`);
      else throw new FastbootFail(command, `"${m.slice(0, 80)}", which is not a fastboot answer`);
    }
  }

  /** Runs one command to its OKAY (waiting up to `waitMs` for it, where given). */
  async command(cmd: string, o: { waitMs?: number } = {}): Promise<FastbootReply> {
    if (cmd.length > 64) throw new LabError('load', `fastboot ${cmd.slice(0, 20)}...: a command is at most 64 bytes`);
    await this.t.write(Buffer.from(cmd, 'latin1'));
    const a = await this.answer(cmd, o.waitMs);
    if (a.kind !== 'OKAY') throw new FastbootFail(cmd, `DATA${a.text}, not OKAY`);
    return { text: a.text, info: a.info };
  }

  getvar(name: string): Promise<string> {
    return this.command(`getvar:${name}`).then((r) => r.text);
  }

  /** A partition's size in bytes (getvar:partition-size, which U-Boot answers in hex,
   * `0x0000000000100000`); undefined when the device does not know the name or says no number. */
  async partitionSize(name: string): Promise<number | undefined> {
    let said: string;
    try {
      said = (await this.getvar(`partition-size:${name}`)).trim();
    } catch (e) {
      if (e instanceof FastbootFail) return undefined;
      throw e;
    }
    return /^0x[0-9a-f]+$/i.test(said) ? Number.parseInt(said, 16) : undefined;
  }

  /** Writes what was downloaded last to a partition (by name, a fastboot_raw_partition_*
   * name, `mmc0`, `gpt`, or U-Boot's `dev:part`). U-Boot answers once it has written it
   * all (over UDP with an INFO every 30 s meanwhile): `waitMs` is how long that may take. */
  flash(partition: string, waitMs?: number): Promise<FastbootReply> {
    return this.command(`flash:${partition}`, { waitMs });
  }

  erase(partition: string, waitMs?: number): Promise<FastbootReply> {
    return this.command(`erase:${partition}`, { waitMs });
  }

  /** Boots what was downloaded last (U-Boot: its `fastboot_bootcmd` variable, else bootm). */
  boot(): Promise<FastbootReply> {
    return this.command('boot');
  }

  /** Leaves fastboot: U-Boot goes back to its prompt (or on with its boot). */
  continue(): Promise<FastbootReply> {
    return this.command('continue');
  }

  /** Resets the device once it has answered. */
  reboot(to?: 'bootloader'): Promise<FastbootReply> {
    return this.command(to ? `reboot-${to}` : 'reboot');
  }

  /** How this device runs a U-Boot command, once known (see run()). */
  private runVerb?: string;

  /**
   * Runs a U-Boot command in the device, where it allows it: `UCmd:` (U-Boot's
   * FASTBOOT_UUU_SUPPORT, since 2019) or `oem run:` (FASTBOOT_OEM_RUN, since 2023.04).
   * A command that fails is a FAIL; a device with neither says so.
   */
  async run(cmd: string): Promise<FastbootReply> {
    const verbs = this.runVerb ? [this.runVerb] : ['UCmd:', 'oem run:'];
    for (const verb of verbs) {
      try {
        const r = await this.command(`${verb}${cmd}`);
        this.runVerb = verb;
        return r;
      } catch (e) {
        // U-Boot's answers to a command it was built without: "unrecognized command" (2023.01),
        // "Unsupported command" (later, where the command's entry is there but compiled out).
        if (!(e instanceof FastbootFail && /unrecognized command|unsupported command/i.test(e.reply)) || this.runVerb)
          throw e;
      }
    }
    throw new FastbootFail(
      cmd,
      'FAIL unrecognized command to both UCmd and oem run: this U-Boot runs no commands over fastboot (CONFIG_FASTBOOT_UUU_SUPPORT or CONFIG_FASTBOOT_OEM_RUN)',
    );
  }

  /** download:<size>, the bytes in pieces of `piece`, then the device's OKAY. */
  async download(data: Buffer, piece: number, progress?: (sent: number) => void): Promise<void> {
    const cmd = `download:${data.length.toString(16).padStart(8, '0')}`;
    await this.t.write(Buffer.from(cmd));
    const a = await this.answer(cmd);
    if (a.kind !== 'DATA') throw new FastbootFail(cmd, `OKAY${a.text} where DATA was due`);
    const size = Number.parseInt(a.text, 16);
    if (size !== data.length)
      throw new FastbootFail(cmd, `DATA${a.text}: it will take ${size} bytes, not ${data.length}`);
    for (let o = 0; o < data.length; o += piece) {
      const part = data.subarray(o, Math.min(o + piece, data.length));
      await (this.t.writeData ? this.t.writeData(part) : this.t.write(part));
      progress?.(Math.min(o + piece, data.length));
    }
    const done = await this.answer(`${cmd} (its data)`);
    if (done.kind !== 'OKAY') throw new FastbootFail(cmd, `DATA${done.text} after the data`);
  }
}

/** How many packets of a download's data go out ahead of their answers, unless told (see
 * UdpTransport). */
export const UDP_WINDOW = 8;

const ID = { error: 0, query: 1, init: 2, fastboot: 3 } as const;
const MORE = 0x01;

/**
 * fastboot over UDP (U-Boot's `fastboot udp`, port 5554). Every packet gets one back; a
 * packet unanswered within `timeoutMs` is sent again, `tries` times.
 *
 * AOSP's protocol says stop and wait ("no windowing of multiple unacknowledged packets"),
 * and its client does that: 16 MiB is 16,448 round trips, and the round trip is all a
 * download costs. But U-Boot's receiver (net/fastboot.c) takes any packet under the number it
 * expects next, answers it and moves on, drops one under another number, and repeats its
 * last answer when asked under the number before. So a download's data may go out `window`
 * packets ahead, go-back-N: the device's packets arrive in order, each is answered as it is
 * taken, and an answer counts for every packet up to its number (the one before may be lost
 * on the way). When a packet goes unanswered, everything unanswered is sent again (the device
 * repeats only its latest answer, under the number before the one it expects) and the window
 * halves for the rest of the session, down to stop and wait for a device that drops what
 * comes while it works. Commands, and everything that is not a download's data, stay stop
 * and wait: an answer there carries text that must not be skipped.
 *
 * Nothing but the wire sits in the round trip: the next packet leaves from inside the
 * handler of the answer before, with no promise, timer or event-loop turn per packet (one
 * timer per message, refreshed).
 */
export class UdpTransport implements FastbootTransport {
  private seq = 0;
  private packetSize = 512;
  /** What an answer does, while packets are in flight (`inFlight` of them from `seq`). */
  private onAnswer?: (msg: Buffer) => void;
  private inFlight = 0;
  readonly name: string;
  private lastError?: string;

  private constructor(
    private sock: dgram.Socket,
    readonly host: string,
    readonly port: number,
    private timeoutMs: number,
    private tries: number,
    private signal?: AbortSignal,
    /** How many packets of a download's data may be out unanswered (1: stop and wait); it
     * halves each time a packet goes unanswered. */
    private windowNow = 1,
  ) {
    this.name = `udp:${host}:${port}`;
    // A connected UDP socket hears the ICMP "port unreachable" as an error: nothing listens
    // there (yet). It counts as a try without an answer, and is said at the end.
    sock.on('error', (e: NodeJS.ErrnoException) => {
      this.lastError = e.code ?? e.message;
    });
    sock.on('message', (msg: Buffer) => {
      // Only an answer to a packet in flight; a late copy of an earlier answer, or one the
      // device sent ahead under a number not asked yet (after an INFO, see the unit test), is
      // dropped: the device repeats its last answer when that number is asked.
      if (msg.length >= 4 && this.onAnswer && ((msg.readUInt16BE(2) - this.seq) & 0xffff) < this.inFlight)
        this.onAnswer(msg);
    });
  }

  /** Connects: the device's sequence number (query), then the version and packet size (init). */
  static async open(
    host: string,
    port: number,
    o: { timeoutMs?: number; tries?: number; signal?: AbortSignal; window?: number } = {},
  ): Promise<UdpTransport> {
    const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.connect(port, host, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    const t = new UdpTransport(sock, host, port, o.timeoutMs ?? 500, o.tries ?? 10, o.signal, o.window ?? UDP_WINDOW);
    try {
      const [q] = (await t.send(ID.query, Buffer.alloc(0))).map((a) => a.subarray(4));
      if (!q || q.length < 2)
        throw new LabError('load', `fastboot ${t.name}: the device's answer to the query carries no sequence number`);
      t.seq = q.readUInt16BE(0);
      const hello = Buffer.alloc(4);
      hello.writeUInt16BE(1, 0); // protocol version 1
      hello.writeUInt16BE(2048, 2); // the largest packet we take; the device says its own
      const [init] = (await t.send(ID.init, hello)).map((a) => a.subarray(4));
      if (!init || init.length < 4)
        throw new LabError(
          'load',
          `fastboot ${t.name}: the device's answer to init carries no version and packet size`,
        );
      const version = init.readUInt16BE(0);
      if (version < 1)
        throw new LabError('load', `fastboot ${t.name}: the device speaks UDP protocol version ${version}`);
      t.packetSize = Math.min(2048, init.readUInt16BE(2));
      if (t.packetSize < 5)
        throw new LabError('load', `fastboot ${t.name}: the device takes packets of ${t.packetSize} bytes`);
    } catch (e) {
      sock.close();
      throw e;
    }
    return t;
  }

  /**
   * Sends `payload` as one message of packets of kind `id` (the MORE flag on all but the
   * last), up to `window` of them unanswered at a time (see the class), and resolves with the
   * answers taken (whole packets: header and data). Unanswered packets are sent again,
   * `tries` times.
   */
  private send(id: number, payload: Buffer, o: { tries?: number; window?: number } = {}): Promise<Buffer[]> {
    const tries = o.tries ?? this.tries;
    const room = this.packetSize - 4;
    const count = Math.max(1, Math.ceil(payload.length / room));
    /** Packet `i`, under the number `seq` names for it (`seq` is the first unanswered one's). */
    const packet = (i: number): Buffer => {
      const piece = payload.subarray(i * room, (i + 1) * room);
      const p = Buffer.allocUnsafe(4 + piece.length);
      p[0] = id;
      p[1] = i < count - 1 ? MORE : 0;
      p.writeUInt16BE((this.seq + i - first) & 0xffff, 2);
      piece.copy(p, 4);
      return p;
    };
    const ahead = o.window ?? 1;
    let window = Math.min(ahead, count);
    /** Packets [first, next) are out, unanswered. */
    let first = 0;
    let next = 0;
    const fill = () => {
      for (; next < count && next - first < window; next++) this.sock.send(packet(next));
      this.inFlight = next - first;
    };
    return new Promise<Buffer[]>((resolve, reject) => {
      const answers: Buffer[] = [];
      let attempt = 1;
      const finish = (e?: unknown) => {
        clearTimeout(timer);
        this.onAnswer = undefined;
        this.inFlight = 0;
        this.signal?.removeEventListener('abort', onAbort);
        if (e === undefined) resolve(answers);
        else reject(e);
      };
      const onAbort = () => finish(this.signal!.reason);
      const timer = setTimeout(() => {
        if (++attempt > tries) {
          const heard =
            this.lastError === 'ECONNREFUSED' ? ', the port unreachable' : this.lastError ? `, ${this.lastError}` : '';
          // A device that went silent in the middle of a download, packets sent ahead, may be one
          // whose network driver stalls when packets come faster than it frees its buffers.
          const hint =
            ahead > 1
              ? `it went silent with ${ahead} packets sent ahead: try udp_window = 1 in [load.fastboot]`
              : 'is U-Boot running `fastboot udp`, and the port forwarded?';
          return finish(
            new LabError(
              'load',
              `fastboot ${this.name}: no answer to packet ${this.seq} after ${tries} tries ${this.timeoutMs} ms apart${heard} (${hint})`,
            ),
          );
        }
        for (let i = first; i < next; i++) this.sock.send(packet(i));
        if (window > 1) this.windowNow = window = window >> 1;
        timer.refresh();
      }, this.timeoutMs);
      this.onAnswer = (msg) => {
        if (msg[0] === ID.error)
          return finish(
            new LabError(
              'load',
              `fastboot ${this.name}: the device answered with an error packet: ${msg.subarray(4).toString('latin1')}`,
            ),
          );
        if (msg[0] !== id)
          return finish(
            new LabError('load', `fastboot ${this.name}: answer of kind ${msg[0]} to a packet of kind ${id}`),
          );
        // The device takes packets in order: its answer to one says it has every one before.
        const taken = ((msg.readUInt16BE(2) - this.seq) & 0xffff) + 1;
        this.seq = (this.seq + taken) & 0xffff;
        first += taken;
        answers.push(msg);
        if (first === count) return finish();
        attempt = 1;
        fill();
        timer.refresh();
      };
      if (this.signal?.aborted) return finish(this.signal.reason);
      this.signal?.addEventListener('abort', onAbort, { once: true });
      fill();
    });
  }

  /** Data the device sent with its answers, not yet read. */
  private inbox: Buffer[] = [];

  async write(data: Buffer): Promise<void> {
    for (const a of await this.send(ID.fastboot, data)) if (a.length > 4) this.inbox.push(a.subarray(4));
  }

  /** A download's data: `window` packets ahead (see the class). */
  async writeData(data: Buffer): Promise<void> {
    for (const a of await this.send(ID.fastboot, data, { window: this.windowNow }))
      if (a.length > 4) this.inbox.push(a.subarray(4));
  }

  async read(waitMs?: number): Promise<Buffer> {
    // A device busy with a long command (U-Boot writing a partition) answers nothing until
    // done: the empty packet asking for the answer is sent again for as long as it may take.
    const tries = waitMs ? Math.max(this.tries, Math.ceil(waitMs / this.timeoutMs)) : this.tries;
    const parts: Buffer[] = [];
    for (;;) {
      const queued = this.inbox.shift();
      if (queued) return queued;
      const [got] = await this.send(ID.fastboot, Buffer.alloc(0), { tries });
      if (got!.length > 4) {
        parts.push(got!.subarray(4));
        if (!(got![1]! & MORE)) return Buffer.concat(parts);
      }
    }
  }

  /** The most of a download one writeData() carries: many packets, sent as the answers come
   * (a piece per packet would cost a promise per packet, and each call drains the window). */
  readonly dataRoom = 256 * 1024;

  /** How many packets of a download's data go out ahead of their answers now. */
  get window(): number {
    return this.windowNow;
  }

  /** The device's packet size, less the header: the most one packet carries. */
  get packetRoom(): number {
    return this.packetSize - 4;
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => this.sock.close(() => r()));
  }
}

/**
 * fastboot over USB (U-Boot's `fastboot usb 0`, drivers/usb/gadget/f_fastboot.c): a command
 * is one bulk OUT transfer, each answer one bulk IN transfer of at most 64 bytes, and a
 * download's data goes out in bulk transfers of any size (U-Boot takes it 4 KiB a request).
 */
export class UsbTransport implements FastbootTransport {
  constructor(private link: import('../usb/usb.js').UsbLink) {}

  get name(): string {
    return this.link.name;
  }

  /** A download's piece: large transfers, USB splits them into packets itself. */
  readonly dataRoom = 1024 * 1024;

  write(data: Buffer): Promise<void> {
    return this.link.bulkOut(data);
  }

  read(waitMs?: number): Promise<Buffer> {
    return this.link.bulkIn(64, waitMs);
  }

  close(): Promise<void> {
    return this.link.close();
  }
}
