import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
const origR = fs.readSync, origW = fs.writeSync;
const reads: number[] = []; const writes: number[] = [];
(fs as any).readSync = (...a: any[]) => { const n = (origR as any)(...a); if (n === 1 && a[1][a[2]] === 6) reads.push(performance.now()); return n; };
(fs as any).writeSync = (...a: any[]) => { const t = performance.now(); const n = (origW as any)(...a); if (a[1]?.length === 1029) writes.push(t); return n; };
syncBuiltinESMExports();
const { oursThroughLine } = await import('../fixtures/line-sim/bench-line.js');
const b = Buffer.alloc(512 * 1024, 7);
const r = await oursThroughLine('x.bin', b, 1500000, 2);
console.log(r, reads.length, writes.length);
const d: number[] = [];
let j = 0;
for (const t of reads) { while (j < writes.length && writes[j] < t) j++; if (j < writes.length) d.push(writes[j] - t); }
d.sort((a, b) => a - b);
console.log('in-node read->write ms median', d[d.length >> 1], 'p90', d[Math.floor(d.length * 0.9)]);
