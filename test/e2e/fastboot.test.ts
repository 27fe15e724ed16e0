// Loading over U-Boot's fastboot (UDP), against a real U-Boot: Debian's own U-Boot source
// built with fastboot over UDP (fixtures/u-boot-fastboot), the second virtual board. Debian's
// `fastboot` client is the reference our client's answers are compared with.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../fixtures/ser2net.js';
import { type ListeningBoard, startListening } from '../../fixtures/u-boot-fastboot/listening.js';
import { Fastboot, UdpTransport } from '../../runner/transfer/fastboot.js';
import { execa } from 'execa';
import { checkNoQemuLeft, deriveToml, helloImage, hil, hilBin, root, tmpDir, watchRun } from '../helpers.js';

const fastbootBoard = path.join(root, 'boards', 'qemu-virt-aarch64-fastboot.toml');
const linuxShell = path.join(root, 'suites', 'virtual-board', 'linux-shell.toml');

/** A case of the virtual-board suite, for the fastboot board, loading by `method`. */
function caseFor(base: string, method: string | string[], change: (d: any) => void = () => {}): string {
  return deriveToml(base, (d) => {
    d.board_type = 'qemu-virt-aarch64-fastboot';
    d.load_method = method;
    delete d.qemu_case;
    for (const k of ['kernel', 'initrd'] as const)
      if (d.images[k]) d.images[k] = path.resolve(path.dirname(base), d.images[k]);
    change(d);
  });
}

describe('loading over fastboot (UDP) into U-Boot built from Debian source', function () {
  checkNoQemuLeft();

  it('loads the hello image and the Linux kernel and initramfs by fastboot, CRC-checked, and they boot', async () => {
    const hello = caseFor(
      path.join(root, 'suites', 'virtual-board', 'hello.toml'),
      'fastboot',
      (d) => (d.images.kernel = helloImage),
    );
    const r1 = await hil(['run', '--board', fastbootBoard, '--suite', hello]);
    assert.equal(r1.exitCode, 0, r1.stdout + r1.stderr);
    const r2 = await hil(['run', '--board', fastbootBoard, '--suite', caseFor(linuxShell, 'fastboot')]);
    assert.equal(r2.exitCode, 0, r2.stdout + r2.stderr);
    const c = r2.results.cases[0];
    assert.deepEqual(
      c.transfers.map((t: any) => [t.role, t.method, t.verified]),
      [
        ['kernel', 'fastboot', true],
        ['initrd', 'fastboot', true],
      ],
    );
    const log = readFileSync(path.join(r2.out, c.transcript, 'console.log'), 'latin1');
    const kernel = c.transfers[0].bytes;
    assert.match(log, new RegExp(`fastboot -l \\$\\{kernel_addr_r\\} -s 0x${kernel.toString(16)} udp`));
    assert.match(log, new RegExp(`downloading of ${kernel} bytes finished`), "U-Boot's own count of what it received");
  });

  it('a device that never answers is a lab error naming the step; with TFTP next in the chain, the load falls back to it', async () => {
    const nobody = await freePort();
    const broken = deriveToml(fastbootBoard, (d) => {
      d.load.fastboot = {
        ...d.load.fastboot,
        host: '127.0.0.1',
        port: nobody,
        packet_timeout_ms: 100,
        packet_tries: 3,
      };
    });
    const hello = (m: string | string[]) =>
      caseFor(path.join(root, 'suites', 'virtual-board', 'hello.toml'), m, (d) => (d.images.kernel = helloImage));
    const r = await hil(['run', '--board', broken, '--suite', hello('fastboot')]);
    assert.equal(r.exitCode, 2, r.stdout + r.stderr);
    const c = r.results.cases[0];
    assert.equal(c.phase, 'load');
    assert.match(
      c.reason,
      new RegExp(
        `fastboot load of the kernel hello\\.Image over udp:127\\.0\\.0\\.1:${nobody}: fastboot udp:127\\.0\\.0\\.1:${nobody}: no answer to packet \\d+ after 3 tries 100 ms apart`,
      ),
    );
    const fell = await hil(['run', '--board', broken, '--suite', hello(['fastboot', 'tftp'])]);
    assert.equal(fell.exitCode, 0, fell.stdout + fell.stderr);
    const t = fell.results.cases[0].transfers[0];
    assert.equal(t.method, 'tftp');
    assert.equal(t.fallback_from[0].method, 'fastboot');
    assert.match(t.fallback_from[0].reason, /no answer to packet/);
  });

  it('fastboot over USB on a host with no USB bus: told before U-Boot is asked, and TFTP takes over', async () => {
    const usb = deriveToml(fastbootBoard, (d) => {
      d.load.fastboot = { transport: 'usb', usb_vid: 0x2207, usb_pid: 0x350a };
    });
    const hello = caseFor(
      path.join(root, 'suites', 'virtual-board', 'hello.toml'),
      ['fastboot', 'tftp'],
      (d) => (d.images.kernel = helloImage),
    );
    const r = await hil(['run', '--board', usb, '--suite', hello]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const t = r.results.cases[0].transfers[0];
    assert.equal(t.method, 'tftp');
    const why = t.fallback_from[0].reason;
    if (existsSync('/dev/bus/usb')) assert.match(why, /fastboot load of the kernel hello\.Image over usb 2207:350a: /);
    else
      assert.match(
        why,
        /^fastboot load of the kernel hello\.Image over usb 2207:350a: this host has no USB bus \(\/dev\/bus\/usb is missing\)/,
      );
    const log = readFileSync(path.join(r.out, r.results.cases[0].transcript, 'console.log'), 'latin1');
    if (!existsSync('/dev/bus/usb'))
      assert.doesNotMatch(log, /fastboot .* usb 0/, 'nothing was typed for a USB that is not there');
  });

  it("answers our client as it answers Debian's fastboot: the same variables, the same download", async () => {
    const board = await startListening();
    try {
      const ref = (...args: string[]) =>
        execFileSync('fastboot', ['-s', `udp:127.0.0.1:${board.port}`, ...args], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        }).toString();
      const refVar = (name: string) => {
        const out = execFileSync('sh', ['-c', `fastboot -s udp:127.0.0.1:${board.port} getvar ${name} 2>&1`], {
          encoding: 'utf8',
        });
        return /^\S+: (.*)$/m.exec(out)![1]!.trim();
      };
      const version = refVar('version');
      const most = refVar('max-download-size');
      const t = await UdpTransport.open('127.0.0.1', board.port);
      try {
        const fb = new Fastboot(t);
        assert.equal(await fb.getvar('version'), version);
        assert.equal(await fb.getvar('max-download-size'), most);
        // The same 3 MiB by both clients; U-Boot reports each in full.
        const data = randomBytes(3 * 1024 * 1024);
        const mark = board.output().length;
        await fb.download(data, t.dataRoom);
        await board.waitFor(/downloading of 3145728 bytes finished/, mark);
        await assert.rejects(
          fb.command('flash:no-such-partition'),
          /fastboot flash:no-such-partition: the device said FAIL/,
        );
      } finally {
        await t.close();
      }
      const before = board.output().length;
      ref('stage', writeBlob());
      await board.waitFor(/downloading of 3145728 bytes finished/, before);
    } finally {
      await board.stop();
    }
  });
});

