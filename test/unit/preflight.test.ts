// Preflight against VM configs and build configs in the ecosystem's format, each with one
// of the misalignments Axvisor's guide names (and their relatives).
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Finding } from '../../runner/axvisor/findings.js';
import { planJob } from '../../runner/job/00-plan.js';
import { axvisorSetup, deriveToml, guestsDir, tmpDir, virtualBoard, type AxvisorSetup } from '../helpers.js';
import { readFileSync } from 'node:fs';

const require_ = (f: string) => readFileSync(f);

const plan = (setup: AxvisorSetup, board = virtualBoard, o: { workspace?: string } = {}) =>
  planJob({ board, suite: setup.caseFile, ...o }).plans[0];
function findings(setup: AxvisorSetup, board = virtualBoard): Finding[] {
  return plan(setup, board).findings;
}

/** Exactly one finding of `level` whose file ends with `file`, with `key`, matching `re`. */
function expectOne(all: Finding[], level: Finding['level'], file: string, key: string, re: RegExp): void {
  const hits = all.filter((f) => f.level === level && f.file.endsWith(file) && f.key === key && re.test(f.message));
  assert.equal(
    hits.length,
    1,
    `expected one ${level} ${file} ${key} ${re}; got:\n${all.map((f) => `  ${f.level} ${f.file} ${f.key}: ${f.message}`).join('\n') || '  none'}`,
  );
}

const errors = (all: Finding[]) => all.filter((f) => f.level === 'error');

