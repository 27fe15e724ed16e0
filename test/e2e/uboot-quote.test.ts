// Values with blanks, quotes, `$` and backslashes reach U-Boot's commands as they are, on the
// virtual board's real U-Boot (Debian's 2023.01, its hush): set with the U-Boot driver's
// setenv and read back with printenv, in a command hush parses once and in one it parses
// twice (a variable substituted in it, as `${kernel_addr_r}` is in a fatwrite); and a guest
// image deployed with fatwrite under such a name, read back with fatload, and found on the
// card. The same quoting is checked character by character against a model of hush in
// test/unit/uboot-quote.test.ts.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { arg, hushCommand } from '../../runner/uboot/driver.js';
import { axvisorSetup, checkNoQemuLeft, guestsDir, hil, tmpDir } from '../helpers.js';

/** Every character hush treats specially, and a value made of them (no blank at either end:
 * printenv's line is read trimmed). */
const VALUE = `a b  c'd"e$f\${g}$?;h#i\\j&&k||l{m}(n)<o>*p?[q]~r!s\`t=u%v^w`;

describe("U-Boot arguments quoted for U-Boot's shell, on the virtual board", function () {
  checkNoQemuLeft();

  it('a setenv value with blanks, quotes, $ and a backslash is read back as it was set, in one pass and in two', async () => {
    const lab = tmpDir('hil-lab-');
    const spec = path.join(lab, 'suites', 'quoting', 'quoting.spec.mts');
    mkdirSync(path.dirname(spec), { recursive: true });
    // Parsed twice by hush: `${hil_pre}` is substituted, then the line is read again.
    const twice = hushCommand('setenv', arg('hil_q2'), '${hil_pre}', arg(VALUE));
    writeFileSync(
      spec,
      [
        "import assert from 'node:assert/strict';",
        "import { useBoard } from 'axvisor-hil/spec';",
        "describe('quoting', () => {",
        '  const board = useBoard();',
        "  it('survives hush', async () => {",
        '    const u = await board.uboot();',
        `    const value = ${JSON.stringify(VALUE)};`,
        "    await u.setenv('hil_q', value);",
        "    assert.equal(await u.env('hil_q'), value);",
        "    await u.setenv('hil_pre', 'pre');",
        `    await u.run(${JSON.stringify(twice)});`,
        "    assert.equal(await u.env('hil_q2'), `pre ${value}`);",
        '  });',
        '});',
        '',
      ].join('\n'),
    );
    const r = await hil([
      '--lab',
      lab,
      'run',
      '--board',
      'qemu-virt-aarch64',
      '--suite',
      'quoting',
      '--out',
      tmpDir('hil-out-'),
    ]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.equal(r.results.cases[0].verdict, 'pass', r.results.cases[0].reason);
  });

  it('a guest image whose name has blanks, quotes and $ is deployed with fatwrite, read back with fatload, and is on the card', async () => {
    // U-Boot's fatwrite writes long names in lower case (fs/fat/fat_write.c, normalize_longname).
    const name = "/guest/my $home 'nimbos' v1.bin";
    const s = axvisorSetup({
      vms: { nimbos: (d) => (d.kernel.kernel_path = name) },
      case: (d) => (d.axvisor.guest_images = { [name]: path.join(guestsDir, 'nimbos.bin') }),
    });
    const r = await hil(['run', '--board', 'qemu-virt-aarch64', '--suite', s.caseFile]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const c = r.results.cases[0];
    assert.deepEqual(
      c.deploys.map((d: any) => [d.target, d.verified]),
      [
        ['virtio 0:1 /guest/arceos/arceos-aarch64.bin', true],
        [`virtio 0:1 ${name}`, true],
      ],
    );
    const disk = path.join(r.out, c.transcript, 'virtual-sd.img');
    const out = path.join(tmpDir('hil-mcopy-'), 'nimbos.bin');
    await execa('mcopy', ['-n', '-i', `${disk}@@1M`, `::${name}`, out]);
    assert.ok(
      readFileSync(out).equals(readFileSync(path.join(guestsDir, 'nimbos.bin'))),
      'the card holds the image under that name',
    );
  });
});
