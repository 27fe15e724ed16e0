// Preflight against VM configs and build configs in the ecosystem's format, each with one
// of the misalignments Axvisor's guide names (and their relatives).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadBoard } from '../../runner/config/board.js';
import { loadCase } from '../../runner/config/case.js';
import { preflightCase } from '../../runner/lab/preflight.js';
import type { Finding } from '../../runner/axvisor/findings.js';
import { buildCommand } from '../../runner/axvisor/build.js';
import { axvisorSetup, deriveToml, virtualBoard, type AxvisorSetup } from '../helpers.js';

const board = () => loadBoard(virtualBoard);

function findings(setup: AxvisorSetup, b = board()): Finding[] {
  return preflightCase(loadCase(setup.caseFile), b).findings;
}

/** Exactly one finding of `level` whose file ends with `file`, with `key`, matching `re`. */
function expectOne(all: Finding[], level: Finding['level'], file: string, key: string, re: RegExp): void {
  const hits = all.filter((f) => f.level === level && f.file.endsWith(file) && f.key === key && re.test(f.message));
  assert.equal(hits.length, 1, `expected one ${level} ${file} ${key} ${re}; got:\n${all.map((f) => `  ${f.level} ${f.file} ${f.key}: ${f.message}`).join('\n') || '  none'}`);
}

const errors = (all: Finding[]) => all.filter((f) => f.level === 'error');

