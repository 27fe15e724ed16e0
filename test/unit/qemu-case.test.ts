// Which architecture a QEMU case runs with, as ostool derives it and TGOSKits' xtask pairs
// the case with its build: laid out here in temporary trees shaped like TGOSKits' own
// (test-suit build wrappers, a StarryOS app, os/StarryOS/configs/{qemu,board}).
// HIL_TGOSKITS=<a TGOSKits checkout> also plans every qemu-*.toml of that checkout.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { elfArch, loadQemuCase, nameArch, qemuKey } from '../../runner/config/qemu-case.js';
import { qemuArgs } from '../../runner/baseline/record.js';
import { helloImage, root, tmpDir } from '../helpers.js';

const TARGET: Record<string, string> = {
  aarch64: 'aarch64-unknown-none-softfloat',
  riscv64: 'riscv64gc-unknown-none-elf',
  x86_64: 'x86_64-unknown-none',
  loongarch64: 'loongarch64-unknown-none-softfloat',
};
const QEMU_CASE = 'args = ["-nographic"]\nsuccess_regex = ["done"]\nfail_regex = []\nto_bin = true\nuefi = false\n';

function tree(files: Record<string, string>): string {
  const top = tmpDir('hil-qemu-case-');
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(top, rel)), { recursive: true });
    writeFileSync(path.join(top, rel), text);
  }
  return top;
}
const build = (arch: string) => `target = "${TARGET[arch]}"\nfeatures = []\nlog = "Info"\n`;

