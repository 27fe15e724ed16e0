// Transfer figures for npm run bench (each a median of `rounds`, the senders alternated in
// rotating order in one run):
//  - into U-Boot's loady on the virtual board: our sender as loady's loader sends (blocks a
//    window ahead of U-Boot's answers), our sender stop and wait, and lrzsz's
//    `sz --ymodem -k`, the same image into the same U-Boot, each timed from "Ready for binary"
//    to U-Boot's "Total Size" line and checked with crc32;
//  - through the bench's line (fixtures/line-sim/bench-line.py: 1500000 and 115200 baud, a
//    2 ms turnaround) into lrzsz's rb: our sender (stop and wait: rb takes no block sent
//    ahead) and lrzsz's sz, the data blocks timed by the line, against the line's YMODEM
//    limit (1024 bytes per block time plus one turnaround).
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { programEndpoint, ymodemLineLimit } from '../fixtures/line-sim/line-sim.js';
import { oursThroughLine, szThroughLine } from '../fixtures/line-sim/bench-line.js';
import { loadBoard } from '../runner/drivers/board.js';
import type { Console } from '../runner/console/console.js';
import '../runner/drivers/index.js';
import { ymodemLoad } from '../runner/drivers/load/ymodem.js';
import { BoardSession } from '../runner/job/session.js';
import { hostImage } from '../runner/transfer/image.js';
import { verifyLoad } from '../runner/transfer/verify.js';
import { YmodemSender } from '../runner/transfer/ymodem.js';
import { keep } from './table.js';

const f = (n: number, d = 2) => n.toFixed(d);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

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

