// The users' real files (test/corpus, SOURCES.md), unchanged: every board case plans (what
// `hil run --dry-run` does) on its board, every VM config passes preflight on its board
// with no finding, every QEMU case is run as ostool runs it, every run config is a board.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBoard, type Board } from '../../runner/drivers/board.js';
import { loadCase } from '../../runner/config/case.js';
import { loadQemuCase } from '../../runner/config/qemu-case.js';
import { readBuildConfig } from '../../runner/axvisor/build-config.js';
import { FindingList } from '../../runner/axvisor/findings.js';
import { buildConfigOf, planAxvisor } from '../../runner/axvisor/plan.js';
import { preflight } from '../../runner/axvisor/preflight.js';
import { planJob } from '../../runner/job/00-plan.js';
import { qemuArgs } from '../../runner/baseline/record.js';
import { caseFitsBoard } from '../../runner/job/00-plan.js';
import { boardCases, buildConfigs, corpusRoot, qemuCases, runConfigs, tgoskits, vmConfigs } from '../corpus/corpus.js';
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

/** The architecture of every QEMU case of the corpus, written from its file name (qemu-<arch>[-<variant>]), not computed. */
const QEMU_ARCH: Record<string, string> = {
  'axvisor/.github/workflows/qemu-aarch64.toml': 'aarch64',
  'axvisor/.github/workflows/qemu-x86_64-kvm.toml': 'x86_64',
  'axvisor/.github/workflows/qemu-x86_64.toml': 'x86_64',
  'tgoskits/os/axvisor/.github/workflows/qemu-aarch64.toml': 'aarch64',
  'tgoskits/os/axvisor/.github/workflows/qemu-riscv64.toml': 'riscv64',
  'tgoskits/os/axvisor/.github/workflows/qemu-x86_64-arceos-uefi.toml': 'x86_64',
  'tgoskits/os/axvisor/.github/workflows/qemu-x86_64-kvm.toml': 'x86_64',
  'tgoskits/os/axvisor/.github/workflows/qemu-x86_64-uefi.toml': 'x86_64',
  'tgoskits/os/axvisor/.github/workflows/qemu-x86_64.toml': 'x86_64',
  'tgoskits/os/axvisor/configs/qemu/qemu-aarch64.toml': 'aarch64',
  'tgoskits/os/axvisor/configs/qemu/qemu-loongarch64.toml': 'loongarch64',
  'tgoskits/os/axvisor/configs/qemu/qemu-riscv64.toml': 'riscv64',
  'tgoskits/os/axvisor/configs/qemu/qemu-x86_64-linux.toml': 'x86_64',
  'tgoskits/os/axvisor/configs/qemu/qemu-x86_64.toml': 'x86_64',
  'tgoskits/test-suit/arceos/axtest/smoke/qemu-aarch64.toml': 'aarch64',
  'tgoskits/test-suit/arceos/axtest/smoke/qemu-loongarch64.toml': 'loongarch64',
  'tgoskits/test-suit/arceos/axtest/smoke/qemu-riscv64.toml': 'riscv64',
  'tgoskits/test-suit/arceos/axtest/smoke/qemu-x86_64.toml': 'x86_64',
  'tgoskits/test-suit/arceos/c/qemu-aarch64.toml': 'aarch64',
  'tgoskits/test-suit/arceos/c/qemu-loongarch64.toml': 'loongarch64',
  'tgoskits/test-suit/arceos/c/qemu-riscv64.toml': 'riscv64',
  'tgoskits/test-suit/arceos/c/qemu-x86_64.toml': 'x86_64',
  'tgoskits/test-suit/arceos/rust/qemu-aarch64.toml': 'aarch64',
  'tgoskits/test-suit/arceos/rust/qemu-loongarch64.toml': 'loongarch64',
  'tgoskits/test-suit/arceos/rust/qemu-riscv64.toml': 'riscv64',
  'tgoskits/test-suit/arceos/rust/qemu-x86_64.toml': 'x86_64',
  'tgoskits/test-suit/axvisor/normal/qemu/smoke/qemu-aarch64.toml': 'aarch64',
  'tgoskits/test-suit/axvisor/normal/qemu/smoke/qemu-loongarch64.toml': 'loongarch64',
  'tgoskits/test-suit/axvisor/normal/qemu/smoke/qemu-riscv64.toml': 'riscv64',
  'tgoskits/test-suit/axvisor/normal/qemu/smoke/qemu-x86_64-svm.toml': 'x86_64',
  'tgoskits/test-suit/axvisor/normal/qemu/smoke/qemu-x86_64-vmx.toml': 'x86_64',
  'tgoskits/test-suit/axvisor/uefi/qemu-nimbos/qemu-x86_64.toml': 'x86_64',
  'tgoskits/test-suit/starryos/qemu/tty-console-input-burst/qemu-aarch64.toml': 'aarch64',
  'tgoskits/test-suit/starryos/qemu/tty-console-input-burst/qemu-loongarch64.toml': 'loongarch64',
  'tgoskits/test-suit/starryos/qemu/tty-console-input-burst/qemu-riscv64.toml': 'riscv64',
  'tgoskits/test-suit/starryos/qemu/tty-console-input-burst/qemu-x86_64.toml': 'x86_64',
};

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
      assert.match(
        spec.args.join(' '),
        /^(axvisor|starry|arceos) build --config ((test-suit|apps)\/.*build-[^/]*|os\/StarryOS\/configs\/board\/[^/]+)\.toml$/,
        f,
      );
      planned++;
    }
    assert.equal(planned, 30);
  });

  it('a TGOSKits suite folder runs the cases for the board given, naming the others', () => {
    const p = planJob({
      board: 'roc-rk3568-pc',
      suite: path.join(tgoskits, 'test-suit/axvisor/normal'),
      image: helloImage,
      env: ENV,
    });
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
      writeFileSync(
        path.join(dir, `build-${target[board.arch]}.toml`),
        `target = "${target[board.arch]}"\nlog = "Info"\nfeatures = []\nvm_configs = [${JSON.stringify(f)}]\n`,
      );
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
    writeFileSync(
      bad,
      readFileSync(src, 'utf8')
        .replace('entry_point = 0x8008_0000', 'entry_point = 0x1_0008_0000')
        .replace('cpu_num = 1', 'cpu_num = 2'),
    );
    writeFileSync(
      path.join(dir, 'build-aarch64-unknown-none-softfloat.toml'),
      `target = "riscv64gc-unknown-none-elf"\nvm_configs = [${JSON.stringify(bad)}]\n`,
    );
    writeFileSync(path.join(dir, 'board-roc-rk3568-pc-linux.toml'), 'success_regex = ["x"]\n');
    const board = loadBoard('roc-rk3568-pc', { env: ENV });
    const plan = planAxvisor(path.join(dir, 'board-roc-rk3568-pc-linux.toml'), undefined, { file: board.file })!;
    const keys = preflight(plan, board)
      .filter((x) => x.level === 'error')
      .map((x) => x.key)
      .sort();
    assert.deepEqual(keys, ['base.cpu_num', 'kernel.entry_point', 'target']);
  });

  it('every real build config reads', () => {
    for (const f of buildConfigs()) {
      const found = new FindingList();
      assert.ok(readBuildConfig(f, found), f);
      assert.deepEqual(found.all, [], f);
    }
  });

  it(`every real QEMU case (${Object.keys(QEMU_ARCH).length}) runs with its own architecture, as TGOSKits pairs it with its build`, () => {
    const qs = qemuCases();
    assert.deepEqual(
      qs.map((f) => path.relative(corpusRoot, f)),
      Object.keys(QEMU_ARCH).sort(),
      'the table names every QEMU case of the corpus',
    );
    const per: Record<string, number> = {};
    // UEFI cases take the firmware from Debian's packages; any file stands in for it here.
    process.env.HIL_UEFI_CODE = process.env.HIL_UEFI_VARS = dtb;
    try {
      for (const f of qs) {
        const want = QEMU_ARCH[path.relative(corpusRoot, f)];
        const qc = loadQemuCase(f, { workspace: tgoskits });
        assert.equal(qc.arch, want, `${f}: from ${qc.archFrom}`);
        assert.equal(qc.qemu, `qemu-system-${want}`, f);
        per[want] = (per[want] ?? 0) + 1;
        assert.ok(qc.args.includes('-machine') || qc.args.includes('-M'), `${f}: a machine is named`);
        const { args } = qemuArgs(qc, helloImage, tmpDir());
        if (!qc.uefi) assert.equal(args[args.indexOf('-kernel') + 1], helloImage, `${f}: -kernel with the built image`);
        else
          assert.ok(
            args.includes(`if=pflash,format=raw,unit=0,readonly=on,file=${dtb}`) && !args.includes('-kernel'),
            `${f}: UEFI in pflash, no -kernel`,
          );
        assert.ok(!args.some((a) => a.includes('${workspace')), `${f}: \${workspace} expanded`);
      }
    } finally {
      delete process.env.HIL_UEFI_CODE;
      delete process.env.HIL_UEFI_VARS;
    }
    assert.deepEqual(per, { aarch64: 8, x86_64: 15, riscv64: 7, loongarch64: 6 });
    // The seven files that used to get the first build config of their folder (aarch64).
    const vmx = loadQemuCase(path.join(tgoskits, 'test-suit/axvisor/normal/qemu/smoke/qemu-x86_64-vmx.toml'), {
      workspace: tgoskits,
    });
    assert.equal(
      path.basename(vmx.buildConfig!),
      'build-x86_64-unknown-none-vmx.toml',
      'the variant pairs with its own build config',
    );
    const svm = loadQemuCase(path.join(tgoskits, 'test-suit/axvisor/normal/qemu/smoke/qemu-x86_64-svm.toml'), {
      workspace: tgoskits,
    });
    assert.equal(path.basename(svm.buildConfig!), 'build-x86_64-unknown-none-svm.toml');
    const burst = loadQemuCase(
      path.join(tgoskits, 'test-suit/starryos/qemu/tty-console-input-burst/qemu-riscv64.toml'),
      { workspace: tgoskits },
    );
    assert.equal(path.basename(burst.buildConfig!), 'build-riscv64gc-unknown-none-elf.toml');
    const x86 = loadQemuCase(path.join(tgoskits, 'test-suit/axvisor/normal/qemu/smoke/qemu-x86_64-svm.toml'), {
      workspace: tgoskits,
    });
    assert.ok(x86.args.includes('q35,smbus=off,usb=off,graphics=off'));
    const uefi = loadQemuCase(path.join(tgoskits, 'test-suit/axvisor/uefi/qemu-nimbos/qemu-x86_64.toml'), {
      workspace: tgoskits,
    });
    assert.equal(uefi.qemu, 'qemu-system-x86_64');
    assert.equal(uefi.uefi, true);
    const a64 = loadQemuCase(path.join(tgoskits, 'test-suit/axvisor/normal/qemu/smoke/qemu-aarch64.toml'), {
      workspace: tgoskits,
    });
    assert.ok(
      a64.args.includes(`id=disk0,if=none,format=raw,file=${tgoskits}/tmp/axbuild/rootfs/rootfs-aarch64-alpine.img`),
      '${workspace} is the workspace',
    );
    assert.ok(
      a64.args.includes('virt,virtualization=on,gic-version=3') && !a64.args.includes('virt'),
      "the case's machine, no default added",
    );
    assert.deepEqual(a64.args.slice(-2), ['-nic', 'none'], 'no network in the args: -nic none, no ROM needed');
    const bare = loadQemuCase(path.join(tgoskits, 'test-suit/arceos/c/qemu-x86_64.toml'), { workspace: tgoskits });
    assert.deepEqual(
      bare.args.slice(bare.args.indexOf('-machine'), bare.args.indexOf('-machine') + 2),
      ['-machine', 'q35'],
      'x86_64: q35, as ostool adds it',
    );
    const rv = loadQemuCase(path.join(tgoskits, 'test-suit/arceos/c/qemu-riscv64.toml'), { workspace: tgoskits });
    assert.ok(!rv.args.includes('-bios'), "riscv64: QEMU's own default firmware, OpenSBI, as under ostool");
  });

  it("StarryOS's board run configs (configs/board/<board>-board.toml) build with their sibling <board>.toml, as TGOSKits' xtask does", () => {
    const dir = path.join(tgoskits, 'os/StarryOS/configs/board');
    const runConfigs = readdirSync(dir)
      .filter((f) => f.endsWith('-board.toml'))
      .sort();
    assert.deepEqual(runConfigs, [
      'aka-00-sg2002-board.toml',
      'jl-lsgd2k10-board.toml',
      'licheerv-nano-sg2002-board.toml',
      'visionfive2-board.toml',
    ]);
    // licheerv-nano-sg2002's dtb_file is not in the corpus: its files, unchanged, beside a stand-in.
    const copy = path.join(tmpDir(), 'os/StarryOS/configs/board');
    mkdirSync(copy, { recursive: true });
    for (const f of readdirSync(dir).filter((f) => f.startsWith('licheerv-nano-sg2002')))
      copyFileSync(path.join(dir, f), path.join(copy, f));
    writeFileSync(path.join(copy, 'licheerv-nano-sg2002.dtb'), 'a device tree');
    for (const f of runConfigs) {
      const board = f.replace(/-board\.toml$/, '');
      const file = board === 'licheerv-nano-sg2002' ? path.join(copy, f) : path.join(dir, f);
      const workspace =
        board === 'licheerv-nano-sg2002' ? path.dirname(path.dirname(path.dirname(path.dirname(copy)))) : tgoskits;
      assert.equal(buildConfigOf(file), path.join(path.dirname(file), `${board}.toml`), f);
      const p = planJob({ board: RUN_CONFIG, suite: file, workspace, env: ENV });
      assert.deepEqual(p.errors, [], f);
      assert.equal(p.plans.length, 1, f);
      assert.equal(p.plans[0].imageSource, 'build', f);
      assert.deepEqual(
        p.plans[0].build!.args,
        ['starry', 'build', '--config', `os/StarryOS/configs/board/${board}.toml`],
        f,
      );
      const target = readBuildConfig(path.join(path.dirname(file), `${board}.toml`), new FindingList())!.target!;
      assert.ok(p.plans[0].build!.outputs[0].includes(`/target/${target}/release/starryos`), f);
      // With the image given, nothing is built.
      assert.equal(
        planJob({ board: RUN_CONFIG, suite: file, image: helloImage, env: ENV }).plans[0].imageSource,
        'image-option',
        f,
      );
    }
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
