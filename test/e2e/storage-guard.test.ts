// The storage guard (tgoskits#448: one case's damage to a board's storage carried into the
// next): on the virtual board, whose SD card is kept across cases, a case writes garbage
// into the card's loader area; the next case finds the change through U-Boot, names the
// chunk that changed, restores the golden image, and runs on a card as it must be.
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureVirtualDisk } from '../../runner/drivers/power/virtual-disk.js';
import { checkNoQemuLeft, deriveToml, helloCase, helloImage, hil, tmpDir, virtualBoard } from '../helpers.js';

const MiB = 1024 * 1024;
function head(file: string, n: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(n);
    readSync(fd, b, 0, n, 0);
    return b;
  } finally {
    closeSync(fd);
  }
}

describe('storage guard: golden images restored between cases', function () {
  checkNoQemuLeft();

  it('a case damages the loader area; the next case finds the changed chunk, restores the golden image and passes', async () => {
    const dir = tmpDir('hil-guard-');
    const card = ensureVirtualDisk(path.join(dir, 'card.img'), 64);
    const golden = path.join(dir, 'golden-first-mib.img');
    writeFileSync(golden, head(card, MiB)); // the card as the lab prepared it: MBR and loader area
    const garbage = path.join(dir, 'garbage.bin');
    writeFileSync(garbage, Buffer.alloc(4096, 0xab));
    const board = deriveToml(
      virtualBoard,
      (d) => {
        d.power.disk = { size_mib: 64, path: card };
        d.storage.guard = [{ name: 'loader area', image: golden, offset: 0 }];
      },
      dir,
    );
    const suite = path.join(dir, 'suite');
    mkdirSync(suite);
    const hello = (name: string, change: (d: any) => void = () => {}) =>
      deriveToml(
        helloCase,
        (d) => {
          d.images.kernel = helloImage;
          delete d.qemu_case;
          delete d.baseline_markers;
          change(d);
        },
        suite,
        name,
      );
    hello('1-damage.toml', (d) => (d.storage_write = [{ image: garbage, offset: 32768 }]));
    hello('2-next.toml');
    const r = await hil(['run', '--board', board, '--suite', suite]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const [first, next] = r.results.cases;
    assert.deepEqual([first.name, next.name], ['1-damage', '2-next']);
    assert.equal(first.storage_guard[0].intact, true, 'the card started as the golden image');
    assert.equal(first.deploys.length, 1, 'the first case wrote its garbage');
    const g = next.storage_guard[0];
    assert.equal(g.region, 'loader area');
    assert.equal(g.intact, false);
    assert.notEqual(g.found_crc32, g.golden_crc32);
    assert.deepEqual(g.changed, [{ offset: 0, bytes: 65536 }], 'the 64 KiB chunk holding offset 32768');
    assert.equal(g.restored, true);
    assert.equal(
      next.deploys[0].target,
      'virtio 0 blocks 0..2047',
      'the golden image written back, read back and checked',
    );
    assert.ok(next.phases.guard > 0);
    assert.match(r.stdout, /storage guard: loader area at 0 changed .*: 0\.\.65535; restoring it/);
    assert.ok(head(card, MiB).equals(readFileSync(golden)), 'the card holds the golden image again');
  });

  it('a golden image that is missing is told before the board is powered (exit 3)', async () => {
    const dir = tmpDir('hil-guard-');
    const board = deriveToml(virtualBoard, (d) => (d.storage.guard = [{ image: 'no-such-golden.img' }]), dir);
    const r = await hil(['run', '--board', board, '--suite', helloCase]);
    assert.equal(r.exitCode, 3, r.stdout + r.stderr);
    assert.match(
      r.stdout + r.stderr,
      /storage\.guard\[0\]\.image: .*no-such-golden\.img cannot be read: give the golden image of this region/,
    );
  });
});
