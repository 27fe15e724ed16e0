// Axvisor-aware runs on the virtual board: guest images deployed with fatwrite to the FAT
// partition of its virtio disk at the paths the VM configs name (checked on the board and
// again on the host with mtools), raw writes at a block offset, per-VM expectations from
// Axvisor's log, the build step with a stand-in cargo, and preflight stopping a run before
// the board is powered.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { axvisorSetup, axvisorSuite, checkNoQemuLeft, guestsDir, hil, root, tmpDir } from '../helpers.js';

const standin = path.join(root, 'fixtures', 'hello', 'axvisor-standin.Image');
const standinVm2Fails = path.join(root, 'fixtures', 'hello', 'axvisor-standin-vm2-fails.Image');
const board = ['--board', 'qemu-virt-aarch64'];

/** A file on the virtual SD card's FAT partition (1 MiB in), read on the host with mtools. */
async function fromCard(disk: string, file: string): Promise<Buffer> {
  const out = path.join(tmpDir('hil-mcopy-'), path.basename(file));
  await execa('mcopy', ['-n', '-i', `${disk}@@1M`, `::${file}`, out]);
  return readFileSync(out);
}

describe('Axvisor with fs guests', function () {
  const qemu = checkNoQemuLeft();

  it('deploys both guest images where the VM configs say, writes a raw image at sector 64, and sees both VMs up', async () => {
    const raw = path.join(root, 'fixtures', 'hello', 'hello-altered.Image');
    const s = axvisorSetup({ case: (d) => (d.storage_write = [{ image: raw, offset: 64 * 512 }]) });
    const r = await hil(['run', ...board, '--suite', s.caseFile]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const c = r.results.cases[0];
    assert.deepEqual(
      c.deploys.map((d: any) => [d.target, d.bytes, d.verified]),
      [
        ['virtio 0 blocks 64..64', 176, true],
        ['virtio 0:1 /guest/arceos/arceos-aarch64.bin', 196613, true],
        ['virtio 0:1 /guest/nimbos.bin', 70001, true],
      ],
    );
    assert.ok(c.deploys.every((d: any) => d.seconds > 0 && d.write_s > 0 && d.seconds >= d.load_s + d.write_s));
    assert.ok(c.phases.deploy > 0, 'deploying is a phase of its own');
    const log = readFileSync(path.join(r.out, c.transcript, 'console.log'), 'utf8');
    assert.match(log, /fatmkdir virtio 0:1 \/guest\/arceos/, 'the nested folder was created on the card');
    assert.match(log, /196613 bytes read/, 'read back on the board');
    // And on the host, after the run, from the card itself.
    const disk = path.join(r.out, c.transcript, 'virtual-sd.img');
    assert.ok(
      (await fromCard(disk, '/guest/arceos/arceos-aarch64.bin')).equals(
        readFileSync(path.join(guestsDir, 'arceos-aarch64.bin')),
      ),
    );
    assert.ok((await fromCard(disk, '/guest/nimbos.bin')).equals(readFileSync(path.join(guestsDir, 'nimbos.bin'))));
    const sector64 = readFileSync(disk).subarray(64 * 512, 64 * 512 + 176);
    assert.ok(sector64.equals(readFileSync(raw)), 'the raw image is at byte 32768 of the card');

    assert.deepEqual(
      c.vms.map((v: any) => [v.id, v.name, v.verdict, v.matched]),
      [
        [1, 'arceos', 'pass', 'Hello, world!'],
        [2, 'nimbos', 'pass', 'Hello world from user mode program!'],
      ],
    );
    assert.ok(c.vms.every((v: any) => v.booted_s >= v.created_s && v.first_output_s >= 0));
  });

  it('fails the case when one VM fails to boot, and says which; preflight warnings stay in results.json', async () => {
    const s = axvisorSetup({
      case: (d) => (d.images.kernel = standinVm2Fails),
      build: (d) => d.features.push('driver/rk3568-clk'),
    });
    const r = await hil(['run', ...board, '--suite', s.caseFile]);
    assert.equal(r.exitCode, 1, r.stdout);
    const c = r.results.cases[0];
    assert.equal(c.verdict, 'fail');
    assert.equal(c.reason, 'VM[2] "nimbos" boot failed: InvalidInput');
    assert.deepEqual(
      c.vms.map((v: any) => v.verdict),
      ['pass', 'fail'],
    );
    assert.match(
      r.stdout,
      /^preflight warning: .*build-aarch64-unknown-none-softfloat\.toml: features: "driver\/rk3568-clk" is for RK3568/m,
    );
    assert.deepEqual(
      c.preflight.map((f: any) => [f.level, f.key]),
      [['warning', 'features']],
    );
  });

  it('fails a VM created under another name than its config gives', async () => {
    const s = axvisorSetup({
      vms: { nimbos: (d) => (d.base.name = 'nimbos-rt') },
      case: (d) => {
        d.axvisor.vms = { arceos: d.axvisor.vms.arceos };
      },
    });
    const r = await hil(['run', ...board, '--suite', s.caseFile]);
    assert.equal(r.exitCode, 1, r.stdout);
    assert.match(
      r.results.cases[0].reason,
      /^VM\[2\] "nimbos-rt" was created as "nimbos", but its VM config \(.*nimbos-aarch64-qemu-virt-smp1\.toml\) names it "nimbos-rt"/,
    );
  });

  it('times out naming the VM that never came, with what it lacks', async () => {
    const s = axvisorSetup({ case: (d) => (d.timeout = 6), vms: { nimbos: (d) => (d.base.id = 3) } });
    const r = await hil(['run', ...board, '--suite', s.caseFile]);
    assert.equal(r.exitCode, 1, r.stdout);
    const c = r.results.cases[0];
    assert.equal(c.verdict, 'timeout');
    assert.match(c.reason, /VM\[3\] "nimbos" was never created \(no "Creating VM\[3\]" line\) within 6 s/);
    assert.equal(c.vms[1].verdict, 'timeout');
  });

  describe('build step (a stand-in cargo: no Rust toolchain here)', () => {
    const env = {
      PATH: `${path.join(root, 'fixtures', 'stand-in-cargo')}:${process.env.PATH}`,
      HIL_STANDIN_IMAGE: standin,
    };
    const buildCase = () => axvisorSetup({ case: (d) => delete d.images });

    it('runs `cargo axvisor build --config ...` in the workspace and boots what it wrote', async () => {
      const s = buildCase();
      const r = await hil(['run', ...board, '--suite', s.caseFile], { env });
      assert.equal(r.exitCode, 0, r.stdout + r.stderr);
      const c = r.results.cases[0];
      assert.match(c.build.command, /^cargo axvisor build --config \S+build-aarch64-unknown-none-softfloat\.toml$/);
      assert.equal(c.build.exit_code, 0);
      assert.ok(c.phases.build > 0);
      assert.match(r.stdout, /build\| +Compiling axvisor/, 'the build output is streamed to the run log');
      assert.match(readFileSync(path.join(r.out, c.build.log), 'utf8'), /Finished `release` profile/);
      assert.equal(
        c.transfers.find((t: any) => t.role === 'kernel').image,
        path.join(s.ws, 'target/aarch64-unknown-none-softfloat/release/axvisor.bin'),
      );
    });

    it('a failed build is a lab error that names the build, and the board is never powered', async () => {
      const s = buildCase();
      const r = await hil(['run', ...board, '--suite', s.caseFile], { env: { ...env, HIL_STANDIN_FAIL: '1' } });
      assert.equal(r.exitCode, 2, r.stdout);
      const c = r.results.cases[0];
      assert.equal(c.verdict, 'error');
      assert.equal(c.phase, 'build');
      assert.match(
        c.reason,
        /^build "cargo axvisor build --config .*" failed \(exit 101\): error: could not compile `axvisor`/,
      );
      assert.equal(c.build.exit_code, 101);
      assert.ok(!existsSync(path.join(r.out, c.transcript, 'power.log')), 'no power command, no QEMU');
      assert.doesNotMatch(readFileSync(path.join(r.out, c.transcript, 'console.timed.log'), 'utf8'), /## power on/);
      assert.deepEqual(await qemu.started(), []);
    });
  });

  it('stops a misaligned run in preflight: exit 3, findings in results.json, the board never powered', async () => {
    const s = axvisorSetup({ vms: { arceos: (d) => (d.kernel.entry_point = 0x9008_0000) } });
    const r = await hil(['run', ...board, '--suite', s.caseFile]);
    assert.equal(r.exitCode, 3, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /^preflight error: .*arceos-aarch64-qemu-virt-smp1\.toml: kernel\.entry_point: 0x90080000 is outside every memory_regions entry/m,
    );
    assert.match(r.stderr, /^hil: preflight found 1 error\(s\); the board was not powered/);
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    assert.equal(r.results.exit_code, 3);
    assert.equal(r.results.preflight_errors[0].key, 'kernel.entry_point');
    assert.ok(!existsSync(path.join(r.out, 'qemu-virt-aarch64-two-vms')), 'nothing ran');
  });

  it('`hil preflight` prints the findings and the VMs it would start', async () => {
    const ok = await hil(['preflight', ...board, '--suite', axvisorSuite]);
    assert.equal(ok.exitCode, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /0 error\(s\), 0 warning\(s\); 1 case\(s\), 2 VM\(s\): 1 arceos \(fs\), 2 nimbos \(fs\)/);
    const s = axvisorSetup({ vms: { arceos: (d) => (d.base.cpu_num = 4) } });
    const bad = await hil(['preflight', ...board, '--suite', s.caseFile, '--json']);
    assert.equal(bad.exitCode, 3);
    const f = JSON.parse(bad.stdout).findings;
    assert.deepEqual(
      f.map((x: any) => [x.level, x.key]),
      [['error', 'base.cpu_num']],
    );
  });
});
