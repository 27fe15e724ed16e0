// A console flood, as a whole run: the shipped hello case (with its QEMU baseline) on the
// virtual board, its console a serial port through the line simulator, which after U-Boot's
// hand-off pours FLOOD_MB of console lines that match nothing (a line of 96 KiB among them
// now and then), then the case's marker. What the run pays: the runner's peak resident
// memory (its own maxRSS, printed by a preload hook as it exits; it must stay bounded,
// under 400 MB at 1 GB) and the rate it took the flood at; console.log must hold every
// byte. FLOOD_MB (default 1000) sets the size.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { parse, stringify } from 'smol-toml';
import { FaultLine } from '../fixtures/line-sim/fault-line.js';
import { projectRoot } from '../runner/config/paths.js';

const hil = path.join(projectRoot, 'bin', 'hil.js');
const rssHook = path.join(projectRoot, 'bench', 'maxrss-hook.mjs');

function derive(base: string, change: (d: any) => void, file: string): string {
  const d = parse(readFileSync(base, 'utf8')) as any;
  change(d);
  writeFileSync(file, stringify(d));
  return file;
}

export async function floodBench(): Promise<void> {
  const mb = Number(process.env.FLOOD_MB ?? 1000);
  const bytes = mb * 1000 * 1000;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hil-bench-flood-'));
  const hostLink = path.join(dir, 'ttyUSB-board');
  const boardLink = path.join(dir, 'qemu-pty');
  const out = path.join(dir, 'out');
  const line = await FaultLine.start(hostLink, boardLink, { flood: { bytes, last: 'hil-flood: done' } });
  try {
    const board = derive(
      path.join(projectRoot, 'boards', 'qemu-virt-aarch64.toml'),
      (d) => {
        d.console = { kind: 'serial', port: hostLink, baud: 115200 };
        d.power.pty_link = boardLink;
      },
      path.join(dir, 'board.toml'),
    );
    const suite = path.join(projectRoot, 'suites', 'virtual-board');
    const theCase = derive(
      path.join(suite, 'hello.toml'),
      (d) => {
        d.images.kernel = path.join(suite, d.images.kernel);
        d.qemu_case = path.join(suite, d.qemu_case);
        d.success_regex = ['^hil-flood: done'];
        d.timeout = 3600;
      },
      path.join(dir, 'hello.toml'),
    );
    const t0 = performance.now();
    const r = await execa(
      'node',
      ['--import', rssHook, hil, 'run', '--board', board, '--suite', theCase, '--out', out, '--no-history'],
      {
        reject: false,
        env: { HIL_LEASE_DIR: path.join(dir, 'leases') },
      },
    );
    const s = (performance.now() - t0) / 1000;
    const kb = Number(/maxrss (\d+)/.exec(String(r.stderr))?.[1]);
    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    const c = results.cases[0];
    const logSize = statSync(path.join(out, c.transcript, 'console.log')).size;
    console.log(
      `\n== a console flood: ${mb} MB of console lines after the hand-off, then the marker (the hello case with its baseline, through the line simulator) ==`,
    );
    console.log(
      `verdict    : ${c.verdict}${c.reason ? ` (${c.reason})` : ''}, exit ${r.exitCode}, in ${s.toFixed(1)} s (${(line.stats.flooded / 1e6 / c.phases.guest).toFixed(1)} MB/s in the guest phase)`,
    );
    console.log(`peak RSS   : ${(kb / 1024).toFixed(0)} MB (bound: 400 MB at 1 GB)`);
    console.log(
      `transcript : console.log ${logSize} bytes, ${logSize === line.stats.bytesToRunner ? 'every byte sent' : `BUT ${line.stats.bytesToRunner} were sent`}`,
    );
  } finally {
    await line.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
