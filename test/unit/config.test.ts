import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadBoard } from '../../runner/drivers/board.js';
import { loadCase, OSTOOL_FAIL_PATTERNS } from '../../runner/config/case.js';
import { expandEnvString, redact } from '../../runner/config/env.js';
import { loadSuite, tgoskitsName } from '../../runner/config/suite.js';
import { ConfigError } from '../../runner/errors.js';
import { tgoskits } from '../corpus/corpus.js';
import { deriveToml, helloCaseWith, root, tmpDir, virtualBoard } from '../helpers.js';

const configError = (re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
  assert.match(e.message, re);
  assert.ok(!e.message.includes('\n'), 'one line');
  return true;
};

/** The variables TGOSKits' board CI sets for its ostool run config. */
const CI_ENV = {
  BOARD_COMM_UART_DEV: '/dev/ttyUSB0',
  BOARD_COMM_UART_BAUD: '1500000',
  BOARD_POWER_RESET: 'relay reset',
  BOARD_POWER_OFF: 'relay off',
  BOARD_DTB: '/srv/rk3568.dtb',
  TFTP_DIR: '/srv/tftp',
  BOARD_COMM_NET_IFACE: 'eth1',
};

describe('board files', () => {
  it('the shipped boards read the variables TGOSKits board CI sets', () => {
    const rk = loadBoard('roc-rk3568-pc', { env: CI_ENV });
    assert.deepEqual(rk.console, {
      kind: 'serial',
      settings: { port: '/dev/ttyUSB0', baud: 1500000, appear_timeout: 10, reappear_timeout: 10 },
    });
    assert.deepEqual(rk.power, { kind: 'shell', settings: { reset: 'relay reset', off: 'relay off' } });
    assert.deepEqual(rk.load.settings.tftp, { dir: '/srv/tftp', interface: 'eth1', dhcp: true });
    assert.equal(rk.load.image_format, 'fit');
    assert.equal(rk.load.dtb_file, '/srv/rk3568.dtb');
    assert.equal(
      loadBoard('phytiumpi', { env: { ...CI_ENV, BOARD_COMM_UART_BAUD: '115200' } }).console.settings.baud,
      115200,
    );
    const v = loadBoard('qemu-virt-aarch64');
    assert.equal(v.power.kind, 'qemu');
    assert.equal(v.console.kind, 'pty');
    assert.equal(v.load.kernel_addr, '${kernel_addr_r}', 'U-Boot variables pass through env expansion');
  });

  it('names the unset environment variable, the file and the key', () => {
    assert.throws(
      () => loadBoard('roc-rk3568-pc', { env: {} }),
      configError(/roc-rk3568-pc\.toml: console\.port: environment variable BOARD_COMM_UART_DEV is not set/),
    );
  });

  it("takes an ostool U-Boot run config as it is, with ostool's meaning", () => {
    const b = loadBoard(path.join(tgoskits, '.github/workflows/uboot.toml'), { env: CI_ENV });
    assert.equal(b.console.kind, 'serial');
    assert.equal(b.console.settings.baud, 1500000, 'baud_rate is a string in ostool');
    assert.deepEqual(b.power.settings, { reset: 'relay reset', off: 'relay off' });
    assert.equal(b.uboot.interrupt, 'ctrl-c', 'ostool sends Ctrl-C until a prompt shows');
    assert.equal(b.load.image_format, 'fit', 'ostool boots a FIT image');
    assert.deepEqual(b.load.methods, ['tftp', 'ymodem']);
    assert.deepEqual(
      b.load.settings.tftp,
      { dir: '/srv/tftp', interface: 'eth1', dhcp: true },
      'no board_ip: DHCP; the server is this host on [net] interface',
    );
    assert.equal(b.caseDefaults?.dtb_file, '/srv/rk3568.dtb');
    assert.equal(b.timeouts.case, 300);
    assert.equal(b.anyBoardType, true);
    // No [net]: the image goes over the console.
    const s100 = loadBoard(path.join(tgoskits, '.github/workflows/uboot-rdk-s100.toml'), { env: CI_ENV });
    assert.deepEqual(s100.load.methods, ['ymodem']);
    assert.equal(s100.console.settings.baud, 921600);
    assert.deepEqual(s100.caseDefaults?.uboot_cmd, ['run ab_select_cmd', 'run avb_boot']);
  });

  it('rejects a wrong value naming the key and what is expected', () => {
    const f = deriveToml(virtualBoard, (d) => (d.uboot.interrupt = 'magic'));
    assert.throws(
      () => loadBoard(f),
      configError(/qemu-virt-aarch64\.toml: uboot\.interrupt: Invalid enum value\. Expected 'key' \| 'ctrl-c'/),
    );
    const g = deriveToml(virtualBoard, (d) => (d.console = { kind: 'serial', port: '/dev/x', baud: 'fast' }));
    assert.throws(() => loadBoard(g), configError(/console\.baud: .*baud rate/));
  });

  it("checks each driver's table with the settings that driver declares", () => {
    assert.throws(
      () => loadBoard(deriveToml(virtualBoard, (d) => (d.console.kind = 'carrier-pigeon'))),
      configError(/console\.kind: unknown console kind "carrier-pigeon": known kinds are serial, pty, tcp, rfc2217/),
    );
    assert.throws(
      () => loadBoard(deriveToml(virtualBoard, (d) => (d.console = { kind: 'tcp' }))),
      configError(/console\.port: Required/),
    );
    assert.throws(
      () => loadBoard(deriveToml(virtualBoard, (d) => (d.load.tftp.sever_ip = '1'))),
      configError(/load\.tftp: unknown key\(s\) "sever_ip"/),
    );
    assert.throws(
      () => loadBoard(deriveToml(virtualBoard, (d) => (d.load.methods = ['tftp', 'kermit']))),
      configError(/load\.methods: unknown load method "kermit": known methods are tftp, ymodem/),
    );
    assert.throws(
      () => loadBoard(deriveToml(virtualBoard, (d) => (d.power.args = ['-M', 'virt']))),
      configError(/power\.args: the virtual board's console must be a pty chardev/),
    );
  });

  it('rejects a misspelt key instead of ignoring it', () => {
    assert.throws(
      () => loadBoard(deriveToml(virtualBoard, (d) => (d.uboot.promt = '=> '))),
      configError(/uboot: unknown key\(s\) "promt"/),
    );
  });

  it('gives the line and column of malformed TOML', () => {
    const f = path.join(tmpDir(), 'broken.toml');
    writeFileSync(f, 'name = "x"\n[console\nbaud = 1\n');
    assert.throws(() => loadBoard(f), configError(/broken\.toml:2:\d+: malformed TOML/));
  });

  it('lists the known boards for an unknown name', () => {
    assert.throws(
      () => loadBoard('rk9999'),
      configError(/unknown board "rk9999": known boards are .*qemu-virt-aarch64/),
    );
  });

  it("finds a lab's own boards before the runner's", () => {
    const lab = tmpDir();
    mkdirSync(path.join(lab, 'boards'));
    deriveToml(virtualBoard, (d) => (d.soc = "the lab's own"), path.join(lab, 'boards'));
    const before = process.env.HIL_LAB;
    process.env.HIL_LAB = lab;
    try {
      assert.equal(loadBoard('qemu-virt-aarch64').soc, "the lab's own");
    } finally {
      if (before === undefined) delete process.env.HIL_LAB;
      else process.env.HIL_LAB = before;
    }
  });
});

describe("case files, with ostool's meaning", () => {
  it("reads a case and resolves images relative to it; ostool's own failure patterns are always there", () => {
    const c = loadCase(path.join(root, 'suites', 'virtual-board', 'hello.toml'));
    assert.equal(c.name, 'hello');
    assert.equal(c.images!.kernel, path.join(root, 'fixtures', 'hello', 'hello.Image'));
    assert.equal(c.success[0].source, '(?m)^hil-hello: bare-metal guest done\\s*$');
    assert.deepEqual(
      c.fail.map((p) => p.source),
      ['(?i)\\bpanic(?:ked)?\\b', '(?i)kernel panic'],
      "the case's own, then the one default it lacks",
    );
    const empty = loadCase(
      path.join(tgoskits, 'test-suit/axvisor/normal/board-orangepi-5-plus/smoke/board-orangepi-5-plus-linux.toml'),
    );
    assert.deepEqual(
      empty.fail.map((p) => p.source),
      OSTOOL_FAIL_PATTERNS,
      'fail_regex = [] still fails on a panic in ostool',
    );
  });

  it('treats an empty string as absent, as ostool normalises it', () => {
    const c = loadCase(
      helloCaseWith((d) =>
        Object.assign(d, { shell_prefix: '  ', shell_init_cmd: '', dtb_file: ' ', uboot_cmd: ['  ', ''] }),
      ),
    );
    assert.equal(c.shellPrefix, undefined);
    assert.equal(c.shellInitCmd, undefined);
    assert.equal(c.dtbFile, undefined);
    assert.equal(c.ubootCmd, undefined);
    assert.equal(loadCase(helloCaseWith((d) => (d.shell_prefix = ' ~ # '))).shellPrefix, '~ #', 'trimmed');
  });

  it('reads dtb_file and the FIT addresses the real cases give', () => {
    const dir = tmpDir();
    writeFileSync(path.join(dir, 'board.dtb'), 'dtb');
    const c = loadCase(
      helloCaseWith(
        (d) =>
          Object.assign(d, {
            dtb_file: 'board.dtb',
            kernel_load_addr: '0x400000',
            fit_load_addr: '0x5480000',
            bootm_addr: 0x5480000,
          }),
        dir,
      ),
    );
    assert.equal(c.dtbFile, path.join(dir, 'board.dtb'));
    assert.deepEqual(c.fit, { kernel_load_addr: '0x400000', fit_load_addr: '0x5480000', bootm_addr: '0x5480000' });
    assert.throws(
      () => loadCase(helloCaseWith((d) => (d.dtb_file = 'nope.dtb'))),
      configError(/dtb_file: image .*nope\.dtb does not exist/),
    );
  });

  it('names a missing image and how to get it', () => {
    assert.throws(
      () => loadCase(helloCaseWith((d) => (d.images.kernel = 'nope/Image'))),
      configError(/hello\.toml: images\.kernel: image .*nope\/Image does not exist; build the image or fix the path/),
    );
  });

  it('names a pattern Rust rejects, with the key', () => {
    assert.throws(
      () => loadCase(helloCaseWith((d) => (d.fail_regex = ['ok', '(?<=a)b']))),
      configError(/hello\.toml: fail_regex\[1\]: pattern "\(\?<=a\)b" is not a valid Rust regex: look-around/),
    );
  });

  it("needs shell_prefix for shell_init_cmd (ostool's rule), and warns of a case that cannot pass", () => {
    assert.throws(
      () => loadCase(helloCaseWith((d) => (d.shell_init_cmd = 'ls'))),
      configError(/shell_init_cmd: needs shell_prefix/),
    );
    assert.match(
      loadCase(helloCaseWith((d) => (d.success_regex = []))).warnings.join(),
      /success_regex: empty: the case can never pass/,
    );
  });

  it("lists keys neither ostool nor the runner knows, and accepts the ecosystem's other keys", () => {
    const c = loadCase(
      helloCaseWith((d) =>
        Object.assign(d, { to_bin: true, uefi: false, colour: 'red', server: '10.0.0.2', port: 2999 }),
      ),
    );
    assert.deepEqual(c.unknownKeys, ['colour']);
  });

  it('says what a QEMU case is when it is given as a case', () => {
    const q = path.join(tgoskits, 'test-suit/axvisor/normal/qemu/smoke/qemu-aarch64.toml');
    assert.throws(
      () => loadCase(q),
      configError(/this is a QEMU case \(it has QEMU "args"\), not a board case: .*hil baseline record --qemu-case/),
    );
    assert.throws(() => loadSuite(q), configError(/QEMU case/));
  });
});

describe('suites, discovered and named as TGOSKits does', () => {
  it('names a case by its folder under the build wrapper, then its board', () => {
    const suite = loadSuite(path.join(tgoskits, 'test-suit', 'starryos'));
    const names = suite.cases.map((c) => c.name);
    for (const n of [
      'boot/orangepi-5-plus',
      'lsusb/orangepi-5-plus',
      'net-smoke/orangepi-5-plus',
      'boot/aka-00-sg2002',
      'boot/visionfive2',
    ])
      assert.ok(names.includes(n), n);
    assert.equal(new Set(names).size, names.length, 'several board-orangepi-5-plus.toml, all named apart');
    const ax = path.join(tgoskits, 'test-suit', 'axvisor', 'normal');
    assert.equal(
      tgoskitsName(path.join(ax, 'board-roc-rk3568-pc/smoke/board-roc-rk3568-pc-linux.toml'), ax),
      'smoke/roc-rk3568-pc-linux',
    );
    assert.equal(
      tgoskitsName(path.join(ax, 'board-orangepi-5-plus/starry/smoke/board-orangepi-5-plus-starry.toml'), ax),
      'smoke/orangepi-5-plus-starry',
    );
  });

  it('skips build configs (build-*.toml, .build.toml), QEMU cases and VM configs in a suite folder', () => {
    const dir = tmpDir();
    helloCaseWith(() => {}, dir);
    writeFileSync(path.join(dir, 'build-aarch64-unknown-none-softfloat.toml'), 'features = []\nvm_configs = []\n');
    writeFileSync(
      path.join(dir, '.build.toml'),
      'features = []\ntarget = "aarch64-unknown-none-softfloat"\nvm_configs = []\n',
    );
    writeFileSync(path.join(dir, 'qemu-aarch64.toml'), 'args = ["-M", "virt"]\nsuccess_regex = ["x"]\n');
    writeFileSync(path.join(dir, 'linux.toml'), '[base]\nid = 1\n[kernel]\nkernel_path = "x"\n');
    const s = loadSuite(dir);
    assert.deepEqual(
      s.cases.map((c) => c.name),
      ['hello'],
    );
    assert.equal(s.skipped.length, 4);
    assert.throws(
      () => loadSuite('no-such-suite'),
      configError(/unknown suite "no-such-suite": known suites are .*virtual-board/),
    );
  });
});

describe('${env:NAME} expansion', () => {
  it('expands from the environment and leaves U-Boot variables alone', () => {
    assert.equal(expandEnvString('${env:A}-${kernel_addr_r}', 'f: k', { A: 'x' }), 'x-${kernel_addr_r}');
    assert.throws(
      () => expandEnvString('${env:NOPE}', 'f.toml: serial', {}),
      configError(/^f\.toml: serial: environment variable NOPE is not set/),
    );
  });

  it('remembers values of secret-looking variables and masks them', () => {
    expandEnvString('pdu --token ${env:PDU_TOKEN} on', 'f: power.on', { PDU_TOKEN: 's3cr3t-xyz' });
    assert.equal(redact('ran pdu --token s3cr3t-xyz on'), 'ran pdu --token *** on');
    expandEnvString('${env:BOARD_IP}', 'f: ip', { BOARD_IP: '10.0.0.2' });
    assert.equal(redact('10.0.0.2'), '10.0.0.2', 'not every variable is a secret');
  });
});
