// A console over telnet with RFC 2217 (the COM-PORT-OPTION), as ser2net exports a port with
// `accepter: telnet(rfc2217),tcp,PORT` and labgrid's exporter does. Telnet is a byte
// stream with commands in band: 0xFF (IAC) starts a command, and a data byte 0xFF travels
// as IAC IAC. So every byte we send is escaped and every byte we read unescaped, or a
// binary transfer (YMODEM) through it would be corrupted. We ask for binary mode both
// ways (RFC 856: no CR/NUL stuffing) and announce the COM-PORT-OPTION, which lets the line
// speed be set from here: `loady ADDR BAUD` switches the UART of the board and of ser2net.
import { z } from 'zod';
import { LabError } from '../../errors.js';
import type { ConsolePort } from '../../console/port.js';
import { reattaching } from '../../console/reattach.js';
import { defineConsole } from '../registry.js';
import { baud } from './serial.js';
import { reach, socketPort, tcpSettings } from './tcp.js';

export const IAC = 255,
  DONT = 254,
  DO = 253,
  WONT = 252,
  WILL = 251,
  SB = 250,
  SE = 240;
export const BINARY = 0,
  SGA = 3,
  COM_PORT = 44;
/** COM-PORT-OPTION subcommands, client to server; the server answers with +100. */
export const SET_BAUDRATE = 1;

/** Telnet's in-band framing for one connection: escaping out, option talk and unescaping in. */
export class TelnetCodec {
  private state: 'data' | 'iac' | 'option' | 'sb' | 'sb-iac' = 'data';
  private verb = 0;
  private sub: number[] = [];
  /** Called with each subnegotiation the server sends (option, bytes). */
  onSubnegotiation?: (option: number, data: number[]) => void;

  constructor(private reply: (bytes: Buffer) => void) {}

  /** What we say first: binary both ways, suppress go-ahead, and the COM-PORT-OPTION. */
  hello(): Buffer {
    return Buffer.from([IAC, WILL, BINARY, IAC, DO, BINARY, IAC, WILL, SGA, IAC, DO, SGA, IAC, WILL, COM_PORT]);
  }

  encode(data: Buffer): Buffer {
    if (!data.includes(IAC)) return data;
    const out: number[] = [];
    for (const b of data) {
      out.push(b);
      if (b === IAC) out.push(IAC);
    }
    return Buffer.from(out);
  }

  decode(chunk: Buffer): Buffer {
    if (this.state === 'data' && !chunk.includes(IAC)) return chunk;
    const out: number[] = [];
    for (const b of chunk) {
      switch (this.state) {
        case 'data':
          if (b === IAC) this.state = 'iac';
          else out.push(b);
          break;
        case 'iac':
          if (b === IAC) {
            out.push(IAC);
            this.state = 'data';
          } else if (b === SB) {
            this.sub = [];
            this.state = 'sb';
          } else if (b >= WILL && b <= DONT) {
            this.verb = b;
            this.state = 'option';
          } else {
            this.state = 'data'; // NOP, GA, ...: nothing to do
          }
          break;
        case 'option':
          this.answer(this.verb, b);
          this.state = 'data';
          break;
        case 'sb':
          if (b === IAC) this.state = 'sb-iac';
          else this.sub.push(b);
          break;
        case 'sb-iac':
          if (b === SE) {
            const [option, ...data] = this.sub;
            this.onSubnegotiation?.(option, data);
            this.state = 'data';
          } else {
            this.sub.push(b); // IAC IAC inside a subnegotiation is one 0xFF
            this.state = 'sb';
          }
          break;
      }
    }
    return Buffer.from(out);
  }

  private agreed = new Set<string>();

  /** Agrees to what we asked for (binary, go-ahead suppressed, COM-PORT), refuses the rest. */
  private answer(verb: number, option: number): void {
    const wanted = option === BINARY || option === SGA || option === COM_PORT;
    const key = `${verb}:${option}`;
    if (this.agreed.has(key)) return; // already answered: no negotiation loops
    this.agreed.add(key);
    if (verb === DO) this.reply(Buffer.from([IAC, wanted ? WILL : WONT, option]));
    else if (verb === WILL) this.reply(Buffer.from([IAC, wanted ? DO : DONT, option]));
  }

  /** IAC SB COM-PORT-OPTION SET-BAUDRATE <4 bytes big endian> IAC SE (escaped). */
  setBaudrate(rate: number): Buffer {
    const value = [(rate >>> 24) & 0xff, (rate >>> 16) & 0xff, (rate >>> 8) & 0xff, rate & 0xff];
    const body = [COM_PORT, SET_BAUDRATE, ...value].flatMap((b) => (b === IAC ? [IAC, IAC] : [b]));
    return Buffer.from([IAC, SB, ...body, IAC, SE]);
  }
}

export const rfc2217Console = defineConsole({
  kind: 'rfc2217',
  summary: "telnet with RFC 2217 (ser2net's `accepter: telnet(rfc2217),tcp,PORT`): host, port, baud",
  notes:
    '`baud` is set through the COM-PORT option; `via` as `tcp`; 0xFF bytes are escaped both ways, so YMODEM goes through it',
  settings: z
    .object({
      ...tcpSettings,
      /** The speed asked of the serial side when connecting; omitted, the server's. */
      baud: baud.optional(),
      /** Seconds to wait for the server to confirm a speed change. */
      baud_timeout: z.number().positive().default(2),
    })
    .strict(),
  open: async (s, ctx) => {
    type Settings = typeof s;
    const once = async (o: Settings, signal?: AbortSignal): Promise<ConsolePort> => {
      const { stream: sock, name } = await reach(o, ctx, 'rfc2217', signal);
      const codec = new TelnetCodec((b) => sock.write(b));
      const port = socketPort(sock, name, codec);
      let confirm: ((rate: number) => void) | null = null;
      codec.onSubnegotiation = (option, data) => {
        // SET-BAUDRATE answered (101) with the speed now in use.
        if (option === COM_PORT && data[0] === SET_BAUDRATE + 100 && data.length >= 5) {
          confirm?.(((data[1] << 24) | (data[2] << 16) | (data[3] << 8) | data[4]) >>> 0);
        }
      };
      sock.write(codec.hello());
      const setBaud = (rate: number) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            confirm = null;
            reject(
              new LabError(
                'console',
                `the console server ${port.name} did not confirm ${rate} baud within ${o.baud_timeout} s (does it offer RFC 2217?)`,
              ),
            );
          }, o.baud_timeout * 1000);
          confirm = () => {
            clearTimeout(timer);
            confirm = null;
            resolve();
          };
          sock.write(codec.setBaudrate(rate));
        });
      if (o.baud) await setBaud(o.baud);
      return { ...port, setBaud };
    };
    const first = await once(s);
    // A connection made again (ser2net restarted) asks for the speed in use then: the
    // board's, or the one a transfer switched to (reattach.ts sets it again).
    return reattaching(first, {
      seconds: ctx.board.console.reattach_timeout ?? 0,
      label: `the console connection ${first.name}`,
      verb: 'reconnected',
      reopen: (leftS, signal) => once({ ...s, connect_timeout: Math.min(leftS, s.connect_timeout) }, signal),
    });
  },
});
