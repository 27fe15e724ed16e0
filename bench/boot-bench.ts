// The Linux shell case on the virtual board, timed as users pay for it: each variant is a
// whole process, from its start to its exit (Node or Python start-up, loading, power-on,
// U-Boot, TFTP, boot, the shell command, power-off, the results written), alternated in
// rotating order, median of N rounds:
//   - the bare scripted minimum (bench/minimal-boot.mjs: no checks, no records);
//   - labgrid 0.4 (Debian's package) driving the same board (bench/labgrid-boot.py);
//   - `hil run` with the shipped board, and with CRC-32 verification off (what the two
//     references do not do either).
// Every variant boots the same images on the same QEMU, without the SD card the runner's
// board has (the references have none).
import { execa } from 'execa';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'smol-toml';
import { projectRoot } from '../runner/config/paths.js';
import { keep } from './table.js';

const f = (n: number, d = 3) => n.toFixed(d);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The virtual board without its SD card, CRC-32 verification as given. */
function benchBoard(dir: string, verify: boolean): string {
  const doc = parse(readFileSync(path.join(projectRoot, 'boards', 'qemu-virt-aarch64.toml'), 'utf8')) as any;
  const args: string[] = doc.power.args;
  const keep: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const next = args[i + 1] ?? '';
    if (
      (args[i] === '-drive' && next.includes('{disk}')) ||
      (args[i] === '-device' && next.startsWith('virtio-blk-device'))
    )
      i++;
    else keep.push(args[i]);
  }
  doc.power.args = keep;
  delete doc.power.disk;
  delete doc.storage;
  doc.load.verify = verify;
  const file = path.join(dir, `bench-board-${verify ? 'verify' : 'noverify'}.toml`);
  writeFileSync(file, stringify(doc));
  return file;
}

/** Seconds from a process's start to its exit; it must succeed. */
async function timed(cmd: string, args: string[]): Promise<number> {
  const t0 = performance.now();
  const r = await execa(cmd, args, { cwd: projectRoot, reject: false, all: true });
  const s = (performance.now() - t0) / 1000;
  if (r.exitCode !== 0) throw new Error(`bench: ${cmd} ${args.join(' ')} exited ${r.exitCode}:\n${r.all}`);
  return s;
}

export async function bootBench(rounds: number): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hil-bench-boot-'));
  const kernel = path.join(projectRoot, 'fixtures/linux/out/Image');
  const initrd = path.join(projectRoot, 'fixtures/linux/out/initramfs.cpio.gz');
  const theCase = path.join(projectRoot, 'suites/virtual-board/linux-shell.toml');
  const boards = { verify: benchBoard(dir, true), noverify: benchBoard(dir, false) };
  let n = 0;
  const hil = (board: string) => () =>
    timed('node', [
      path.join(projectRoot, 'bin/hil.js'),
      'run',
      '-b',
      board,
      '-s',
      theCase,
      '--out',
      path.join(dir, `run-${++n}`),
      '--history',
      path.join(dir, 'history'),
    ]);
  const variants: [string, () => Promise<number>][] = [
    ['minimum', () => timed('node', [path.join(projectRoot, 'bench/minimal-boot.mjs'), kernel, initrd])],
    ['labgrid', () => timed('/usr/bin/python3', [path.join(projectRoot, 'bench/labgrid-boot.py'), kernel, initrd])],
    ['hil-noverify', hil(boards.noverify)],
    ['hil', hil(boards.verify)],
  ];
  const times: Record<string, number[]> = Object.fromEntries(variants.map(([k]) => [k, []]));
  for (const [, run] of variants) await run(); // warm-up: page cache, QEMU and Python
  for (let i = 0; i < rounds; i++) {
    for (let j = 0; j < variants.length; j++) {
      const [name, run] = variants[(i + j) % variants.length];
      times[name].push(await run());
    }
  }
  const m = (k: string) => median(times[k]);
  const all = (k: string) => times[k].map((x) => f(x, 2)).join(' ');
  console.log(`\n== Linux shell case on the virtual board, whole processes (median of ${rounds}, rotating order) ==`);
  console.log(`bare scripted minimum         : ${f(m('minimum'))} s  (${all('minimum')})`);
  console.log(`labgrid 0.4                   : ${f(m('labgrid'))} s  (${all('labgrid')})`);
  console.log(`hil run, CRC-32 checks off    : ${f(m('hil-noverify'))} s  (${all('hil-noverify')})`);
  console.log(`hil run, as shipped (checked) : ${f(m('hil'))} s  (${all('hil')})`);
  console.log(`  hil (checks off) / minimum : ${f(m('hil-noverify') / m('minimum'))}  (target <= 1.05)`);
  console.log(`  hil (checks off) / labgrid : ${f(m('hil-noverify') / m('labgrid'))}  (target <= 1.00)`);
  console.log(
    `  hil as shipped / minimum   : ${f(m('hil') / m('minimum'))};  / labgrid: ${f(m('hil') / m('labgrid'))}`,
  );
  console.log(`  two crc32 checks over 28 MB in U-Boot cost ${f(m('hil') - m('hil-noverify'), 2)} s`);
}