/** A 3 MiB file for Debian's client to stage. */
function writeBlob(): string {
  const file = path.join(tmpDir(), 'ref.bin');
  writeFileSync(file, randomBytes(3 * 1024 * 1024));
  return file;
}

describe("fastboot's other commands, against the same U-Boot with an SD card", function () {
  checkNoQemuLeft();

  /** The board listening on fastboot with a 16 MiB card, and our client connected to it. */
  async function withClient(
    step: (fb: Fastboot, t: UdpTransport, board: ListeningBoard) => Promise<void>,
  ): Promise<void> {
    const board = await startListening(16);
    try {
      const t = await UdpTransport.open('127.0.0.1', board.port);
      try {
        await step(new Fastboot(t), t, board);
      } finally {
        await t.close();
      }
    } finally {
      await board.stop();
    }
  }

  it('runs U-Boot commands (UCmd), reads partitions, flashes and erases the card, and reboots', () =>
    withClient(async (fb, t, board) => {
      // A command run in U-Boot, seen back through getvar (which reads fastboot.* variables).
      await fb.run('setenv fastboot.hil_mark 42');
      assert.equal(await fb.getvar('hil_mark'), '42');
      await assert.rejects(fb.run('false'), /fastboot UCmd:false: the device said FAIL/);
      // The card: U-Boot's "dev:part" names and raw ranges both resolve.
      assert.equal(await fb.partitionSize('0:0'), 16 * 1024 * 1024, 'the whole card');
      assert.equal(await fb.partitionSize('nope'), undefined);
      await fb.run('setenv fastboot_raw_partition_idbloader 0x40 0x7c0');
      assert.equal(await fb.partitionSize('idbloader'), 0x7c0 * 512);
      const a = randomBytes(200 * 1024);
      await fb.download(a, t.dataRoom);
      await fb.flash('idbloader');
      assert.deepEqual(
        readFileSync(board.card).subarray(64 * 512, 64 * 512 + a.length),
        a,
        'the card holds the image at sector 64',
      );
      await fb.erase('idbloader');
      const erased = readFileSync(board.card).subarray(64 * 512, (64 + 0x7c0) * 512);
      assert.ok(erased.every((b) => b === erased[0]) && (erased[0] === 0 || erased[0] === 0xff), 'erased to one value');
      const mark = board.output().length;
      await fb.reboot();
      await board.waitFor(/U-Boot 2023\.01/, mark);
    }));

  it('boots what was downloaded (fastboot boot, by fastboot_bootcmd)', () =>
    withClient(async (fb, t, board) => {
      await fb.run('setenv fastboot_bootcmd booti 50000000 - ${fdtcontroladdr}');
      await fb.download(readFileSync(helloImage), t.dataRoom);
      const mark = board.output().length;
      await fb.boot();
      await board.waitFor(/hil-hello: bare-metal guest done/, mark);
    }));
});

