// The U-Boot driver and the loaders on a scripted U-Boot console (fixtures/scripted): the
// paths real U-Boot in QEMU does not produce on demand.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadBoard, type Board } from '../../runner/drivers/board.js';
import { Console } from '../../runner/console/console.js';
import { Transcript } from '../../runner/console/transcript.js';
import { LabError } from '../../runner/errors.js';
import { hostImage } from '../../runner/transfer/image.js';
import { verifyLoad } from '../../runner/transfer/verify.js';
import { UBoot } from '../../runner/uboot/driver.js';
import { ScriptedUBoot, type ScriptedUBootOptions } from '../../fixtures/scripted/uboot.js';
import { deriveToml, helloImage, tmpDir, virtualBoard } from '../helpers.js';

function setup(o: ScriptedUBootOptions = {}, board: Board = loadBoard(virtualBoard)) {
  const dir = tmpDir();
  const port = new ScriptedUBoot(o);
  const transcript = new Transcript(dir);
  const con = new Console(port, transcript);
  // The board's reset, as a power driver gives it: the scripted U-Boot powers on afresh.
  const u = new UBoot(con, board, undefined, async () => port.powerOn());
  port.powerOn();
  const timed = () => readFileSync(path.join(dir, 'console.timed.log'), 'utf8');
  return { port, con, u, timed, transcript };
}

const labError = (re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof LabError, `expected a lab error, got ${e}`);
  assert.match((e as Error).message, re);
  return true;
};

describe('U-Boot driver on a scripted console', () => {
  it('stops the countdown with a key, resynchronises, runs a command with its output and status', async () => {
    const { u, port } = setup({ commands: { version: () => ({ out: 'U-Boot 2023.01\n' }) } });
    await u.interrupt();
    const r = await u.run('version');
    assert.deepEqual(r.output, ['U-Boot 2023.01']);
    assert.equal(r.status, 0);
    assert.ok(
      port.ran.some((l) => /^echo hil-sync; echo '\w{4}''\w{4}'-\$\?$/.test(l)),
      'every command carries a split completion marker',
    );
  });

  it('sends Ctrl-C from power-on until a prompt shows, for a board with a 0 s bootdelay', async () => {
    const board = loadBoard(deriveToml(virtualBoard, (d) => (d.uboot.interrupt = 'ctrl-c')));
    const { u } = setup({ bootdelay: 0 }, board);
    await u.interrupt();
    assert.equal((await u.run('echo ok')).output.join(), 'ok');
  });

  it('a countdown that went by (the board booted on): the board is reset and interrupted again', async () => {
    const { u, port, timed } = setup({ deafBoots: 1, bootdelay: 0.3 });
    await u.interrupt();
    assert.equal(port.boots, 2, 'one reset');
    assert.match(
      timed(),
      /went on to boot \("Starting kernel"\) before the countdown was stopped\); resetting the board and interrupting again \(attempt 2 of 2\)/,
    );
    assert.equal((await u.run('echo ok')).output.join(), 'ok');
  });

  it("after a reset, the old boot's late lines (its autoboot failing) are not taken for the new boot's", async () => {
    const { u, port, timed } = setup({
      deafBoots: 1,
      bootdelay: 0.3,
      staleOnReset: "TFTP error: 'File not found' (1)\r\nNot retrying...\r\n",
    });
    await u.interrupt();
    assert.equal(port.boots, 2, 'one reset');
    assert.match(timed(), /TFTP error: 'File not found' \(1\)\n(.*\n)*.*U-Boot 2023\.01/, 'the stale line came first');
    assert.equal((await u.run('echo ok')).output.join(), 'ok');
  });

  it('a countdown missed on every power-on the board allows is a lab error saying so', async () => {
    const { u, port } = setup({ deafBoots: 5, bootdelay: 0.2 });
    await assert.rejects(
      u.interrupt(),
      labError(/^the board went on to boot \("Starting kernel"\) before the countdown was stopped$/),
    );
    assert.equal(port.boots, 2, 'uboot.attempts power-ons, no more');
  });

  it('a character lost on the line: Ctrl-C, retype, and the command runs intact', async () => {
    const { u, port, timed } = setup({ dropChar: 40 });
    await u.interrupt();
    const r = await u.run('setenv serverip 10.0.2.2');
    assert.equal(r.status, 0);
    assert.equal(port.env.serverip, '10.0.2.2', 'the command U-Boot ran is the one typed');
    assert.match(timed(), /did not come back intact \(attempt 1\); Ctrl-C and retype/);
  });

  it('a character mangled on the line is caught in the echo, before Enter', async () => {
    const { u, port, timed } = setup({ mangleChar: { at: 35, as: '#' } });
    await u.interrupt();
    await u.run('setenv ipaddr 10.0.2.15');
    assert.equal(port.env.ipaddr, '10.0.2.15');
    assert.ok(!port.ran.some((l) => l.includes('#')), 'the mangled line was never run');
    assert.match(timed(), /Ctrl-C and retype/);
  });

  it("a failing command, a missing command and U-Boot's own error lines are lab errors that quote U-Boot", async () => {
    const { u } = setup({
      commands: {
        mmc: () => ({ out: 'MMC: no card present\n', status: 1 }),
        tftpboot: () => ({ out: "Using virtio-net#32 device\nTFTP error: 'File not found' (1)\n", status: 1 }),
      },
    });
    await u.interrupt();
    await assert.rejects(
      u.run('mmc dev 1'),
      labError(/U-Boot command "mmc dev 1" failed \(exit 1\): MMC: no card present/),
    );
    await assert.rejects(u.run('fastboot udp'), labError(/this U-Boot has no command "fastboot"/));
    await assert.rejects(
      u.run('tftpboot 0x40400000 Image'),
      labError(/U-Boot reported "TFTP error: 'File not found' \(1\)" \(pattern TFTP error\)/),
    );
  });

  it("a CRC that differs from the host's is a lab error naming both", async () => {
    const { u } = setup({ commands: { crc32: (a) => ({ out: `crc32 for ${a[0]} ... ${a[0]} ==> deadbeef\n` }) } });
    await u.interrupt();
    const img = hostImage('kernel', helloImage);
    await assert.rejects(
      verifyLoad(u, img, '0x40400000', 5),
      labError(/CRC mismatch for the kernel hello\.Image: board deadbeef, host [0-9a-f]{8}/),
    );
  });

  it('a port that vanishes while the driver waits ends the wait at once, as a lab error', async () => {
    const { u, con } = setup({ bootdelay: 0, vanishAfter: 120 });
    const t0 = performance.now();
    await assert.rejects(u.interrupt(), labError(/went away/));
    assert.ok(performance.now() - t0 < 5000, 'not after the U-Boot timeout');
    await con.close();
  });
});
