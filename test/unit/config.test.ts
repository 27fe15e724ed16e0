import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadBoard } from '../../runner/config/board.js';
import { loadCase, loadSuite } from '../../runner/config/case.js';
import { expandEnvString } from '../../runner/config/env.js';
import { ConfigError } from '../../runner/errors.js';
import { deriveToml, helloCaseWith, root, tmpDir, virtualBoard } from '../helpers.js';

const configError = (re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
  assert.match(e.message, re);
  return true;
};

describe('board files', () => {
  it('loads every shipped board, with the lab environment filled in', () => {
    const env = { BOARD_COMM_UART_DEV: '/dev/ttyUSB0', BOARD_RESET_CMD: 'relay reset', BOARD_POWER_OFF_CMD: 'relay off', BOARD_TFTP_DIR: '/srv/tftp', BOARD_IP: '10.0.0.2', BOARD_SERVER_IP: '10.0.0.1' };
    const rk = loadBoard('roc-rk3568-pc', { env });
    assert.equal(rk.console.baud, 1500000);
    assert.equal(rk.console.port, '/dev/ttyUSB0');
    assert.deepEqual(rk.power, { kind: 'shell', reset: 'relay reset', off: 'relay off' });
    assert.equal(loadBoard('orangepi-5-plus', { env }).console.baud, 1500000);
    assert.equal(loadBoard('phytiumpi', { env }).console.baud, 115200);
    const v = loadBoard('qemu-virt-aarch64');
    assert.equal(v.power.kind, 'qemu');
    assert.equal(v.uboot.prompt, '=> ');
    assert.equal(v.load.kernel_addr, '${kernel_addr_r}', 'U-Boot variables pass through env expansion');
  });

  it('names the unset environment variable, the file and the key', () => {
    assert.throws(() => loadBoard('roc-rk3568-pc', { env: {} }), configError(/roc-rk3568-pc\.toml: console\.port: environment variable BOARD_COMM_UART_DEV is not set/));
  });

  it('reads the baud rate as ostool writes it, a string', () => {
    const f = deriveToml(virtualBoard, (d) => (d.console.baud = '1500000'));
    assert.equal(loadBoard(f).console.baud, 1500000);
  });

  it('rejects a wrong value naming the key and what is expected', () => {
    const f = deriveToml(virtualBoard, (d) => (d.uboot.interrupt = 'magic'));
    assert.throws(() => loadBoard(f), configError(/qemu-virt-aarch64\.toml: uboot\.interrupt: Invalid enum value\. Expected 'key' \| 'ctrl-c'/));
    const g = deriveToml(virtualBoard, (d) => (d.console.baud = 'fast'));
    assert.throws(() => loadBoard(g), configError(/console\.baud: .*baud rate/));
  });

  it('rejects a misspelt key instead of ignoring it', () => {
    const f = deriveToml(virtualBoard, (d) => (d.uboot.promt = '=> '));
    assert.throws(() => loadBoard(f), configError(/uboot: unknown key\(s\) "promt"/));
  });

  it('gives the line and column of malformed TOML', () => {
    const f = path.join(tmpDir(), 'broken.toml');
    writeFileSync(f, 'name = "x"\n[console\nbaud = 1\n');
    assert.throws(() => loadBoard(f), configError(/broken\.toml:2:\d+: malformed TOML/));
  });

  it('lists the known boards for an unknown name', () => {
    assert.throws(() => loadBoard('rk9999'), configError(/unknown board "rk9999": known boards are .*qemu-virt-aarch64/));
  });

  it('needs a serial port and a TFTP folder for a shell-powered board', () => {
    const base = path.join(root, 'boards', 'phytiumpi.toml');
    const env = { BOARD_COMM_UART_DEV: '/dev/x', BOARD_RESET_CMD: 'r', BOARD_POWER_OFF_CMD: 'o', BOARD_TFTP_DIR: '/srv', BOARD_IP: '1', BOARD_SERVER_IP: '2' };
    const noPort = deriveToml(base, (d) => delete d.console.port);
    assert.throws(() => loadBoard(noPort, { env }), configError(/console\.port: a board with shell power needs a serial device path/));
    const noPower = deriveToml(base, (d) => (d.power = { kind: 'shell', off: 'x' }));
    assert.throws(() => loadBoard(noPower, { env }), configError(/power: a shell-powered board needs "reset" or "on"/));
  });
});

