// Preflight on VM configs in Axvisor's next format ([machine], [[memory.regions]] with a
// backing), written here as axvmconfig's guide writes them: the addresses checked as in the
// current format, an identity-allocate region's guest_base = 0 taken as the placeholder it
// is (its address is the host RAM allocated at run time), and the keys that format refuses.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadBoard, type Board } from '../../runner/drivers/board.js';
import type { Finding } from '../../runner/axvisor/findings.js';
import { planAxvisor } from '../../runner/axvisor/plan.js';
import { preflight } from '../../runner/axvisor/preflight.js';
import { tmpDir } from '../helpers.js';

/** A passthrough Linux VM on an AArch64 board, as the guide's full example. */
const linux = (
  o: {
    id?: number;
    name?: string;
    entry?: string;
    load?: string;
    regions?: string;
    machine?: string;
    extra?: string;
  } = {},
) => `
[machine]
${o.machine ?? 'mode = "passthrough"\nfirmware = "auto"\ninterrupts_passthrough = false'}

[base]
id = ${o.id ?? 1}
name = "${o.name ?? 'linux'}"
cpu_num = 1
phys_cpu_ids = [0]

[kernel]
entry_point = ${o.entry ?? '0x8008_0000'}
image_location = "fs"
kernel_path = "/guest/Image"
kernel_load_addr = ${o.load ?? '0x8008_0000'}
dtb_load_addr = 0x8800_0000
${o.extra ?? ''}
${
  o.regions ??
  `[[memory.regions]]
guest_base = 0x8000_0000
size = 0x4000_0000
permissions = "rwx"
backing = { kind = "allocate" }`
}

[devices]
disable_defaults = []
deny = []

[[devices.virtual]]
id = "console0"
model = "arm-pl011"
source = { kind = "auto" }
backend = { kind = "host-console", rx = "exclusive", tx = "shared" }
`;

const board = (): Board =>
  ({
    ...loadBoard('qemu-virt-aarch64'),
    aliases: [],
    description: '',
    name: 'qemu-aarch64',
    soc: 'QEMU virt',
  }) as Board;

/** Preflight of VM configs (TOML texts) listed by one build config. */
function check(...vms: string[]): Finding[] {
  const dir = tmpDir('hil-machine-');
  const files = vms.map((text, i) => {
    const f = path.join(dir, `vm${i + 1}.toml`);
    writeFileSync(f, text);
    return f;
  });
  writeFileSync(
    path.join(dir, 'build-aarch64-unknown-none-softfloat.toml'),
    `target = "aarch64-unknown-none-softfloat"\nlog = "Info"\nfeatures = []\nvm_configs = ${JSON.stringify(files)}\n`,
  );
  writeFileSync(path.join(dir, 'board-x.toml'), 'success_regex = ["x"]\n');
  const b = board();
  const plan = planAxvisor(path.join(dir, 'board-x.toml'), undefined, { file: b.file })!;
  return preflight(plan, b);
}

const show = (all: Finding[]) =>
  all.map((f) => `  ${f.level} ${path.basename(f.file)} ${f.key}: ${f.message}`).join('\n') || '  none';
function expectOne(all: Finding[], level: Finding['level'], key: string, re: RegExp): void {
  const hits = all.filter((f) => f.level === level && f.key === key && re.test(f.message));
  assert.equal(hits.length, 1, `expected one ${level} ${key} ${re}; got:\n${show(all)}`);
}
const errorsOf = (all: Finding[]) => all.filter((f) => f.level === 'error');

