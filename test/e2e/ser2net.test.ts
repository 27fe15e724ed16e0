// The console through ser2net (Debian's ser2net 4), as a lab exports a board's serial port:
// ser2net serves the virtual board's pty on a TCP port, raw and as telnet with RFC 2217,
// and the virtual-board suites run through it unchanged. The board file changes only its
// [console] table: the pipeline does not know which console driver it has. ser2net's own
// trace of the bytes it relayed shows they really went through it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { freePort, type Ser2net, startSer2net } from '../../fixtures/ser2net.js';
import path from 'node:path';
import {
  checkNoQemuLeft,
  deriveToml,
  helloCaseWith,
  hil,
  root,
  runUntilUBoot,
  tmpDir,
  virtualBoard,
} from '../helpers.js';

for (const telnet of [false, true]) {
  const mode = telnet ? 'telnet with RFC 2217' : 'raw TCP';
  describe(`console through ser2net, ${mode}`, function () {
    checkNoQemuLeft();
    let dir: string;
    let s2n: Ser2net;
    let board: string;

    before(async () => {
      dir = tmpDir('hil-ser2net-');
      s2n = await startSer2net(dir, telnet);
      board = deriveToml(
        virtualBoard,
        (d) => {
          d.console = telnet
            ? { kind: 'rfc2217', host: '127.0.0.1', port: s2n.port, baud: 115200 }
            : { kind: 'tcp', host: '127.0.0.1', port: s2n.port };
          d.power.pty_link = s2n.link;
        },
        dir,
      );
    });
    after(async () => s2n.stop());

    it('runs the virtual-board suite unchanged: the hello image, the Linux shell case and the spec pass', async () => {
      const r = await hil(['run', '--board', board, '--suite', 'virtual-board']);
      assert.equal(r.exitCode, 0, r.stdout + r.stderr);
      assert.deepEqual(r.results.counts, { pass: 3, fail: 0, error: 0, timeout: 0, internal: 0 });
      const linux = r.results.cases.find((c: any) => c.name === 'linux-shell');
      assert.equal(linux.matched.line, 'guest test pass!');
      const timed = readFileSync(path.join(r.out, linux.transcript, 'console.timed.log'), 'utf8');
      assert.match(timed, new RegExp(`## console ${telnet ? 'rfc2217' : 'tcp'}`));
      // The bytes came through ser2net: its own trace of the last connection holds them.
      assert.ok(existsSync(s2n.trace), 'ser2net traced the connection');
      assert.match(readFileSync(s2n.trace, 'latin1'), /Linux version|U-Boot 2023\.01/);
      assert.ok(!existsSync(s2n.link), 'the pty link is gone with the board');
    });

    it('moves a binary image by YMODEM through it, 0xFF bytes and all, CRC-checked by U-Boot', async () => {
      const data = randomBytes(24 * 1024);
      assert.ok(data.includes(0xff), 'the image has bytes telnet must escape');
      const image = path.join(dir, 'random.bin');
      writeFileSync(image, data);
      const theCase = helloCaseWith((d) => {
        d.load_method = 'ymodem';
        d.images.initrd = image;
        delete d.qemu_case;
      });
      const r = await hil(['run', '--board', board, '--suite', theCase]);
      assert.equal(r.exitCode, 0, r.stdout + r.stderr);
      const t = r.results.cases[0].transfers.find((x: any) => x.role === 'initrd');
      assert.equal(t.method, 'ymodem');
      assert.equal(t.bytes, data.length);
      assert.equal(t.verified, true);
      assert.equal(t.retries, 0, 'no block was resent: nothing was mangled on the way');
    });

    it('ser2net going away mid-run: a lab error where it happened, the board powered off, the transcript kept', async () => {
      const out = tmpDir('hil-out-');
      const linuxShell = path.join(root, 'suites', 'virtual-board', 'linux-shell.toml');
      const { proc } = await runUntilUBoot(['--board', board, '--suite', linuxShell, '--no-history'], out);
      await s2n.stop(); // the lab host's console server ends: every connection drops
      const r = await proc;
      assert.equal(r.exitCode, 2, String(r.stdout));
      const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
      const c = results.cases[0];
      assert.equal(c.verdict, 'error');
      assert.match(
        c.reason,
        new RegExp(
          `the console connection ${telnet ? 'rfc2217' : 'tcp'}:127\\.0\\.0\\.1:\\d+ went away \\(closed by the other end\\)`,
        ),
      );
      const log = readFileSync(path.join(out, c.transcript, 'console.log'), 'latin1');
      assert.match(log, /U-Boot 2023\.01/, 'what came before the drop is kept');
      assert.ok(!existsSync(s2n.link), 'the board is off: QEMU and its pty link are gone');
    });
  });
}

describe('console through ser2net that is not there', () => {
  checkNoQemuLeft();

  it('is a lab error naming the address, with the board left off', async () => {
    const port = await freePort();
    const board = deriveToml(virtualBoard, (d) => {
      d.console = { kind: 'tcp', host: '127.0.0.1', port, connect_timeout: 2 };
    });
    const r = await hil(['run', '--board', board, '--suite', helloCaseWith()]);
    assert.equal(r.exitCode, 2, r.stdout + r.stderr);
    const c = r.results.cases[0];
    assert.equal(c.verdict, 'error');
    assert.equal(c.phase, 'power');
    assert.match(
      c.reason,
      new RegExp(`cannot connect to the console at 127\\.0\\.0\\.1:${port}: ECONNREFUSED \\(is ser2net running there`),
    );
  });
});