describe('case files', () => {
  it('reads a TGOSKits case and resolves images relative to it', () => {
    const c = loadCase(path.join(root, 'suites', 'virtual-board', 'hello.toml'));
    assert.equal(c.name, 'hello');
    assert.equal(c.images!.kernel, path.join(root, 'fixtures', 'hello', 'hello.Image'));
    assert.equal(c.success[0].source, '(?m)^hil-hello: bare-metal guest done\\s*$');
    assert.equal(c.baseline!.qemuCase, path.join(root, 'suites', 'virtual-board', 'qemu', 'hello.toml'));
    assert.equal(c.baseline!.mode, 'report');
    assert.equal(c.fail[0].re.flags, 'i');
  });

  it('names a missing image and how to get it', () => {
    const f = helloCaseWith((d) => (d.images.kernel = 'nope/Image'));
    assert.throws(() => loadCase(f), configError(/hello\.toml: images\.kernel: image .*nope\/Image does not exist; build the image or fix the path/));
  });

  it('names a missing QEMU case as such', () => {
    assert.throws(() => loadCase(helloCaseWith((d) => (d.qemu_case = 'qemu/nope.toml'))), configError(/hello\.toml: qemu_case: .*qemu\/nope\.toml does not exist \(the QEMU case TOML whose run is the baseline, relative to the case file\)/));
  });

  it('validates the QEMU case before any board runs', () => {
    const dir = tmpDir();
    writeFileSync(path.join(dir, 'q.toml'), 'args = ["-M", "virt"]\nsuccess_regex = ["a(?i)b"]\n');
    assert.throws(() => loadCase(helloCaseWith((d) => (d.qemu_case = path.join(dir, 'q.toml')))), configError(/q\.toml: success_regex\[0\]: pattern "a\(\?i\)b"/));
  });

  it('names the pattern that does not translate', () => {
    const f = helloCaseWith((d) => (d.fail_regex = ['ok', 'a(?i)b']));
    assert.throws(() => loadCase(f), configError(/hello\.toml: fail_regex\[1\]: pattern "a\(\?i\)b": inline flags are only supported at the start/));
  });

  it('needs a success pattern, and shell_prefix for shell_init_cmd', () => {
    assert.throws(() => loadCase(helloCaseWith((d) => (d.success_regex = [])))
      , configError(/success_regex: at least one success pattern is needed/));
    assert.throws(() => loadCase(helloCaseWith((d) => (d.shell_init_cmd = 'ls'))), configError(/shell_init_cmd: needs shell_prefix/));
  });

  it('warns about keys it does not know, and accepts the ecosystem\'s other keys', () => {
    const c = loadCase(helloCaseWith((d) => Object.assign(d, { to_bin: true, uefi: false, colour: 'red' })));
    assert.deepEqual(c.warnings.map((w) => w.replace(/^.*hello\.toml: /, '')), ['colour: unknown key, ignored']);
  });

  it('skips TGOSKits build configs in a suite folder and lists known suites for a wrong name', () => {
    const dir = tmpDir();
    helloCaseWith(() => {}, dir);
    writeFileSync(path.join(dir, 'build-aarch64-unknown-none-softfloat.toml'), 'features = []\nvm_configs = []\n');
    assert.deepEqual(loadSuite(dir).map((c) => c.name), ['hello']);
    assert.throws(() => loadSuite('no-such-suite'), configError(/unknown suite "no-such-suite": known suites are .*virtual-board/));
  });
});

describe('${env:NAME} expansion', () => {
  it('expands from the environment and leaves U-Boot variables alone', () => {
    assert.equal(expandEnvString('${env:A}-${kernel_addr_r}', 'f: k', { A: 'x' }), 'x-${kernel_addr_r}');
    assert.throws(() => expandEnvString('${env:NOPE}', 'f.toml: serial', {}), configError(/^f\.toml: serial: environment variable NOPE is not set/));
  });
});