describe('preflight: VM configs in the [machine] format', () => {
  it("reads the guide's own example with no error or warning", () => {
    const all = check(linux());
    assert.deepEqual(errorsOf(all), [], show(all));
    assert.deepEqual(
      all.filter((f) => f.level === 'warning'),
      [],
    );
  });

  it('an entry point outside the declared memory (0x9_0000_0000) is an error, as in the current format', () => {
    const all = check(linux({ entry: '0x9_0000_0000' }));
    expectOne(
      all,
      'error',
      'kernel.entry_point',
      /^0x900000000 is outside every \[\[memory\.regions\]\] entry \(0x80000000\.\.0xc0000000\): the entry point would land in memory the VM does not have$/,
    );
    const load = check(linux({ load: '0x4008_0000', entry: '0x4008_0000' }));
    expectOne(load, 'error', 'kernel.kernel_load_addr', /^0x40080000 is outside every \[\[memory\.regions\]\] entry/);
  });

  it("identity-allocate's guest_base = 0 is a placeholder: not the range [0, size), not flagged", () => {
    const identity = `[[memory.regions]]
guest_base = 0
size = 0x2000_0000
permissions = "rwx"
backing = { kind = "identity-allocate" }`;
    // Only identity-allocated RAM: where the kernel goes is decided when the VM is created.
    const only = check(linux({ regions: identity, entry: '0x9_0000_0000', load: '0x9_0000_0000' }));
    assert.deepEqual(errorsOf(only), [], show(only));
    expectOne(
      only,
      'note',
      'memory.regions',
      /identity-allocate RAM only: its address is chosen when the VM is created/,
    );
    // An address inside [0, size) is not "inside" it either way: no false comfort, no error.
    const low = check(
      linux({
        regions: `${identity}\n\n[[memory.regions]]\nguest_base = 0x8000_0000\nsize = 0x1000_0000\npermissions = "rwx"\nbacking = { kind = "allocate" }`,
        entry: '0x1000',
        load: '0x8008_0000',
      }),
    );
    assert.deepEqual(errorsOf(low), [], show(low));
    expectOne(
      low,
      'note',
      'kernel.entry_point',
      /^0x1000 is in no fixed region \(0x80000000\.\.0x90000000\): it must fall in the identity-allocated RAM/,
    );
    // Two VMs with identity-allocated RAM at "0": no overlap, the placeholder is no address.
    const two = check(linux({ regions: identity }), linux({ id: 2, name: 'linux2', regions: identity }));
    assert.deepEqual(errorsOf(two), [], show(two));
  });

  it('an identity-allocate guest_base other than the placeholder 0 is an error', () => {
    const all = check(
      linux({
        regions:
          '[[memory.regions]]\nguest_base = 0x8000_0000\nsize = 0x2000_0000\npermissions = "rwx"\nbacking = { kind = "identity-allocate" }',
      }),
    );
    expectOne(
      all,
      'error',
      'memory.regions[0].guest_base',
      /^0x80000000: an identity-allocate region's guest_base is the placeholder 0/,
    );
  });

  it('host memory two VMs both take is an error unless shared; allocated RAM never collides', () => {
    const host = (hostBase: string, kind = 'host') =>
      `[[memory.regions]]\nguest_base = 0x8000_0000\nsize = 0x1000_0000\npermissions = "rwx"\nbacking = { kind = "${kind}", host_base = ${hostBase} }`;
    const clash = check(
      linux({ regions: host('0x1_0000_0000') }),
      linux({ id: 2, name: 'linux2', regions: host('0x1_0800_0000') }),
    );
    expectOne(
      clash,
      'error',
      'memory.regions[0]',
      /^0x108000000\.\.0x118000000 overlaps 0x100000000\.\.0x110000000 of VM 1 "linux" .* host memory of two VMs/,
    );
    const shared = check(
      linux({ regions: host('0x1_0000_0000', 'shared') }),
      linux({ id: 2, name: 'linux2', regions: host('0x1_0000_0000', 'shared') }),
    );
    assert.deepEqual(errorsOf(shared), [], show(shared));
    const allocated = check(linux(), linux({ id: 2, name: 'linux2' }));
    assert.deepEqual(errorsOf(allocated), [], show(allocated));
  });

  it('fixed regions of one VM that overlap, and the keys this format refuses or requires', () => {
    const overlapping = check(
      linux({
        regions:
          '[[memory.regions]]\nguest_base = 0x8000_0000\nsize = 0x4000_0000\npermissions = "rwx"\nbacking = { kind = "allocate" }\n\n[[memory.regions]]\nguest_base = 0xa000_0000\nsize = 0x1000_0000\npermissions = "rw"\nbacking = { kind = "reserved" }',
      }),
    );
    expectOne(
      overlapping,
      'error',
      'memory.regions[1]',
      /^0xa0000000\.\.0xb0000000 overlaps memory\.regions\[0\] 0x80000000\.\.0xc0000000: fixed guest memory regions of one VM must not overlap$/,
    );
    const legacy = check(linux({ extra: 'memory_regions = [[0x8000_0000, 0x4000_0000, 0x7, 0]]' }));
    expectOne(legacy, 'error', 'kernel.memory_regions', /removed in the \[machine\] format.*\[\[memory\.regions\]\]/);
    const virtualIrq = check(linux({ machine: 'mode = "virtual"\nfirmware = "fdt"\ninterrupts_passthrough = false' }));
    expectOne(
      virtualIrq,
      'error',
      'machine.interrupts_passthrough',
      /only a "passthrough" machine has it \(mode is "virtual"\)/,
    );
    const badMode = check(linux({ machine: 'mode = "hybrid"' }));
    expectOne(badMode, 'error', 'machine.mode', /expected "virtual" or "passthrough"/);
    const perms = check(
      linux({
        regions:
          '[[memory.regions]]\nguest_base = 0x8000_0000\nsize = 0x4000_0000\npermissions = "wr"\nbacking = { kind = "allocate" }',
      }),
    );
    expectOne(perms, 'error', 'memory.regions[0].permissions', /"wr": r, w and x in that order/);
    const hostless = check(
      linux({
        regions:
          '[[memory.regions]]\nguest_base = 0x8000_0000\nsize = 0x4000_0000\npermissions = "rwx"\nbacking = { kind = "host" }',
      }),
    );
    expectOne(
      hostless,
      'error',
      'memory.regions[0].backing.host_base',
      /missing: a "host" backing says where it is in host memory/,
    );
    const none = check(linux({ regions: '' }));
    expectOne(none, 'error', 'memory.regions', /none: a \[machine\] VM gets no RAM it does not declare/);
  });
});