describe('the architecture of a QEMU case', () => {
  it('pairs qemu-<arch>[-<variant>].toml with the build config of that architecture and variant, not the first one sorted', () => {
    const top = tree({
      'qemu/build-aarch64-unknown-none-softfloat.toml': build('aarch64'),
      'qemu/build-loongarch64-unknown-none-softfloat.toml': build('loongarch64'),
      'qemu/build-riscv64gc-unknown-none-elf.toml': build('riscv64'),
      'qemu/build-x86_64-unknown-none-svm.toml': build('x86_64'),
      'qemu/build-x86_64-unknown-none-vmx.toml': build('x86_64'),
      'qemu/smoke/qemu-aarch64.toml': QEMU_CASE,
      'qemu/smoke/qemu-riscv64.toml': QEMU_CASE,
      'qemu/smoke/qemu-loongarch64.toml': QEMU_CASE,
      'qemu/smoke/qemu-x86_64-vmx.toml': QEMU_CASE,
      'qemu/smoke/qemu-x86_64-svm.toml': QEMU_CASE,
    });
    const expected: Record<string, [string, string, string]> = {
      'qemu-aarch64': ['aarch64', 'build-aarch64-unknown-none-softfloat.toml', 'virt'],
      'qemu-riscv64': ['riscv64', 'build-riscv64gc-unknown-none-elf.toml', 'virt'],
      'qemu-loongarch64': ['loongarch64', 'build-loongarch64-unknown-none-softfloat.toml', 'virt'],
      'qemu-x86_64-vmx': ['x86_64', 'build-x86_64-unknown-none-vmx.toml', 'q35'],
      'qemu-x86_64-svm': ['x86_64', 'build-x86_64-unknown-none-svm.toml', 'q35'],
    };
    for (const [name, [arch, buildFile, machine]] of Object.entries(expected)) {
      const qc = loadQemuCase(path.join(top, 'qemu/smoke', `${name}.toml`), { workspace: top });
      assert.equal(qc.arch, arch, name);
      assert.equal(qc.qemu, `qemu-system-${arch}`, name);
      assert.equal(path.basename(qc.buildConfig!), buildFile, name);
      assert.deepEqual(
        qc.args.slice(qc.args.indexOf('-machine'), qc.args.indexOf('-machine') + 2),
        ['-machine', machine],
        name,
      );
    }
  });

  it("a StarryOS app's qemu-<arch>-<anything>.toml goes with its plain build-<target>.toml", () => {
    const top = tree({
      'apps/starry/apache/build-riscv64gc-unknown-none-elf.toml': build('riscv64'),
      'apps/starry/apache/build-x86_64-unknown-none.toml': build('x86_64'),
      'apps/starry/apache/build-aarch64-unknown-none-softfloat.toml': build('aarch64'),
      'apps/starry/apache/qemu-riscv64.toml': QEMU_CASE,
      'apps/starry/apache/qemu/phase/qemu-x86_64-phase20.toml': QEMU_CASE,
      'apps/starry/other/qemu-loongarch64.toml': QEMU_CASE,
    });
    assert.equal(loadQemuCase(path.join(top, 'apps/starry/apache/qemu-riscv64.toml')).arch, 'riscv64');
    const phase = loadQemuCase(path.join(top, 'apps/starry/apache/qemu/phase/qemu-x86_64-phase20.toml'));
    assert.equal(phase.arch, 'x86_64');
    assert.equal(path.basename(phase.buildConfig!), 'build-x86_64-unknown-none.toml');
    // No build config of its architecture anywhere above it: the name's architecture.
    const other = loadQemuCase(path.join(top, 'apps/starry/other/qemu-loongarch64.toml'));
    assert.equal(other.arch, 'loongarch64');
    assert.match(other.archFrom, /file name/);
  });

  it('configs/qemu/qemu-<machine>.toml takes the architecture from the build configs/board keeps under that name (qemu-k230.toml: k230-canmv.toml)', () => {
    const top = tree({
      'os/StarryOS/configs/qemu/qemu-k230.toml':
        'args = ["-machine", "k230", "-nographic"]\nsuccess_regex = []\nfail_regex = []\nto_bin = true\nuefi = false\n',
      'os/StarryOS/configs/qemu/qemu-riscv64.toml': QEMU_CASE,
      'os/StarryOS/configs/board/k230-canmv.toml': `target = "riscv64gc-unknown-none-elf"\nfeatures = ["k230"]\nlog = "Info"\n`,
      'os/StarryOS/configs/board/k230-canmv-board.toml': 'board_type = "K230"\nsuccess_regex = []\nfail_regex = []\n',
      'os/StarryOS/configs/board/qemu-riscv64.toml': build('riscv64'),
    });
    const k230 = loadQemuCase(path.join(top, 'os/StarryOS/configs/qemu/qemu-k230.toml'));
    assert.equal(k230.arch, 'riscv64');
    assert.equal(k230.qemu, 'qemu-system-riscv64');
    assert.equal(path.basename(k230.buildConfig!), 'k230-canmv.toml');
    assert.ok(k230.args.includes('k230') && !k230.args.includes('virt'), "the case's own machine");
    assert.equal(
      path.basename(loadQemuCase(path.join(top, 'os/StarryOS/configs/qemu/qemu-riscv64.toml')).buildConfig!),
      'qemu-riscv64.toml',
    );
  });

  it('takes the architecture from the image when it is an ELF and nothing pairs (ostool reads the built ELF)', () => {
    assert.equal(elfArch(path.join(root, 'fixtures/hello/hello.elf')), 'aarch64');
    assert.equal(elfArch(path.join(root, 'fixtures/riscv64-hello/hello.elf')), 'riscv64');
    assert.equal(elfArch(helloImage), undefined, 'a raw image says nothing');
    const top = tree({ 'guest/qemu.toml': QEMU_CASE, 'elsewhere/qemu-k230.toml': QEMU_CASE });
    const qc = loadQemuCase(path.join(top, 'guest/qemu.toml'), {
      image: path.join(root, 'fixtures/riscv64-hello/hello.elf'),
    });
    assert.equal(qc.arch, 'riscv64');
    assert.match(qc.archFrom, /ELF machine/);
    // Nothing to go by: one line that says what to give.
    assert.throws(
      () => loadQemuCase(path.join(top, 'elsewhere/qemu-k230.toml'), { image: helloImage }),
      /qemu-k230\.toml: cannot tell the architecture: .*give the build \(--build-config <build-<target>\.toml>\) or the built ELF \(--image\)/,
    );
    // ... and the build given is enough, as `cargo starry qemu --config` is for ostool.
    writeFileSync(path.join(top, 'k230-canmv.toml'), build('riscv64'));
    assert.equal(
      loadQemuCase(path.join(top, 'elsewhere/qemu-k230.toml'), { buildConfig: path.join(top, 'k230-canmv.toml') }).arch,
      'riscv64',
    );
  });

  it('refuses an ELF of another architecture than the build the case pairs with', () => {
    const top = tree({ 'w/build-riscv64gc-unknown-none-elf.toml': build('riscv64'), 'w/qemu-riscv64.toml': QEMU_CASE });
    assert.throws(
      () => loadQemuCase(path.join(top, 'w/qemu-riscv64.toml'), { image: path.join(root, 'fixtures/hello/hello.elf') }),
      /qemu-riscv64\.toml: the image .*hello\.elf is a aarch64 ELF, but this case goes with .*build-riscv64gc-unknown-none-elf\.toml \(target riscv64gc-unknown-none-elf, riscv64\)/,
    );
  });

  it('x86_64 UEFI cases get OVMF from Debian, and the image as EFI/BOOT/BOOTX64.EFI', function () {
    const top = tree({
      'u/build-x86_64-unknown-none.toml': build('x86_64'),
      'u/qemu-x86_64.toml': QEMU_CASE.replace('uefi = false', 'uefi = true'),
    });
    const qc = loadQemuCase(path.join(top, 'u/qemu-x86_64.toml'));
    const work = tmpDir();
    const { args } = qemuArgs(qc, helloImage, work);
    assert.ok(
      args.includes('if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd'),
      args.join(' '),
    );
    assert.ok(statSync(path.join(work, 'esp/EFI/BOOT/BOOTX64.EFI')).isFile());
    assert.ok(!args.includes('-kernel'));
  });

  it('reads the names as xtask does', () => {
    assert.equal(qemuKey('/x/qemu-x86_64-vmx.toml'), 'x86_64-vmx');
    assert.equal(nameArch('/x/qemu-x86_64-vmx.toml'), 'x86_64');
    assert.equal(nameArch('/x/qemu-k230.toml'), undefined);
    assert.equal(nameArch('/x/hello.toml'), undefined);
  });

  const checkout = process.env.HIL_TGOSKITS;
  if (checkout)
    it(`every qemu-*.toml of the TGOSKits checkout HIL_TGOSKITS plans with the architecture its name (or its build) says`, () => {
      const files = execFileSync('find', [checkout!, '-name', 'qemu-*.toml', '-not', '-path', '*/target/*'], {
        encoding: 'utf8',
      })
        .trim()
        .split('\n')
        .sort();
      const per: Record<string, number> = {};
      let notCases = 0;
      for (const f of files) {
        if (!/^\s*args\s*=/m.test(readFileSync(f, 'utf8'))) {
          notCases++; // the build configs StarryOS, ArceOS and Axvisor name qemu-<arch>.toml (configs/board/)
          continue;
        }
        const qc = loadQemuCase(f, { workspace: checkout });
        assert.equal(qc.arch, nameArch(f) ?? 'riscv64', `${f}: from ${qc.archFrom}`);
        per[qc.arch] = (per[qc.arch] ?? 0) + 1;
      }
      console.log(`      ${files.length - notCases} QEMU cases: ${JSON.stringify(per)}`);
    });
});
