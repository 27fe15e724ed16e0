// The users' real files (test/corpus, SOURCES.md), unchanged: every board case plans (what
// `hil run --dry-run` does) on its board, every VM config passes preflight on its board
// with no finding, every QEMU case is run as ostool runs it, every run config is a board.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBoard, type Board } from '../../runner/config/board.js';
import { loadCase } from '../../runner/config/case.js';
import { loadQemuCase } from '../../runner/config/qemu-case.js';
import { readBuildConfig } from '../../runner/axvisor/build-config.js';
import { FindingList } from '../../runner/axvisor/findings.js';
import { planAxvisor } from '../../runner/axvisor/plan.js';
import { preflight } from '../../runner/axvisor/preflight.js';
import { planJob } from '../../runner/job/00-plan.js';
import { qemuArgs } from '../../runner/baseline/record.js';
import { caseFitsBoard } from '../../runner/job/00-plan.js';
import { boardCases, buildConfigs, qemuCases, runConfigs, tgoskits, vmConfigs } from '../corpus/corpus.js';
import { helloImage, root, tmpDir } from '../helpers.js';

const dtb = path.join(tmpDir(), 'board.dtb');
writeFileSync(dtb, 'a device tree');
const ENV = {
  ...process.env,
  BOARD_COMM_UART_DEV: '/dev/ttyUSB0',
  BOARD_COMM_UART_BAUD: '1500000',
  BOARD_POWER_RESET: 'relay reset',
  BOARD_POWER_OFF: 'relay off',
  BOARD_DTB: dtb,
  TFTP_DIR: '/srv/tftp',
  BOARD_COMM_NET_IFACE: 'eth1',
};
const SHIPPED = ['roc-rk3568-pc', 'orangepi-5-plus', 'phytiumpi'];
const RUN_CONFIG = path.join(tgoskits, '.github/workflows/uboot.toml');

/** The board a lab would give a case: a shipped board when one is for it, else their own ostool run config. */
function boardFor(caseFile: string): string {
  const c = loadCase(caseFile, { env: ENV });
  return SHIPPED.find((b) => caseFitsBoard(c, loadBoard(b, { env: ENV }))) ?? RUN_CONFIG;
}