describe('preflight', () => {
  it('finds nothing wrong with the shipped two-VM setup, and maps both guests to host files', () => {
    const s = axvisorSetup();
    const pre = preflightCase(loadCase(s.caseFile), board());
    assert.deepEqual(pre.findings, []);
    assert.deepEqual(pre.plan!.vms.map((v) => [v.config.id, v.config.name, path.basename(v.kernel!)]), [[1, 'arceos', 'arceos-aarch64.bin'], [2, 'nimbos', 'nimbos.bin']]);
  });

  it('empty vm_configs is an error naming the build config and key', () => {
    const s = axvisorSetup({ build: (d) => (d.vm_configs = []) });
    expectOne(findings(s), 'error', 'build-aarch64-unknown-none-softfloat.toml', 'vm_configs', /empty: Axvisor would start no VM/);
  });

  it('a vm_configs entry with no file behind it', () => {
    const s = axvisorSetup({ build: (d) => d.vm_configs.push('configs/vms/linux-aarch64-qemu-virt.toml') });
    expectOne(findings(s), 'error', 'build-aarch64-unknown-none-softfloat.toml', 'vm_configs[2]', /configs\/vms\/linux-aarch64-qemu-virt\.toml does not exist/);
  });

  it('an fs guest whose kernel_path has no host image', () => {
    const s = axvisorSetup({ vms: { nimbos: (d) => (d.kernel.kernel_path = '/guest/nimbos-v2.bin') } });
    expectOne(findings(s), 'error', 'nimbos-aarch64-qemu-virt-smp1.toml', 'kernel.kernel_path', /no host file for "\/guest\/nimbos-v2\.bin".*guest_images/);
  });

  it('a guest_images entry that points at nothing', () => {
    const s = axvisorSetup({ case: (d) => (d.axvisor.guest_images = { '/guest/nimbos.bin': '/nonexistent/nimbos.bin' }) });
    expectOne(findings(s), 'error', 'nimbos-aarch64-qemu-virt-smp1.toml', 'kernel.kernel_path', /maps to \/nonexistent\/nimbos\.bin, which does not exist/);
  });

  it('an entry point outside every memory region', () => {
    const s = axvisorSetup({ vms: { arceos: (d) => (d.kernel.entry_point = 0x9008_0000) } });
    const all = findings(s);
    expectOne(all, 'error', 'arceos-aarch64-qemu-virt-smp1.toml', 'kernel.entry_point', /0x90080000 is outside every memory_regions entry \(0x50000000\.\.0x54000000\)/);
  });

  it('a load address outside the regions, and an image that does not fit its region', () => {
    const outside = axvisorSetup({ vms: { arceos: (d) => { d.kernel.kernel_load_addr = 0x4000_0000; d.kernel.entry_point = 0x4000_0000; } } });
    expectOne(findings(outside), 'error', 'arceos-aarch64-qemu-virt-smp1.toml', 'kernel.kernel_load_addr', /0x40000000 is outside every memory_regions entry/);
    // 196,613 bytes loaded 64 KiB below the end of a 64 MiB region.
    const tight = axvisorSetup({ vms: { arceos: (d) => { d.kernel.kernel_load_addr = 0x53ff_0000; d.kernel.entry_point = 0x53ff_0000; } } });
    expectOne(findings(tight), 'error', 'arceos-aarch64-qemu-virt-smp1.toml', 'kernel.kernel_load_addr', /runs past the end of its region 0x50000000\.\.0x54000000 by 131077 bytes/);
  });

  it('an entry point in the region but outside the loaded image is a warning', () => {
    const s = axvisorSetup({ vms: { arceos: (d) => (d.kernel.entry_point = 0x5000_0000) } });
    const all = findings(s);
    expectOne(all, 'warning', 'arceos-aarch64-qemu-virt-smp1.toml', 'kernel.entry_point', /not inside the loaded image/);
    assert.deepEqual(errors(all), []);
  });

  it('identity-mapped regions of two VMs that overlap, unless shared; MAP_ALLOC ones never collide', () => {
    const overlap = (d: any) => (d.kernel.memory_regions = [[0x5200_0000, 0x0800_0000, 0x7, 1]]);
    const s = axvisorSetup({ vms: { nimbos: (d) => { overlap(d); d.kernel.entry_point = 0x5808_0000; } } });
    expectOne(findings(s), 'error', 'nimbos-aarch64-qemu-virt-smp1.toml', 'kernel.memory_regions', /overlaps 0x50000000\.\.0x54000000 of VM 1 "arceos".* in 0x52000000\.\.0x54000000/);
    const shared = axvisorSetup({ vms: { nimbos: overlap }, case: (d) => (d.axvisor.shared_regions = [[0x5200_0000, 0x0200_0000]]) });
    assert.deepEqual(errors(findings(shared)), []);
    const alloc = axvisorSetup({
      vms: { arceos: (d) => (d.kernel.memory_regions[0][3] = 0), nimbos: (d) => (d.kernel.memory_regions = [[0x5000_0000, 0x0900_0000, 0x7, 0]]) },
    });
    assert.deepEqual(errors(findings(alloc)), []);
  });

  it('more vCPUs than physical CPU ids', () => {
    const s = axvisorSetup({ vms: { arceos: (d) => (d.base.cpu_num = 2) } });
    expectOne(findings(s), 'error', 'arceos-aarch64-qemu-virt-smp1.toml', 'base.cpu_num', /2 vCPUs but phys_cpu_ids lists 1 \(0x0\)/);
  });

  it('dtb_path without dtb_load_addr, and dtb_load_addr without dtb_path', () => {
    const a = axvisorSetup({ vms: { arceos: (d) => (d.kernel.dtb_path = '/guest/arceos/virt.dtb') } });
    expectOne(findings(a), 'error', 'arceos-aarch64-qemu-virt-smp1.toml', 'kernel.dtb_load_addr', /dtb_path is "\/guest\/arceos\/virt\.dtb" but dtb_load_addr is not set/);
    const b = axvisorSetup({ vms: { arceos: (d) => (d.kernel.dtb_load_addr = 0x5000_0000) } });
    expectOne(findings(b), 'error', 'arceos-aarch64-qemu-virt-smp1.toml', 'kernel.dtb_path', /dtb_load_addr is 0x50000000 but no dtb_path/);
  });

  it('a target for another architecture than the board\'s', () => {
    const s = axvisorSetup({ build: (d) => (d.target = 'riscv64gc-unknown-none-elf') });
    expectOne(findings(s), 'error', 'build-aarch64-unknown-none-softfloat.toml', 'target', /builds for riscv64, but board qemu-virt-aarch64 is aarch64/);
  });

  it('a build config or VM config for another board is a warning', () => {
    const s = axvisorSetup({ build: (d) => d.features.push('driver/rk3568-clk') });
    expectOne(findings(s), 'warning', 'build-aarch64-unknown-none-softfloat.toml', 'features', /"driver\/rk3568-clk" is for RK3568, but the board is qemu-virt-aarch64/);
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

  it('fs guests on a board with no storage to deploy to; deploy = false makes it a warning', () => {
    const noStorage = loadBoard(deriveToml(virtualBoard, (d) => delete d.storage));
    const s = axvisorSetup();
    expectOne(findings(s, noStorage), 'error', 'arceos-aarch64-qemu-virt-smp1.toml', 'kernel.image_location', /has no \[storage\] table/);
    const off = axvisorSetup({ case: (d) => (d.axvisor.deploy = false) });
    const all = findings(off, noStorage);
    assert.deepEqual(errors(all), []);
    expectOne(all, 'warning', 'nimbos-aarch64-qemu-virt-smp1.toml', 'kernel.kernel_path', /not deployed by this run/);
  });

  it('per-VM patterns for a VM the configs do not have', () => {
    const s = axvisorSetup({ case: (d) => (d.axvisor.vms.linux = { success_regex: ['login:'] }) });
    expectOne(findings(s), 'error', 'board-qemu-virt-aarch64-two-vms.toml', 'axvisor.vms.linux', /no VM named "linux" in vm_configs \(VMs: arceos, nimbos\)/);
  });

  it('a raw write at an offset that is not block-aligned', () => {
    const s = axvisorSetup({ case: (d) => (d.storage_write = [{ image: path.join(path.dirname(virtualBoard), '..', 'fixtures', 'hello', 'hello.Image'), offset: 1000 }]) });
    expectOne(findings(s), 'error', 'board-qemu-virt-aarch64-two-vms.toml', 'storage_write[0].offset', /1000 is not a multiple of the block size 512/);
  });

  it('builds the users\' command line: --config and one --vmconfigs per VM config, relative to the workspace', () => {
    const s = axvisorSetup({ case: (d) => { d.axvisor.build = { output: 'target/axvisor.bin' }; delete d.images; } });
    const pre = preflightCase(loadCase(s.caseFile), board());
    const { command, args } = buildCommand(pre.plan!);
    assert.equal(command, 'cargo');
    assert.deepEqual(args.slice(0, 3), ['axvisor', 'build', '--config']);
    assert.equal(args[3], s.buildFile, 'a build config outside the workspace is passed by its absolute path');
    assert.deepEqual(args.slice(4), ['--vmconfigs', 'configs/vms/arceos-aarch64-qemu-virt-smp1.toml', '--vmconfigs', 'configs/vms/nimbos-aarch64-qemu-virt-smp1.toml']);
  });
});
