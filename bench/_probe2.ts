import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { execa } from 'execa';
import os from 'node:os';
import path from 'node:path';
const origR = fs.readSync, origW = fs.writeSync;
const reads: bigint[] = []; const wstart: bigint[] = []; const writes: bigint[] = []; const readEnter: bigint[] = [];
(fs as any).readSync = (...a: any[]) => { const t0 = process.hrtime.bigint(); const n = (origR as any)(...a); if (n === 1 && a[1][a[2]] === 6) { readEnter.push(t0); reads.push(process.hrtime.bigint()); } return n; };
(fs as any).writeSync = (...a: any[]) => { const t = process.hrtime.bigint(); const n = (origW as any)(...a); if (a[1]?.length === 1029) { writes.push(process.hrtime.bigint()); wstart.push(t); } return n; };
syncBuiltinESMExports();
const { Console } = await import('../runner/console/console.js');
const { Transcript } = await import('../runner/console/transcript.js');
const { openSerial } = await import('../runner/drivers/console/serial.js');
const { YmodemSender } = await import('../runner/transfer/ymodem.js');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'probe-'));
const link = path.join(dir, 'tty');
const proc = execa('python3', ['/tmp/scratch/probe-line.py', link, '1500000', '2', dir, '--', 'rb', '-y', '-q'], { reject: false });
while (!fs.existsSync(link)) await new Promise((r) => setTimeout(r, 10));
const con = new Console(await openSerial(link, 1500000, { appearS: 5 }), new Transcript(path.join(dir, 'c')));
const sender = new YmodemSender((b) => con.write(b));
con.divert((d) => sender.feed(d));
await sender.send('x.bin', Buffer.alloc(512 * 1024, 7), { startTimeoutS: 15, window: 1 });
const r = await proc;
await con.close();
const fig = JSON.parse(String(r.stdout).trim().split('\n').pop()!);
const ackw: number[] = fig.ackw, starts: number[] = fig.starts;
const med = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return [s[s.length >> 1], s[Math.floor(s.length * 0.9)]].map((x) => (x / 1000).toFixed(1)); };
// pair each ack write (py) with the next node read entry, the next node write, the next py start
const rd: number[] = [], js: number[] = [], ws: number[] = []; const wake: number[] = [], inNode: number[] = [], back: number[] = [];
for (const a of ackw) {
  const re = readEnter.find((t) => Number(t) > a); const w = writes.find((t) => Number(t) > a); const s = starts.find((t) => t > a);
  if (!re || !w || !s) continue;
  wake.push(Number(re) - a); const i = readEnter.indexOf(re); const k = writes.indexOf(w); rd.push(Number(reads[i] - re)); js.push(Number(wstart[k] - reads[i])); ws.push(Number(w - wstart[k])); inNode.push(Number(w - re)); back.push(s - Number(w));
}
console.log('read', med(rd), 'js', med(js), 'write', med(ws)); console.log('py ack write -> node read (us)', med(wake), 'node read->write done', med(inNode), 'node write -> py sees', med(back), fig.reaction_ms);