describe("the users' real files, unchanged", function () {
  this.timeout(60_000);

  it('every real board case plans on its board: with a prebuilt image (--image), and built in the workspace', () => {
    const cases = boardCases();
    assert.equal(cases.length, 30);
    let planned = 0;
    for (const f of cases) {
      const p = planJob({ board: boardFor(f), suite: f, image: helloImage, env: ENV });
      assert.deepEqual(p.errors, [], f);
      assert.equal(p.plans.length, 1, f);
      assert.equal(p.plans[0].imageSource, 'image-option');
      // Where nothing is given, the case is built as `cargo axvisor test board` builds it.
      const b = planJob({ board: boardFor(f), suite: f, workspace: tgoskits, env: ENV });
      assert.equal(b.plans[0].imageSource, 'build', f);
      const spec = b.plans[0].build!;
      assert.equal(spec.command, 'cargo');
      assert.match(spec.args.join(' '), /^(axvisor|starry|arceos) build --config ((test-suit|apps)\/.*build-[^/]*|os\/StarryOS\/configs\/board\/[^/]+)\.toml$/, f);
      planned++;
    }
    assert.equal(planned, 30);
  });

  it('a TGOSKits suite folder runs the cases for the board given, naming the others', () => {
    const p = planJob({ board: 'roc-rk3568-pc', suite: path.join(tgoskits, 'test-suit/axvisor/normal'), image: helloImage, env: ENV });
    assert.deepEqual(
      p.plans.map((x) => x.case.name),
      ['smoke/roc-rk3568-pc-linux'],
    );
    assert.ok(p.skipped.length >= 5);
    assert.deepEqual(p.errors, []);
    const rk = p.plans[0];
    assert.equal(rk.guest, 'linux');
    assert.deepEqual(
      rk.axvisor!.vms.map((v) => `${v.config.id} ${v.config.name} ${v.config.imageLocation}`),
      ['2 linux fs'],
      'vm_configs are relative to the TGOSKits root',
    );
    assert.equal(rk.fit, true, 'the shipped board boots a FIT, as ostool does');
  });

  it(`every real VM config (${vmConfigs().length}) passes preflight on its own board, with no finding`, () => {
    const vb = loadBoard('qemu-virt-aarch64');
    const family = (f: string): Partial<Board> => {
      const n = f.toLowerCase();
      if (/x86_64|asus/.test(n)) return { arch: 'x86_64', name: 'x86', soc: 'x86_64' };
      if (/riscv64/.test(n)) return { arch: 'riscv64', name: 'qemu-riscv64', soc: '' };
      if (/loongarch/.test(n)) return { arch: 'loongarch64', name: 'qemu-loongarch64', soc: '' };
      if (/rk3568/.test(n)) return { name: 'roc-rk3568-pc', soc: 'Rockchip RK3568' };
      if (/rk3588|orangepi/.test(n)) return { name: 'orangepi-5-plus', soc: 'Rockchip RK3588' };
      if (/e2000|phytium/.test(n)) return { name: 'phytiumpi', soc: 'Phytium E2000' };
      if (/tac[-_]e400/.test(n)) return { name: 'tac-e400', soc: 'tac-e400' };
      if (/a1000/.test(n)) return { name: 'a1000', soc: 'a1000' };
      if (/s100/.test(n)) return { name: 'rdk-s100', soc: 's100' };
      return { name: 'qemu-aarch64', soc: 'QEMU virt' };
    };
    const target = {
      aarch64: 'aarch64-unknown-none-softfloat',
      x86_64: 'x86_64-unknown-none',
      riscv64: 'riscv64gc-unknown-none-elf',
      loongarch64: 'loongarch64-unknown-none-softfloat',
    };
    let clean = 0;
    for (const f of vmConfigs()) {
      const board = { ...vb, aliases: [], description: '', ...family(f) } as Board;
      const dir = mkdtempSync(path.join(os.tmpdir(), 'hil-vm-'));
      writeFileSync(path.join(dir, `build-${target[board.arch]}.toml`), `target = "${target[board.arch]}"\nlog = "Info"\nfeatures = []\nvm_configs = [${JSON.stringify(f)}]\n`);
      writeFileSync(path.join(dir, 'board-x.toml'), 'success_regex = ["x"]\n');
      const plan = planAxvisor(path.join(dir, 'board-x.toml'), undefined, { file: board.file })!;
      assert.equal(plan.vms.length, 1, f);
      const found = preflight(plan, board).filter((x) => x.level !== 'note');
      assert.deepEqual(found, [], f);
      clean++;
    }
    assert.equal(clean, 59);
  });

  it('preflight still finds what is wrong in a real config made wrong', () => {
    const src = path.join(tgoskits, 'os/axvisor/configs/vms/roc-rk3568-pc/linux-smp1.toml');
    const dir = tmpDir();
    const bad = path.join(dir, 'linux-smp1.toml');
    writeFileSync(bad, readFileSync(src, 'utf8').replace('entry_point = 0x8008_0000', 'entry_point = 0x1_0008_0000').replace('cpu_num = 1', 'cpu_num = 2'));
    writeFileSync(path.join(dir, 'build-aarch64-unknown-none-softfloat.toml'), `target = "riscv64gc-unknown-none-elf"\nvm_configs = [${JSON.stringify(bad)}]\n`);
    writeFileSync(path.join(dir, 'board-roc-rk3568-pc-linux.toml'), 'success_regex = ["x"]\n');
    const board = loadBoard('roc-rk3568-pc', { env: ENV });
    const plan = planAxvisor(path.join(dir, 'board-roc-rk3568-pc-linux.toml'), undefined, { file: board.file })!;
    const keys = preflight(plan, board)
      .filter((x) => x.level === 'error')
      .map((x) => x.key)
      .sort();
    assert.deepEqual(keys, ['base.cpu_num', 'kernel.entry_point', 'target']);
  });

  it('every real build config reads, and every real QEMU case runs as ostool runs it', () => {
    for (const f of buildConfigs()) {
      const found = new FindingList();
      assert.ok(readBuildConfig(f, found), f);
      assert.deepEqual(found.all, [], f);
    }
    const qs = qemuCases();
    let other = 0;
    // UEFI cases take the firmware from Debian's packages; any file stands in for it here.
    process.env.HIL_UEFI_CODE = process.env.HIL_UEFI_VARS = dtb;
    for (const f of qs) {
      const qc = loadQemuCase(f, { workspace: tgoskits });
      assert.equal(qc.qemu, `qemu-system-${qc.arch}`, f);
      if (qc.arch !== 'aarch64') other++;
      assert.ok(qc.args.includes('-machine') || qc.args.includes('-M'), `${f}: a machine is named`);
      const { args } = qemuArgs(qc, helloImage, tmpDir());
      if (!qc.uefi) assert.equal(args[args.indexOf('-kernel') + 1], helloImage, `${f}: -kernel with the built image`);
      assert.ok(!args.some((a) => a.includes('${workspace')), `${f}: \${workspace} expanded`);
    }
    delete process.env.HIL_UEFI_CODE;
    delete process.env.HIL_UEFI_VARS;
    assert.ok(qs.length >= 30 && other >= 15, `${qs.length} QEMU cases, ${other} not aarch64`);
    const uefi = loadQemuCase(path.join(tgoskits, 'test-suit/axvisor/uefi/qemu-nimbos/qemu-x86_64.toml'), { workspace: tgoskits });
    assert.equal(uefi.qemu, 'qemu-system-x86_64');
    const a64 = loadQemuCase(path.join(tgoskits, 'test-suit/axvisor/normal/qemu/smoke/qemu-aarch64.toml'), { workspace: tgoskits });
    assert.ok(a64.args.includes(`id=disk0,if=none,format=raw,file=${tgoskits}/tmp/axbuild/rootfs/rootfs-aarch64-alpine.img`), '${workspace} is the workspace');
    assert.ok(a64.args.includes('virt,virtualization=on,gic-version=3') && !a64.args.includes('virt'), "the case's machine, no default added");
    assert.deepEqual(a64.args.slice(-2), ['-nic', 'none'], 'no network in the args: -nic none, no ROM needed');
    const bare = loadQemuCase(path.join(tgoskits, 'test-suit/arceos/c/qemu-x86_64.toml'), { workspace: tgoskits });
    if (!bare.args.some((a) => a === '-machine' || a === '-M')) assert.fail('a machine is always named');
  });

  it('every real ostool run config is a board', () => {
    const rcs = runConfigs();
    assert.ok(rcs.length >= 4);
    for (const f of rcs) {
      const b = loadBoard(f, { env: ENV });
      assert.equal(b.console.kind, 'serial', f);
      assert.equal(b.anyBoardType, true);
    }
    assert.ok(root);
  });
});
