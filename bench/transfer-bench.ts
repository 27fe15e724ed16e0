// Transfer figures for npm run bench:
//  - into U-Boot's loady on the virtual board: our sender against lrzsz's `sz --ymodem -k`,
//    the same image into the same U-Boot, alternating, each timed from "Ready for binary"
//    to U-Boot's "Total Size" line and checked with crc32;
//  - through the line simulator into lrzsz's rb at 115200 and 1500000 baud with a 2 ms
//    turnaround, against the line's YMODEM limit.
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBoard } from '../runner/drivers/board.js';
import type { Console } from '../runner/console/console.js';
import '../runner/drivers/index.js';
import { BoardSession } from '../runner/job/session.js';
import { hostImage } from '../runner/transfer/image.js';
import { verifyLoad } from '../runner/transfer/verify.js';
import { YmodemSender } from '../runner/transfer/ymodem.js';
import { programEndpoint, ymodemLineLimit } from '../fixtures/line-sim/line-sim.js';
import { sendToRb } from '../fixtures/line-sim/rb-peer.js';

const f = (n: number, d = 2) => n.toFixed(d);

/** Deterministic pseudo-random bytes (the same image every run). */
function image(size: number): Buffer {
  const b = Buffer.alloc(size);
  let x = 0x12345678;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

async function ours(con: Console, data: Buffer): Promise<void> {
  const sender = new YmodemSender((b) => con.write(b));
  const restore = con.divert((c) => sender.feed(c));
  try {
    await sender.send('bench.bin', data, { dataRequestS: 0 });
  } finally {
    restore();
    con.lines.feed(sender.leftover());
  }
}

async function lrzsz(con: Console, file: string): Promise<void> {
  // sz on a pty of its own (socat), its bytes relayed to and from the board's console. When
  // U-Boot speaks text again ("## Total Size"), the console is handed back and sz, which
  // would wait for a next file, is ended.
  const sz = programEndpoint(`exec sz --ymodem -k -q ${file}`, path.dirname(file));
  sz.onData((d) => void con.write(d));
  let tail = '';
  await new Promise<void>((done) => {
    const restore = con.divert((c) => {
      tail = (tail + c.toString('latin1')).slice(-4096);
      const at = tail.indexOf('## Total Size');
      if (at < 0) return sz.write(c);
      restore();
      con.lines.feed(tail.slice(at));
      done();
    });
    void sz.proc.then(() => done());
  });
  await sz.close();
}

async function intoUBoot(size: number, rounds: number) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hil-bench-ymodem-'));
  const file = path.join(dir, 'bench.bin');
  const data = image(size);
  writeFileSync(file, data);
  const img = hostImage('kernel', file);
  const board = loadBoard('qemu-virt-aarch64');
  const signal = new AbortController().signal;
  const s = new BoardSession(board, { outDir: path.join(dir, 'out'), signal: () => signal, log: () => {}, runId: 'bench' });
  const times: Record<string, number[]> = { ours: [], lrzsz: [] };
  try {
    await s.powerOn();
    const ub = s.uboot;
    await ub.interrupt();
    const once = async (who: 'ours' | 'lrzsz') => {
      await ub.enter('loady ${kernel_addr_r}', 'load');
      await ub.expect([/## Ready for binary \(ymodem\) download/], 'load', 10, 'loady did not start');
      const t0 = performance.now();
      await (who === 'ours' ? ours(s.console, data) : lrzsz(s.console, file));
      await ub.expect([/## Total Size\s*=\s*0x[0-9a-f]+\s*=\s*\d+ Bytes/], 'load', 60, 'no Total Size');
      times[who].push((performance.now() - t0) / 1000);
      await ub.waitPrompt('load');
      await verifyLoad(ub, img, '${kernel_addr_r}', 60);
    };
    const order: ('ours' | 'lrzsz')[][] = [
      ['ours', 'lrzsz'],
      ['lrzsz', 'ours'],
    ];
    for (let i = 0; i < rounds; i++) for (const who of order[i % 2]) await once(who);
  } finally {
    await s.close();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const o = median(times.ours);
  const l = median(times.lrzsz);
  console.log(`\n== YMODEM into U-Boot loady on the virtual board: ${size / 1024} KiB, CRC-32 checked each time (median of ${rounds}) ==`);
  console.log(`lrzsz sz --ymodem -k : ${f(l)} s, ${f(size / l / 1e3, 1)} kB/s  (${times.lrzsz.map((x) => f(x)).join(' ')})`);
  console.log(`our sender           : ${f(o)} s, ${f(size / o / 1e3, 1)} kB/s  (${times.ours.map((x) => f(x)).join(' ')})`);
  console.log(`speed ratio ours / lrzsz: ${f(l / o)} (target >= 1.0)`);
}

async function throughSimulator(baud: number, size: number) {
  const data = image(size);
  const r = await sendToRb('bench.bin', data, { baud, turnaroundMs: 2 });
  if (r.error || !r.received?.equals(data)) throw new Error(`transfer at ${baud} failed: ${r.error?.message ?? 'file differs'}`);
  const limit = ymodemLineLimit(baud, 2);
  const dataRate = size / r.result!.dataS;
  const whole = size / r.result!.seconds;
  console.log(
    `${String(baud).padStart(8)} baud: data blocks ${f(dataRate / 1e3, 1)} kB/s = ${f((dataRate / limit) * 100, 1)} % of the line's limit ${f(limit / 1e3, 1)} kB/s (target >= 90 %); whole transfer with rb's handshakes ${f(whole / 1e3, 1)} kB/s`,
  );
}

export async function transferBench() {
  await intoUBoot(Number(process.env.BENCH_YMODEM_KIB ?? 512) * 1024, Number(process.env.BENCH_YMODEM_ROUNDS ?? 2));
  console.log('\n== YMODEM through the line simulator into lrzsz rb, 2 ms turnaround ==');
  await throughSimulator(115200, 96 * 1024);
  await throughSimulator(1500000, 1024 * 1024);
}
