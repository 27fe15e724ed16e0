// Health checks on the virtual board made a lab board (`lease = true`): a check reads the
// real U-Boot's version; a board whose U-Boot never answers is bad, refused by `hil run`,
// left out of the matrix and listed apart by the regression report; a lab error in a run
// makes a board unknown, and the next run checks it before its cases.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { writeLoaderFile } from '../../fixtures/usb/rockchip-device.js';
import { checkNoQemuLeft, deriveToml, helloCaseWith, hil, root, tmpDir, virtualBoard } from '../helpers.js';

describe('board health checks', function () {
  checkNoQemuLeft();
  let lab: string;
  let env: NodeJS.ProcessEnv;

  beforeEach(() => {
    lab = tmpDir('hil-lab-');
    env = { ...process.env, HIL_LEASE_DIR: path.join(lab, 'leases'), HIL_LAB: lab };
  });

  const labBoard = (change: (d: any) => void = () => {}) =>
    deriveToml(virtualBoard, (d) => {
      d.lease = true;
      change(d);
    });

  it('a board whose U-Boot answers is good: its version is kept, and the check is a run of its own', async () => {
    const r = await hil(['lab', 'check', '--board', labBoard()], { env });
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /^qemu-virt-aarch64: GOOD: U-Boot 20\d\d\.\d\d.* \([^)]*-qemu-virt-aarch64-health-check\)$/m,
    );
    const status = await hil(['lab', 'status'], { env });
    assert.match(status.stdout, /^qemu-virt-aarch64 +health GOOD since [\d-]+ [\d:]+: U-Boot 20\d\d\.\d\d/m);
    const [folder] = readdirSync(path.join(lab, 'reports'));
    const log = readFileSync(path.join(lab, 'reports', folder, 'health-check', 'console.log'), 'utf8');
    assert.match(log, /U-Boot 20\d\d\.\d\d/);
    assert.equal(JSON.parse(readFileSync(path.join(lab, 'reports', folder, 'results.json'), 'utf8')).verdict, 'pass');
  });

  it('a board whose U-Boot never answers is bad: refused by hil run, left out of the matrix, listed apart in the report', async () => {
    const board = labBoard((d) => {
      d.uboot.prompt = 'no-such-prompt> ';
      d.uboot.attempts = 1;
      d.timeouts.uboot = 3;
    });
    const check = await hil(['lab', 'check', '--board', board], { env });
    assert.equal(check.exitCode, 2, check.stdout);
    assert.match(check.stdout, /^qemu-virt-aarch64: BAD: uboot: /m);
    const out = tmpDir('hil-out-');
    const run = await hil(['run', '--board', board, '--suite', helloCaseWith(), '--out', out, '--no-history'], { env });
    assert.equal(run.exitCode, 2);
    assert.match(
      run.stderr,
      /^hil: board qemu-virt-aarch64 failed its health check at [\d-]+ [\d:]+ \(uboot: .*\): fix it, then `hil lab check --board qemu-virt-aarch64`; the board was not given the run \(results: .*\)$/,
    );
    assert.deepEqual(readdirSync(out), ['results.json'], 'nothing ran: no transcript, no power.log');
    // The lab's own board file, as the matrix finds boards by name.
    const boards = path.join(lab, 'boards');
    mkdirSync(boards);
    deriveToml(board, () => {}, boards, 'qemu-virt-aarch64.toml');
    const matrix = await hil(['matrix', '--boards', 'qemu-virt-aarch64,roc-rk3568-pc', '--suites', 'virtual-board'], {
      env,
    });
    assert.equal(matrix.exitCode, 0, matrix.stderr);
    assert.deepEqual(
      JSON.parse(matrix.stdout).include.map((e: any) => e.board),
      ['roc-rk3568-pc'],
    );
    assert.match(
      matrix.stderr,
      /left out of the matrix: qemu-virt-aarch64: failed its health check at .* `hil lab check --board qemu-virt-aarch64` puts it back/,
    );
    const history = path.join(lab, 'history');
    await hil(['run', '--board', 'qemu-virt-aarch64', '--suite', helloCaseWith(), '--history', history], {
      env: { ...env, HIL_LEASE_DIR: tmpDir() },
    });
    const report = await hil(['report', 'regressions', '--history', history, '-o', path.join(lab, 'regressions')], {
      env,
    });
    assert.equal(report.exitCode, 0, report.stderr);
    assert.match(
      report.stdout,
      /## Boards out of service \(failed their health check[^\n]*\n\n\| board \| since \| why \|\n\|---\|---\|---\|\n\| qemu-virt-aarch64 \| [\d-]+ [\d:]+ \| uboot: /,
    );
  });

  it('a lab error in a run makes the board unknown; the next run checks it first, then runs its cases', async () => {
    const board = labBoard();
    const empty = tmpDir();
    const noTftp = deriveToml(board, (d) => {
      d.power.args = d.power.args.map((a: string) => a.replace('{tftp_dir}', empty)); // a TFTP server without our files
      d.load.methods = ['tftp'];
    });
    const failed = await hil(['run', '--board', noTftp, '--suite', helloCaseWith(), '--no-history'], { env });
    assert.equal(failed.exitCode, 2, failed.stdout);
    const unknown = await hil(['lab', 'status'], { env });
    assert.match(
      unknown.stdout,
      /^qemu-virt-aarch64 +health UNKNOWN since .*: lab error in hello \(load\): TFTP load of the kernel /m,
    );
    const next = await hil(['run', '--board', board, '--suite', helloCaseWith(), '--no-history'], { env });
    assert.equal(next.exitCode, 0, next.stdout + next.stderr);
    assert.match(
      next.stdout,
      /board qemu-virt-aarch64 is of unknown health \(lab error in hello \(load\): .*\): checking it first\n.*\[health-check\] healthy: U-Boot/s,
    );
    assert.match(next.stdout, /\[hello\] PASS/);
    assert.match((await hil(['lab', 'status'], { env })).stdout, /^qemu-virt-aarch64 +health GOOD/m);
  });

  describe('recovery over USB (the [usb] recover step), with the Rockchip board model as the USB backend', () => {
    const loaderFile = () => writeLoaderFile(Buffer.alloc(6000, 1), Buffer.alloc(9000, 2));
    /** The board file with a [usb] recover step, and a way to make it bad first. */
    const recoverable = () => {
      const usb = { pid: 0x350a, loader: loaderFile(), recover: [{ image: 'idbloader.img', lba: 64 }] };
      return {
        good: labBoard((d) => (d.usb = usb)),
        broken: labBoard((d) => {
          d.usb = usb;
          d.uboot.prompt = 'no-such-prompt> ';
          d.uboot.attempts = 1;
          d.timeouts.uboot = 3;
        }),
      };
    };

    it('a bad board is recovered before the run: loader, image at its sector, reset, a health check again, then its cases', async () => {
      const b = recoverable();
      // The image file sits beside the board file the runs use.
      writeFileSync(path.join(path.dirname(b.good), 'idbloader.img'), Buffer.alloc(40_000, 7));
      assert.equal((await hil(['lab', 'check', '--board', b.broken], { env })).exitCode, 2);
      const log = path.join(tmpDir(), 'usb-model.json');
      const r = await hil(['run', '--board', b.good, '--suite', helloCaseWith(), '--no-history'], {
        env: { ...env, HIL_USB_BACKEND: path.join(root, 'fixtures', 'usb', 'backend.mjs'), HIL_USB_MODEL_LOG: log },
      });
      assert.equal(r.exitCode, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /board qemu-virt-aarch64 failed its health check \(uboot: .*\): recovering it over USB/);
      assert.match(r.stdout, /board qemu-virt-aarch64 recovered: U-Boot 20\d\d\.\d\d/);
      const usb = JSON.parse(readFileSync(log, 'utf8'));
      assert.deepEqual(usb.blobs, [
        { index: 0x471, bytes: 6000 },
        { index: 0x472, bytes: 9000 },
      ]);
      assert.equal(usb.writes[0].lba, 64);
      assert.equal(usb.resets, 1);
      assert.deepEqual(usb.violations, []);
      assert.equal(r.results.cases[0].verdict, 'pass');
    });

    it('where no USB reaches the board, the run is refused saying why recovery failed', async () => {
      const b = recoverable();
      writeFileSync(path.join(path.dirname(b.good), 'idbloader.img'), Buffer.alloc(40_000, 7));
      assert.equal((await hil(['lab', 'check', '--board', b.broken], { env })).exitCode, 2);
      const r = await hil(['run', '--board', b.good, '--suite', helloCaseWith(), '--no-history'], { env });
      assert.equal(r.exitCode, 2);
      const why = existsSync('/dev/bus/usb') ? 'no qemu-virt-aarch64 board' : 'this host has no USB bus';
      assert.match(
        r.stderr,
        new RegExp(
          `board qemu-virt-aarch64 failed its health check \\(uboot: .*\\), and recovering it over USB failed: ${why}.*; the board was not given the run`,
        ),
      );
    });
  });
});