/** `hil --help` against `node -e 0`: what starting the command costs. */
export async function startBench(rounds: number): Promise<void> {
  const node: number[] = [];
  const help: number[] = [];
  for (let i = 0; i < rounds; i++) {
    node.push(await timed('node', ['-e', '0']));
    help.push(await timed('node', [path.join(projectRoot, 'bin/hil.js'), '--help']));
  }
  console.log(`\n== start-up: \`hil --help\` against \`node -e 0\` (median of ${rounds}, alternating) ==`);
  console.log(`node -e 0  : ${f(median(node))} s`);
  console.log(`hil --help : ${f(median(help))} s  ratio ${f(median(help) / median(node))} (target <= 1.5)`);
  keep({
    name: 'start-up: `hil --help` / `node -e 0` (time)',
    value: median(help) / median(node),
    unit: 'x',
    target: { op: '<=', value: 1.5 },
    detail: `${f(median(help))} s / ${f(median(node))} s, median of ${rounds}`,
  });
}

/** The Linux shell case with the console through ser2net (raw TCP, and telnet with RFC
 * 2217), as a lab exports a board's port, against the same run on the local pty. */
export async function consoleBench(rounds: number): Promise<void> {
  const { startSer2net } = await import('../fixtures/ser2net.js');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hil-bench-console-'));
  const theCase = path.join(projectRoot, 'suites/virtual-board/linux-shell.toml');
  const local = benchBoard(dir, false);
  const servers = {
    tcp: await startSer2net(mkdtempSync(path.join(dir, 'tcp-')), false),
    rfc2217: await startSer2net(mkdtempSync(path.join(dir, 'rfc-')), true),
  };
  try {
    const through = (kind: 'tcp' | 'rfc2217') => {
      const doc = parse(readFileSync(local, 'utf8')) as any;
      const s = servers[kind];
      doc.console =
        kind === 'rfc2217'
          ? { kind, host: '127.0.0.1', port: s.port, baud: 115200 }
          : { kind, host: '127.0.0.1', port: s.port };
      doc.power.pty_link = s.link;
      const file = path.join(dir, `board-${kind}.toml`);
      writeFileSync(file, stringify(doc));
      return file;
    };
    const boards: Record<string, string> = { pty: local, tcp: through('tcp'), rfc2217: through('rfc2217') };
    let n = 0;
    const run = (k: string) =>
      timed('node', [
        path.join(projectRoot, 'bin/hil.js'),
        'run',
        '-b',
        boards[k],
        '-s',
        theCase,
        '--out',
        path.join(dir, `run-${++n}`),
        '--no-history',
      ]);
    const names = Object.keys(boards);
    const times: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
    for (const k of names) await run(k); // warm-up
    for (let i = 0; i < rounds; i++)
      for (let j = 0; j < names.length; j++)
        times[names[(i + j) % names.length]].push(await run(names[(i + j) % names.length]));
    const m = (k: string) => median(times[k]);
    console.log(
      `\n== the console through ser2net (Debian's ser2net 4) against the local pty: Linux shell case, whole processes (median of ${rounds}, rotating order) ==`,
    );
    console.log(`local pty              : ${f(m('pty'))} s`);
    console.log(`ser2net, raw TCP       : ${f(m('tcp'))} s  ratio ${f(m('tcp') / m('pty'))} (target <= 1.05)`);
    console.log(`ser2net, RFC 2217      : ${f(m('rfc2217'))} s  ratio ${f(m('rfc2217') / m('pty'))} (target <= 1.05)`);
  } finally {
    await servers.tcp.stop();
    await servers.rfc2217.stop();
  }
}