async function ours(con: Console, data: Buffer, window: number): Promise<void> {
  const sender = new YmodemSender((b) => con.write(b));
  const restore = con.divert((c) => sender.feed(c));
  try {
    const r = await sender.send('bench.bin', data, { dataRequestS: 0, window });
    if (r.fellBackAt)
      throw new Error(`bench: U-Boot did not keep up with ${window} blocks in flight (block ${r.fellBackAt})`);
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

async function intoUBoot(size: number, rounds: number): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hil-bench-ymodem-'));
  const file = path.join(dir, 'bench.bin');
  const data = image(size);
  writeFileSync(file, data);
  const img = hostImage('kernel', file);
  const board = loadBoard('qemu-virt-aarch64');
  const window: number = ymodemLoad.settings.parse({}).window;
  const signal = new AbortController().signal;
  const s = new BoardSession(board, {
    outDir: path.join(dir, 'out'),
    signal: () => signal,
    log: () => {},
    runId: 'bench',
  });
  const senders = ['ours', 'stop-and-wait', 'lrzsz'] as const;
  const times: Record<(typeof senders)[number], number[]> = { ours: [], 'stop-and-wait': [], lrzsz: [] };
  try {
    await s.powerOn();
    const ub = s.uboot;
    await ub.interrupt();
    const once = async (who: (typeof senders)[number]) => {
      await ub.enter('loady ${kernel_addr_r}', 'load');
      await ub.expect([/## Ready for binary \(ymodem\) download/], 'load', 10, 'loady did not start');
      const t0 = performance.now();
      if (who === 'lrzsz') await lrzsz(s.console, file);
      else await ours(s.console, data, who === 'ours' ? window : 1);
      await ub.expect([/## Total Size\s*=\s*0x[0-9a-f]+\s*=\s*\d+ Bytes/], 'load', 600, 'no Total Size');
      times[who].push((performance.now() - t0) / 1000);
      await ub.waitPrompt('load');
      await verifyLoad(ub, img, '${kernel_addr_r}', 60);
    };
    for (let i = 0; i < rounds; i++)
      for (let j = 0; j < senders.length; j++) await once(senders[(i + j) % senders.length]!);
  } finally {
    await s.close();
  }
  const rate = (t: number) => `${f(size / t / 1e3, 1)} kB/s`;
  const all = (k: (typeof senders)[number]) => times[k].map((x) => f(size / x / 1e3, 1)).join(' ');
  const [o, w, l] = [median(times.ours), median(times['stop-and-wait']), median(times.lrzsz)];
  console.log(
    `\n== YMODEM into U-Boot loady on the virtual board: ${size / 1024} KiB, CRC-32 checked each time (median of ${rounds}, rotating order) ==`,
  );
  console.log(`lrzsz sz --ymodem -k          : ${f(l)} s, ${rate(l)}  (kB/s: ${all('lrzsz')})`);
  console.log(`ours, stop and wait           : ${f(w)} s, ${rate(w)}  (kB/s: ${all('stop-and-wait')})`);
  console.log(`ours, ${window} blocks in flight (loady's) : ${f(o)} s, ${rate(o)}  (kB/s: ${all('ours')})`);
  keep({
    name: `YMODEM into U-Boot loady: speed, ours / lrzsz`,
    value: l / o,
    unit: 'x',
    target: { op: '>=', value: 2 },
    detail: `ours ${rate(o)}, lrzsz ${rate(l)}`,
  });
  keep({
    name: `YMODEM into U-Boot loady: stop and wait / lrzsz`,
    value: l / w,
    unit: 'x',
    detail: `ours stop and wait ${rate(w)}`,
  });
}

async function throughLine(baud: number, size: number, rounds: number): Promise<void> {
  const data = image(size);
  const limit = ymodemLineLimit(baud, 2);
  const runs: Record<'ours' | 'sz', { rate: number; reaction: number }[]> = { ours: [], sz: [] };
  for (let i = 0; i < rounds; i++) {
    for (const who of i % 2 ? (['sz', 'ours'] as const) : (['ours', 'sz'] as const)) {
      const r = await (who === 'ours' ? oursThroughLine : szThroughLine)('bench.bin', data, baud, 2);
      runs[who].push({ rate: size / r.seconds, reaction: r.reaction_ms.median });
    }
  }
  const pct = (who: 'ours' | 'sz') => (median(runs[who].map((r) => r.rate)) / limit) * 100;
  const react = (who: 'ours' | 'sz') => median(runs[who].map((r) => r.reaction));
  const all = (who: 'ours' | 'sz') => runs[who].map((r) => f((r.rate / limit) * 100, 1)).join(' ');
  console.log(
    `${String(baud).padStart(8)} baud, ${size / 1024} KiB: ours ${f(pct('ours'), 1)} % of the line's limit ${f(limit / 1e3, 1)} kB/s (${all('ours')}), answering an ACK in ${f(react('ours'), 3)} ms; lrzsz's sz ${f(pct('sz'), 1)} % (${all('sz')}), in ${f(react('sz'), 3)} ms`,
  );
  const name = `YMODEM through the line at ${baud} baud, 2 ms turnaround`;
  keep({
    name: `${name}: % of its limit`,
    value: pct('ours'),
    unit: '%',
    target: { op: '>=', value: 95 },
    detail: `ours ${f((pct('ours') * limit) / 100 / 1e3, 1)} kB/s of ${f(limit / 1e3, 1)}`,
  });
  keep({
    name: `${name}: lrzsz's sz, % of its limit`,
    value: pct('sz'),
    unit: '%',
    detail: `sz ${f((pct('sz') * limit) / 100 / 1e3, 1)} kB/s`,
  });
}

export async function transferBench(rounds: number): Promise<void> {
  await intoUBoot(
    Number(process.env.BENCH_YMODEM_KIB ?? 512) * 1024,
    Number(process.env.BENCH_YMODEM_ROUNDS ?? rounds),
  );
  console.log(
    `\n== YMODEM through the bench's line (bench-line.py) into lrzsz rb, 2 ms turnaround, the line timing the data blocks (median of ${rounds}, alternated) ==`,
  );
  await throughLine(1500000, 512 * 1024, rounds);
  await throughLine(115200, 48 * 1024, rounds);
}