describe('preflight', () => {
  it('finds nothing wrong with the shipped two-VM setup, and maps both guests to host files', () => {
    const s = axvisorSetup();
    const p = plan(s);
    assert.deepEqual(p.findings, []);
    assert.deepEqual(
      p.axvisor!.vms.map((v) => [v.config.id, v.config.name, path.basename(v.files[0].host!)]),
      [
        [1, 'arceos', 'arceos-aarch64.bin'],
        [2, 'nimbos', 'nimbos.bin'],
      ],
    );
  });

  it('an empty vm_configs is no finding: the VMs may come with --vmconfigs', () => {
    const s = axvisorSetup({ build: (d) => (d.vm_configs = []), case: (d) => delete d.axvisor.vms });
    assert.deepEqual(findings(s), []);
  });

  it('a vm_configs entry with no file behind it', () => {
    const s = axvisorSetup({ build: (d) => d.vm_configs.push('configs/vms/linux-aarch64-qemu-virt.toml') });
    expectOne(
      findings(s),
      'error',
      'build-aarch64-unknown-none-softfloat.toml',
      'vm_configs[2]',
      /configs\/vms\/linux-aarch64-qemu-virt\.toml does not exist/,
    );
  });

  it('an fs guest whose kernel_path has no host image', () => {
    const s = axvisorSetup({ vms: { nimbos: (d) => (d.kernel.kernel_path = '/guest/nimbos-v2.bin') } });
    expectOne(
      findings(s),
      'error',
      'nimbos-aarch64-qemu-virt-smp1.toml',
      'kernel.kernel_path',
      /no host file for "\/guest\/nimbos-v2\.bin".*guest_images/,
    );
  });

  it('a guest_images entry that points at nothing', () => {
    const s = axvisorSetup({
      case: (d) => (d.axvisor.guest_images = { '/guest/nimbos.bin': '/nonexistent/nimbos.bin' }),
    });
    expectOne(
      findings(s),
      'error',
      'nimbos-aarch64-qemu-virt-smp1.toml',
      'kernel.kernel_path',
      /maps to \/nonexistent\/nimbos\.bin, which does not exist/,
    );
  });

  it('an entry point outside every memory region', () => {
    const s = axvisorSetup({ vms: { arceos: (d) => (d.kernel.entry_point = 0x9008_0000) } });
    const all = findings(s);
    expectOne(
      all,
      'error',
      'arceos-aarch64-qemu-virt-smp1.toml',
      'kernel.entry_point',
      /0x90080000 is outside every memory_regions entry \(0x50000000\.\.0x54000000\)/,
    );
  });

  it('a load address outside the regions, and an image that does not fit its region', () => {
    const outside = axvisorSetup({
      vms: {
        arceos: (d) => {
          d.kernel.kernel_load_addr = 0x4000_0000;
          d.kernel.entry_point = 0x4000_0000;
        },
      },
    });
    expectOne(
      findings(outside),
      'error',
      'arceos-aarch64-qemu-virt-smp1.toml',
      'kernel.kernel_load_addr',
      /0x40000000 is outside every memory_regions entry/,
    );
    // 196,613 bytes loaded 64 KiB below the end of a 64 MiB region.
    const tight = axvisorSetup({
      vms: {
        arceos: (d) => {
          d.kernel.kernel_load_addr = 0x53ff_0000;
          d.kernel.entry_point = 0x53ff_0000;
        },
      },
    });
    expectOne(
      findings(tight),
      'error',
      'arceos-aarch64-qemu-virt-smp1.toml',
      'kernel.kernel_load_addr',
      /runs past the end of its region 0x50000000\.\.0x54000000 by 131077 bytes/,
    );
  });

  it('an entry point in the region but outside the loaded image is a warning', () => {
    const s = axvisorSetup({ vms: { arceos: (d) => (d.kernel.entry_point = 0x5000_0000) } });
    const all = findings(s);
    expectOne(
      all,
      'warning',
      'arceos-aarch64-qemu-virt-smp1.toml',
      'kernel.entry_point',
      /not inside the loaded image/,
    );
    assert.deepEqual(errors(all), []);
  });

  it('identity-mapped regions of two VMs that overlap, unless shared; MAP_ALLOC ones never collide', () => {
    const overlap = (d: any) => (d.kernel.memory_regions = [[0x5200_0000, 0x0800_0000, 0x7, 1]]);
    const s = axvisorSetup({
      vms: {
        nimbos: (d) => {
          overlap(d);
          d.kernel.entry_point = 0x5808_0000;
        },
      },
    });
    expectOne(
      findings(s),
      'error',
      'nimbos-aarch64-qemu-virt-smp1.toml',
      'kernel.memory_regions',
      /overlaps 0x50000000\.\.0x54000000 of VM 1 "arceos".* in 0x52000000\.\.0x54000000/,
    );
    const shared = axvisorSetup({
      vms: { nimbos: overlap },
      case: (d) => (d.axvisor.shared_regions = [[0x5200_0000, 0x0200_0000]]),
    });
    assert.deepEqual(errors(findings(shared)), []);
    const alloc = axvisorSetup({
      vms: {
        arceos: (d) => (d.kernel.memory_regions[0][3] = 0),
        nimbos: (d) => (d.kernel.memory_regions = [[0x5000_0000, 0x0900_0000, 0x7, 0]]),
      },
    });
    assert.deepEqual(errors(findings(alloc)), []);
  });

  it('more vCPUs than physical CPU ids', () => {
    const s = axvisorSetup({ vms: { arceos: (d) => (d.base.cpu_num = 2) } });
    expectOne(
      findings(s),
      'error',
      'arceos-aarch64-qemu-virt-smp1.toml',
      'base.cpu_num',
      /2 vCPUs but phys_cpu_ids lists 1 \(0x0\)/,
    );
  });

  it("dtb_path without dtb_load_addr is an error; dtb_load_addr without dtb_path is not (Axvisor builds the DTB from the host's)", () => {
    const a = axvisorSetup({
      vms: { arceos: (d) => (d.kernel.dtb_path = '/guest/arceos/virt.dtb') },
      case: (d) => (d.axvisor.guest_images = { '/guest/arceos/virt.dtb': path.join(guestsDir, 'nimbos.bin') }),
    });
    expectOne(
      findings(a),
      'error',
      'arceos-aarch64-qemu-virt-smp1.toml',
      'kernel.dtb_load_addr',
      /dtb_path is "\/guest\/arceos\/virt\.dtb" but dtb_load_addr is not set/,
    );
    const b = axvisorSetup({ vms: { arceos: (d) => (d.kernel.dtb_load_addr = 0x5000_0000) } });
    assert.deepEqual(findings(b), []);
  });

  it("an fs guest's ramdisk_path and UEFI firmware are checked, placed and deployed like kernel_path", () => {
    const s = axvisorSetup({
      vms: {
        nimbos: (d) => {
          d.kernel.ramdisk_path = '/guest/initrd.cpio';
          d.kernel.ramdisk_load_addr = 0x5900_0000;
        },
      },
    });
    expectOne(
      findings(s),
      'error',
      'nimbos-aarch64-qemu-virt-smp1.toml',
      'kernel.ramdisk_path',
      /no host file for "\/guest\/initrd\.cpio"/,
    );
    const outside = axvisorSetup({
      vms: {
        nimbos: (d) => {
          d.kernel.ramdisk_path = '/guest/nimbos.bin';
          d.kernel.ramdisk_load_addr = 0x7000_0000;
        },
      },
    });
    expectOne(
      findings(outside),
      'error',
      'nimbos-aarch64-qemu-virt-smp1.toml',
      'kernel.ramdisk_load_addr',
      /0x70000000 is outside every memory_regions entry/,
    );
    const fw = axvisorSetup({
      vms: {
        nimbos: (d) =>
          Object.assign(d.kernel, {
            enable_bios: true,
            boot_protocol: 'uefi',
            uefi_firmware_path: '/guest/OVMF_CODE.fd',
            bios_load_addr: 0x5800_0000,
          }),
      },
    });
    expectOne(
      findings(fw),
      'error',
      'nimbos-aarch64-qemu-virt-smp1.toml',
      'kernel.uefi_firmware_path',
      /no host file for "\/guest\/OVMF_CODE\.fd"/,
    );
    const ok = axvisorSetup({
      vms: {
        nimbos: (d) => {
          d.kernel.ramdisk_path = '/guest/nimbos.bin';
          d.kernel.ramdisk_load_addr = 0x5900_0000;
        },
      },
    });
    const p = plan(ok);
    assert.deepEqual(p.findings, []);
    assert.deepEqual(
      p.axvisor!.vms[1].files.map((f) => [f.role, f.boardPath]),
      [
        ['guest', '/guest/nimbos.bin'],
        ['ramdisk', '/guest/nimbos.bin'],
      ],
    );
  });

  it('a "memory" guest\'s relative kernel_path is found beside its VM config, as Axvisor\'s build reads it', () => {
    const s = axvisorSetup({
      vms: {
        arceos: (d) => {
          d.kernel.image_location = 'memory';
          d.kernel.kernel_path = 'arceos.bin';
        },
      },
    });
    writeFileSync(path.join(path.dirname(s.vmFile('arceos')), 'arceos.bin'), Buffer.alloc(4096));
    const p = plan(s);
    assert.deepEqual(p.findings, []);
    assert.equal(p.axvisor!.vms[0].files[0].host, path.join(path.dirname(s.vmFile('arceos')), 'arceos.bin'));
  });

  it("a target for another architecture than the board's", () => {
    const s = axvisorSetup({ build: (d) => (d.target = 'riscv64gc-unknown-none-elf') });
    expectOne(
      findings(s),
      'error',
      'build-aarch64-unknown-none-softfloat.toml',
      'target',
      /builds for riscv64, but board qemu-virt-aarch64 is aarch64/,
    );
  });

  it('a build config or VM config for another board is a warning', () => {
    const s = axvisorSetup({ build: (d) => d.features.push('driver/rk3568-clk') });
    expectOne(
      findings(s),
      'warning',
      'build-aarch64-unknown-none-softfloat.toml',
      'features',
      /"driver\/rk3568-clk" is for RK3568, but the board is qemu-virt-aarch64/,
    );
  });

  it('two VMs with one id, and a malformed VM config with its line', () => {
    const dup = axvisorSetup({ vms: { nimbos: (d) => (d.base.id = 1) } });
    expectOne(findings(dup), 'error', 'nimbos-aarch64-qemu-virt-smp1.toml', 'base.id', /VM id 1 is also the id of/);
    const bad = axvisorSetup();
    writeFileSync(bad.vmFile('nimbos'), '[base]\nid = 2\nname = "nimbos\n');
    expectOne(findings(bad), 'error', 'nimbos-aarch64-qemu-virt-smp1.toml', '', /^3:\d+: malformed TOML/);
    const missing = axvisorSetup({ vms: { nimbos: (d) => delete d.kernel.kernel_path } });
    expectOne(findings(missing), 'error', 'nimbos-aarch64-qemu-virt-smp1.toml', 'kernel.kernel_path', /missing/);
  });

  it('fs guests on a board with no storage to deploy to; deploy = false makes it a note', () => {
    const noStorage = deriveToml(virtualBoard, (d) => delete d.storage);
    const s = axvisorSetup();
    expectOne(
      findings(s, noStorage),
      'error',
      'arceos-aarch64-qemu-virt-smp1.toml',
      'kernel.image_location',
      /has no \[storage\] table/,
    );
    const off = axvisorSetup({ case: (d) => (d.axvisor.deploy = false) });
    const all = findings(off, noStorage);
    assert.deepEqual(errors(all), []);
    expectOne(all, 'note', 'nimbos-aarch64-qemu-virt-smp1.toml', 'kernel.kernel_path', /not deployed by this run/);
  });

  it('a TGOSKits tree: the build config in a folder above the case, vm_configs relative to the workspace root', () => {
    const ws = tmpDir('hil-tgoskits-');
    writeFileSync(path.join(ws, 'Cargo.toml'), '[workspace]\nmembers = []\n');
    const vms = path.join(ws, 'os', 'axvisor', 'configs', 'vms');
    mkdirSync(vms, { recursive: true });
    const s0 = axvisorSetup();
    for (const n of ['arceos', 'nimbos'] as const)
      writeFileSync(path.join(vms, path.basename(s0.vmFile(n))), require_(s0.vmFile(n)));
    const wrapper = path.join(ws, 'test-suit', 'axvisor', 'normal', 'board-qemu-virt-aarch64');
    mkdirSync(path.join(wrapper, 'smoke'), { recursive: true });
    writeFileSync(
      path.join(wrapper, 'build-aarch64-unknown-none-softfloat.toml'),
      'target = "aarch64-unknown-none-softfloat"\nlog = "Info"\nfeatures = []\nvm_configs = ["os/axvisor/configs/vms/arceos-aarch64-qemu-virt-smp1.toml"]\n',
    );
    const caseFile = path.join(wrapper, 'smoke', 'board-qemu-virt-aarch64-arceos.toml');
    writeFileSync(caseFile, 'board_type = "qemu-virt-aarch64"\nsuccess_regex = ["x"]\n');
    const p = planJob({ board: virtualBoard, suite: caseFile }).plans[0];
    assert.equal(
      p.case.name,
      'smoke/qemu-virt-aarch64-arceos',
      'named by its folder under the build wrapper, as TGOSKits names it',
    );
    assert.equal(p.axvisor!.build!.file, path.join(wrapper, 'build-aarch64-unknown-none-softfloat.toml'));
    assert.deepEqual(p.axvisor!.vmConfigFiles, [path.join(vms, 'arceos-aarch64-qemu-virt-smp1.toml')]);
    assert.equal(p.imageSource, 'build');
    assert.deepEqual(p.build!.args, [
      'axvisor',
      'build',
      '--config',
      'test-suit/axvisor/normal/board-qemu-virt-aarch64/build-aarch64-unknown-none-softfloat.toml',
    ]);
    assert.equal(p.build!.cwd, ws);
    assert.deepEqual(p.build!.outputs, [
      path.join(ws, 'target/aarch64-unknown-none-softfloat/release/axvisor.bin'),
      path.join(ws, 'target/aarch64-unknown-none-softfloat/release/axvisor'),
    ]);
    const group = planJob({ board: virtualBoard, suite: path.join(ws, 'test-suit', 'axvisor', 'normal') });
    assert.deepEqual(
      group.plans.map((x) => x.case.name),
      ['smoke/qemu-virt-aarch64-arceos'],
    );
  });

  it('per-VM patterns for a VM the configs do not have', () => {
    const s = axvisorSetup({ case: (d) => (d.axvisor.vms.linux = { success_regex: ['login:'] }) });
    expectOne(
      findings(s),
      'error',
      'board-qemu-virt-aarch64-two-vms.toml',
      'axvisor.vms.linux',
      /no VM named "linux" in vm_configs \(VMs: arceos, nimbos\)/,
    );
  });

  it('a raw write at an offset that is not block-aligned', () => {
    const s = axvisorSetup({
      case: (d) =>
        (d.storage_write = [
          { image: path.join(path.dirname(virtualBoard), '..', 'fixtures', 'hello', 'hello.Image'), offset: 1000 },
        ]),
    });
    expectOne(
      findings(s),
      'error',
      'board-qemu-virt-aarch64-two-vms.toml',
      'storage_write[0].offset',
      /1000 is not a multiple of the block size 512/,
    );
  });

  it("builds the users' command line: cargo axvisor build --config <build config>, in the workspace", () => {
    const s = axvisorSetup({
      case: (d) => {
        d.build = { output: 'target/axvisor.bin' };
        delete d.images;
      },
    });
    const p = plan(s, virtualBoard, { workspace: s.ws });
    assert.equal(p.build!.command, 'cargo');
    assert.deepEqual(
      p.build!.args,
      ['axvisor', 'build', '--config', s.buildFile],
      'a build config outside the workspace is passed by its absolute path',
    );
    assert.deepEqual(p.build!.outputs, [path.join(s.ws, 'target/axvisor.bin')]);
  });
});