/** A board on a lab host over SSH (power commands there, console through an SSH tunnel to
 * its ser2net, images over SFTP) against the same board driven from here (the same power
 * script, its pty, its TFTP folder): the Linux shell case, whole processes. */
export async function labHostBench(rounds: number): Promise<void> {
  const { labHostMissing, startLabHost } = await import('../fixtures/lab-host/lab-host.js');
  const missing = labHostMissing();
  if (missing) {
    console.log(`\n== lab host over SSH: not measured: ${missing} ==`);
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hil-bench-labhost-'));
  const h = await startLabHost(dir);
  try {
    const theCase = path.join(projectRoot, 'suites/virtual-board/linux-shell.toml');
    const write = (name: string, change: (d: any) => void) => {
      const doc = parse(readFileSync(path.join(projectRoot, 'boards/qemu-virt-aarch64.toml'), 'utf8')) as any;
      doc.power = { kind: 'shell', on: `${h.powerScript} on`, off: `${h.powerScript} off` };
      doc.load.methods = ['tftp'];
      doc.load.tftp = { ...doc.load.tftp, dir: h.tftpDir };
      delete doc.storage;
      doc.lease = false; // the same work on both sides: no lease taken on either
      change(doc);
      const file = path.join(dir, `${name}.toml`);
      writeFileSync(file, stringify(doc));
      return file;
    };
    const boards: Record<string, string> = {
      here: write('here', (d) => (d.console = { kind: 'serial', port: path.join(h.dir, 'ttyBoard'), baud: 115200 })),
      ssh: write('ssh', (d) => {
        d.lab_host = {
          host: h.address,
          user: 'root',
          identity_file: h.identity,
          known_hosts: h.knownHosts,
          lease_dir: path.join(dir, 'leases'),
        };
        d.console = { kind: 'tcp', host: '127.0.0.1', port: h.ser2netLocal, via: 'lab_host' };
        d.power.kind = 'ssh';
        d.load.tftp.via = 'lab_host';
      }),
    };
    let n = 0;
    const run = (k: string) =>
      timed('node', [
        path.join(projectRoot, 'bin/hil.js'),
        'run',
        '-b',
        boards[k],
        '-s',
        theCase,
        '--out',
        path.join(dir, `run-${++n}`),
        '--no-history',
      ]);
    const times: Record<string, number[]> = { here: [], ssh: [] };
    const first: Record<string, number> = {};
    for (const k of ['here', 'ssh']) first[k] = await run(k); // warm-up; the SSH one copies the images to the lab host
    for (let i = 0; i < rounds; i++)
      for (const k of i % 2 ? ['ssh', 'here'] : ['here', 'ssh']) times[k].push(await run(k));
    console.log(
      `\n== a board on a lab host over SSH (OpenSSH + ser2net in a network namespace) against the same board driven from here: Linux shell case, whole processes (median of ${rounds}, alternated) ==`,
    );
    console.log(`from here (pty, local power script, local TFTP folder) : ${f(median(times.here))} s`);
    console.log(
      `over SSH (tunnel to ser2net, power over SSH, SFTP)     : ${f(median(times.ssh))} s  ratio ${f(median(times.ssh) / median(times.here))} (target <= 1.05)`,
    );
    console.log(
      `over SSH, first run (28 MB of images copied over SFTP) : ${f(first.ssh)} s  ratio ${f(first.ssh / median(times.here))} (one run; later ones find them cached)`,
    );
  } finally {
    await h.stop();
  }
}

/** A 16 MiB image loaded by fastboot over UDP against TFTP of the same image into the same
 * U-Boot (the fastboot virtual board), both CRC-checked: the load's own seconds (from
 * results.json) and the whole process, alternated. */
export async function fastbootBench(rounds: number): Promise<void> {
  const { randomBytes } = await import('node:crypto');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hil-bench-fastboot-'));
  const image = path.join(dir, 'image-16m.bin');
  writeFileSync(image, randomBytes(16 * 1024 * 1024));
  const board = path.join(projectRoot, 'boards/qemu-virt-aarch64-fastboot.toml');
  const caseFor = (method: string) => {
    const doc = parse(readFileSync(path.join(projectRoot, 'suites/virtual-board/hello.toml'), 'utf8')) as any;
    doc.board_type = 'qemu-virt-aarch64-fastboot';
    doc.load_method = method;
    delete doc.qemu_case;
    doc.images = { kernel: path.join(projectRoot, 'fixtures/hello/hello.Image'), initrd: image };
    const file = path.join(dir, `${method}.toml`);
    writeFileSync(file, stringify(doc));
    return file;
  };
  const cases: Record<string, string> = { fastboot: caseFor('fastboot'), tftp: caseFor('tftp') };
  let n = 0;
  const load: Record<string, number[]> = { fastboot: [], tftp: [] };
  const whole: Record<string, number[]> = { fastboot: [], tftp: [] };
  const run = async (k: string) => {
    const out = path.join(dir, `run-${++n}`);
    const s = await timed('node', [
      path.join(projectRoot, 'bin/hil.js'),
      'run',
      '-b',
      board,
      '-s',
      cases[k],
      '--out',
      out,
      '--no-history',
    ]);
    const t = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')).cases[0].transfers.find(
      (x: any) => x.role === 'initrd',
    );
    if (t.method !== k || !t.verified)
      throw new Error(`bench: the 16 MiB image went by ${t.method}, verified ${t.verified}`);
    return { s, load: t.seconds as number };
  };
  for (const k of ['fastboot', 'tftp']) await run(k); // warm-up
  for (let i = 0; i < rounds; i++)
    for (const k of i % 2 ? ['tftp', 'fastboot'] : ['fastboot', 'tftp']) {
      const r = await run(k);
      load[k].push(r.load);
      whole[k].push(r.s);
    }
  const m = (x: number[]) => median(x);
  console.log(
    `\n== a 16 MiB image into U-Boot (Debian source, fastboot over UDP) by fastboot against TFTP, both CRC-checked (median of ${rounds}, alternated) ==`,
  );
  console.log(`load, TFTP      : ${f(m(load.tftp))} s (${f(16 / m(load.tftp), 1)} MiB/s)`);
  console.log(
    `load, fastboot  : ${f(m(load.fastboot))} s (${f(16 / m(load.fastboot), 1)} MiB/s)  ratio ${f(m(load.fastboot) / m(load.tftp))}`,
  );
  console.log(
    `whole run       : fastboot ${f(m(whole.fastboot))} s, TFTP ${f(m(whole.tftp))} s  ratio ${f(m(whole.fastboot) / m(whole.tftp))}`,
  );

  // The download alone, ours against Debian's fastboot client (`fastboot stage`), into U-Boot
  // sitting in `fastboot udp`: Debian's client stops and waits, one 1020-byte piece per round
  // trip; ours goes the board's `udp_window` packets ahead (default), and stop and wait
  // (window 1) beside it. Ours as the runner downloads (max-download-size asked first, as
  // Debian's client does), in this process; Debian's client is a process of its own (its start, a few ms, is
  // in its time). And the same with the write to the board's SD card (`flash mmc0`).
  const { startListening } = await import('../fixtures/u-boot-fastboot/listening.js');
  const { Fastboot, UdpTransport } = await import('../runner/transfer/fastboot.js');
  const dev = await startListening(32);
  try {
    const data = readFileSync(image);
    const times: Record<string, number[]> = {
      ours: [],
      debian: [],
      oursFlash: [],
      debianFlash: [],
      oursStopAndWait: [],
    };
    const ours = async (flash: boolean, window?: number) => {
      const t = await UdpTransport.open('127.0.0.1', dev.port, { window });
      try {
        const fb = new Fastboot(t);
        const most = Number.parseInt(await fb.getvar('max-download-size'), 16);
        if (most < data.length) throw new Error(`bench: max-download-size ${most}`);
        await fb.download(data, t.dataRoom);
        if (flash) await fb.flash('mmc0', 60_000);
      } finally {
        await t.close();
      }
    };
    const debian = (flash: boolean) =>
      execa('fastboot', ['-s', `udp:127.0.0.1:${dev.port}`, ...(flash ? ['flash', 'mmc0'] : ['stage']), image]);
    const timeIt = async (into: number[], step: () => Promise<unknown>) => {
      const t0 = performance.now();
      await step();
      into.push((performance.now() - t0) / 1000);
    };
    await ours(false); // warm-up
    await debian(false);
    for (let i = 0; i < rounds; i++) {
      const first = i % 2 ? 'ours' : 'debian';
      for (const who of first === 'ours' ? ['ours', 'debian'] : ['debian', 'ours']) {
        if (who === 'ours') await timeIt(times.ours, () => ours(false));
        else await timeIt(times.debian, () => debian(false));
      }
      await timeIt(times.oursStopAndWait, () => ours(false, 1));
      for (const who of first === 'ours' ? ['debian', 'ours'] : ['ours', 'debian']) {
        if (who === 'ours') await timeIt(times.oursFlash, () => ours(true));
        else await timeIt(times.debianFlash, () => debian(true));
      }
    }
    const all = (k: string) => times[k]!.map((x) => f(x, 2)).join(' ');
    console.log(
      `download only   : ours ${f(m(times.ours))} s (${all('ours')}), Debian's fastboot ${f(m(times.debian))} s (${all('debian')})  ratio ${f(m(times.ours) / m(times.debian))}`,
    );
    console.log(
      `stop and wait   : ours ${f(m(times.oursStopAndWait))} s (${all('oursStopAndWait')})  ratio ${f(m(times.oursStopAndWait) / m(times.debian))}`,
    );
    console.log(
      `flash to SD     : ours ${f(m(times.oursFlash))} s (${all('oursFlash')}), Debian's fastboot ${f(m(times.debianFlash))} s (${all('debianFlash')})  ratio ${f(m(times.oursFlash) / m(times.debianFlash))}`,
    );
    keep({
      name: "fastboot UDP download, 16 MiB: time, ours / Debian's fastboot",
      value: m(times.ours) / m(times.debian),
      unit: 'x',
      target: { op: '<=', value: 1 },
      detail: `ours ${f(m(times.ours))} s, Debian's ${f(m(times.debian))} s`,
    });
    keep({
      name: "fastboot UDP download, stop and wait: ours / Debian's",
      value: m(times.oursStopAndWait) / m(times.debian),
      unit: 'x',
      detail: `ours with udp_window = 1 ${f(m(times.oursStopAndWait))} s`,
    });
    keep({
      name: "fastboot UDP download + flash to SD: time, ours / Debian's",
      value: m(times.oursFlash) / m(times.debianFlash),
      unit: 'x',
      target: { op: '<=', value: 1 },
      detail: `ours ${f(m(times.oursFlash))} s, Debian's ${f(m(times.debianFlash))} s`,
    });
  } finally {
    await dev.stop();
  }
}