describe('hil flash --partition: an image written through U-Boot with fastboot', function () {
  checkNoQemuLeft();

  /** The fastboot board with a card that outlives each run, and Rockchip's idbloader area
   * (sector 64, up to the first partition at 1 MiB) as a raw partition. */
  function boardWithCard(): { board: string; card: string } {
    const dir = tmpDir();
    const card = path.join(dir, 'card.img');
    const board = deriveToml(
      fastbootBoard,
      (d) => {
        d.power.disk = { path: card, size_mib: 64 };
        d.load.fastboot.raw_partitions = { idbloader: '0x40 0x7c0' };
      },
      dir,
    );
    return { board, card };
  }
  const write = (name: string, data: Buffer) => {
    const f = path.join(tmpDir(), name);
    writeFileSync(f, data);
    return f;
  };
  const at = (card: string, sector: number, bytes: number) =>
    readFileSync(card).subarray(sector * 512, sector * 512 + bytes);

  it("writes the image where U-Boot's raw partition says, leaves the rest of the card alone, and erases first when asked", async () => {
    const { board, card } = boardWithCard();
    const a = randomBytes(600 * 1024);
    const r = await hil([
      'flash',
      '--board',
      board,
      '--image',
      write('idbloader.img', a),
      '--partition',
      'idbloader',
      '--out',
      tmpDir('hil-out-'),
    ]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /flashed 614400 bytes to partition idbloader \(mmc 0 from block 0x40\) of qemu-virt-aarch64-fastboot in [\d.]+ s, read back and the same/,
    );
    assert.deepEqual(at(card, 64, a.length), a);
    // The partition table and the FAT partition's boot sector are as the card was made.
    const mbr = at(card, 0, 512);
    assert.equal(mbr.readUInt16LE(510), 0xaa55);
    assert.equal(mbr.readUInt32LE(446 + 8), 2048);
    assert.equal(at(card, 2048, 512).readUInt16LE(510), 0xaa55);
    assert.equal(r.results.cases[0].verdict, 'pass');
    assert.ok(r.results.cases[0].phases.flash > 0, 'the flash phase is timed');
    const d = r.results.cases[0].deploys[0];
    assert.deepEqual(
      [d.method, d.bytes, d.verified, d.target],
      ['fastboot', 614400, true, 'partition idbloader (mmc 0 from block 0x40)'],
    );
    const log = readFileSync(path.join(r.out, r.results.cases[0].transcript, 'console.log'), 'latin1');
    assert.match(log, /wrote 614400 bytes to 'idbloader'/, "U-Boot's own count");
    // A shorter image with --erase: nothing of the first is left after it.
    const b = randomBytes(100 * 1024);
    const r2 = await hil([
      'flash',
      '--board',
      board,
      '--image',
      write('small.img', b),
      '--partition',
      'idbloader',
      '--erase',
      '--out',
      tmpDir('hil-out-'),
    ]);
    assert.equal(r2.exitCode, 0, r2.stdout + r2.stderr);
    assert.deepEqual(at(card, 64, b.length), b);
    const rest = at(card, 64 + b.length / 512, a.length - b.length);
    assert.ok(
      rest.every((x) => x === rest[0]) && (rest[0] === 0 || rest[0] === 0xff),
      'the rest of the partition is erased',
    );
  });

  it("a write that lands elsewhere (an alias in U-Boot's environment) is caught by reading back: a lab error, exit 2", async () => {
    const { board: base, card } = boardWithCard();
    const board = deriveToml(base, (d) => {
      d.load.fastboot.raw_partitions.decoy = '0x400 0x100';
      d.uboot.init_cmds = ['setenv fastboot_partition_alias_idbloader decoy'];
    });
    const a = randomBytes(64 * 1024);
    const r = await hil([
      'flash',
      '--board',
      board,
      '--image',
      write('idbloader.img', a),
      '--partition',
      'idbloader',
      '--out',
      tmpDir('hil-out-'),
    ]);
    assert.equal(r.exitCode, 2, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /partition idbloader \(mmc 0 from block 0x40\) read back differs from idbloader\.img: CRC-32 [0-9a-f]{8} on the board, [0-9a-f]{8} on the host \(the write did not hold\)/,
    );
    assert.deepEqual(at(card, 0x400, a.length), a, 'U-Boot wrote it where the alias said');
  });

  it('Ctrl-C in the middle of the download: exit 130, the board off and no QEMU left, the transcript and results kept, nothing written', async () => {
    const { board, card } = boardWithCard();
    const out = tmpDir('hil-out-');
    watchRun(out);
    const proc = execa(
      'node',
      [
        hilBin,
        'flash',
        '--board',
        board,
        '--image',
        write('big.img', randomBytes(40 * 1024 * 1024)),
        '--partition',
        'mmc0',
        '--out',
        out,
      ],
      {
        cwd: root,
        reject: false,
        env: { HIL_LEASE_DIR: tmpDir('hil-leases-') },
      },
    );
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the download never started')), 30_000);
      proc.stdout!.on('data', (d: Buffer) => {
        if (/fastboot flash mmc0 big\.img: [1-9]\d*%/.test(d.toString())) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    proc.kill('SIGINT');
    const r = await proc;
    assert.equal(r.exitCode, 130, String(r.stdout) + String(r.stderr));
    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    assert.equal(results.cases[0].verdict, 'error');
    assert.match(results.cases[0].reason, /interrupted by SIGINT/);
    assert.match(readFileSync(path.join(out, results.cases[0].transcript, 'console.log'), 'latin1'), /fastboot udp/);
    assert.match(
      readFileSync(path.join(out, results.cases[0].transcript, 'power.log'), 'latin1'),
      /qemu-system-aarch64/,
    );
    assert.ok(at(card, 0, 512).readUInt16LE(510) === 0xaa55, 'the card as it was: its partition table not overwritten');
  });

  it('an image too big for the partition, or a partition U-Boot does not know, is a lab error that writes nothing; wrong flags are told first', async () => {
    const { board, card } = boardWithCard();
    const big = await hil([
      'flash',
      '--board',
      board,
      '--image',
      write('big.img', randomBytes(1024 * 1024)),
      '--partition',
      'idbloader',
      '--out',
      tmpDir('hil-out-'),
    ]);
    assert.equal(big.exitCode, 2, big.stdout + big.stderr);
    assert.match(
      big.stderr,
      /^hil flash: qemu-virt-aarch64-fastboot: .*big\.img is 1048576 bytes and partition idbloader has 1015808: nothing was written \(transcript: /m,
    );
    assert.equal(big.results.cases[0].phase, 'flash');
    assert.ok(
      at(card, 64, 0x7c0 * 512).every((x) => x === 0),
      'not a byte written',
    );
    const nope = await hil([
      'flash',
      '--board',
      board,
      '--image',
      write('x.img', randomBytes(4096)),
      '--partition',
      'nope',
      '--out',
      tmpDir('hil-out-'),
    ]);
    assert.equal(nope.exitCode, 2, nope.stdout + nope.stderr);
    assert.match(
      nope.stderr,
      /fastboot flash:nope: the device said FAIL .*: give a name from the board's partition table, .* \(now: idbloader\)/,
    );
    const both = await hil([
      'flash',
      '--board',
      board,
      '--image',
      write('y.img', randomBytes(512)),
      '--partition',
      'idbloader',
      '--lba',
      '64',
    ]);
    assert.equal(both.exitCode, 3);
    assert.match(both.stderr, /give --lba \(rockusb, over USB\) or --partition \(fastboot, through U-Boot\), not both/);
    const plain = await hil([
      'flash',
      '--board',
      path.join(root, 'boards', 'qemu-virt-aarch64.toml'),
      '--image',
      write('z.img', randomBytes(512)),
      '--partition',
      'uboot',
    ]);
    assert.equal(plain.exitCode, 3);
    assert.match(plain.stderr, /board qemu-virt-aarch64 has no \[load\.fastboot\] table/);
  });
});
