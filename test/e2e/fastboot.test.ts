// Loading over U-Boot's fastboot (UDP), against a real U-Boot: Debian's own U-Boot source
// built with fastboot over UDP (fixtures/u-boot-fastboot), the second virtual board. Debian's
// `fastboot` client is the reference our client's answers are compared with.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from '../../fixtures/ser2net.js';
import { startListening } from '../../fixtures/u-boot-fastboot/listening.js';
import { Fastboot, UdpTransport } from '../../runner/transfer/fastboot.js';
import { checkNoQemuLeft, deriveToml, helloImage, hil, root, tmpDir } from '../helpers.js';

const fastbootBoard = path.join(root, 'boards', 'qemu-virt-aarch64-fastboot.toml');
const linuxShell = path.join(root, 'suites', 'virtual-board', 'linux-shell.toml');

/** A case of the virtual-board suite, for the fastboot board, loading by `method`. */
function caseFor(base: string, method: string | string[], change: (d: any) => void = () => {}): string {
  return deriveToml(base, (d) => {
    d.board_type = 'qemu-virt-aarch64-fastboot';
    d.load_method = method;
    delete d.qemu_case;
    for (const k of ['kernel', 'initrd'] as const) if (d.images[k]) d.images[k] = path.resolve(path.dirname(base), d.images[k]);
    change(d);
  });
}

describe('loading over fastboot (UDP) into U-Boot built from Debian source', function () {
  checkNoQemuLeft();

  it('loads the hello image and the Linux kernel and initramfs by fastboot, CRC-checked, and they boot', async () => {
    const hello = caseFor(path.join(root, 'suites', 'virtual-board', 'hello.toml'), 'fastboot', (d) => (d.images.kernel = helloImage));
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
      d.load.fastboot = { ...d.load.fastboot, host: '127.0.0.1', port: nobody, packet_timeout_ms: 100, packet_tries: 3 };
    });
    const hello = (m: string | string[]) => caseFor(path.join(root, 'suites', 'virtual-board', 'hello.toml'), m, (d) => (d.images.kernel = helloImage));
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
    const hello = caseFor(path.join(root, 'suites', 'virtual-board', 'hello.toml'), ['fastboot', 'tftp'], (d) => (d.images.kernel = helloImage));
    const r = await hil(['run', '--board', usb, '--suite', hello]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const t = r.results.cases[0].transfers[0];
    assert.equal(t.method, 'tftp');
    const why = t.fallback_from[0].reason;
    if (existsSync('/dev/bus/usb')) assert.match(why, /fastboot load of the kernel hello\.Image over usb 2207:350a: /);
    else assert.match(why, /^fastboot load of the kernel hello\.Image over usb 2207:350a: this host has no USB bus \(\/dev\/bus\/usb is missing\)/);
    const log = readFileSync(path.join(r.out, r.results.cases[0].transcript, 'console.log'), 'latin1');
    if (!existsSync('/dev/bus/usb')) assert.doesNotMatch(log, /fastboot .* usb 0/, 'nothing was typed for a USB that is not there');
  });

  it("answers our client as it answers Debian's fastboot: the same variables, the same download", async () => {
    const board = await startListening();
    try {
      const ref = (...args: string[]) =>
        execFileSync('fastboot', ['-s', `udp:127.0.0.1:${board.port}`, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).toString();
      const refVar = (name: string) => {
        const out = execFileSync('sh', ['-c', `fastboot -s udp:127.0.0.1:${board.port} getvar ${name} 2>&1`], { encoding: 'utf8' });
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
        await assert.rejects(fb.command('flash:no-such-partition'), /fastboot flash:no-such-partition: the device said FAIL/);
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
