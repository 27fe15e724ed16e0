// A richer flow than a TOML case can say: boot the Linux guest, then question it at its
// shell and check the answers, through the same board session the runner uses.
import assert from 'node:assert/strict';
import { useBoard } from 'axvisor-hil/spec';

const fixture = (name: string) => new URL(`../../fixtures/linux/out/${name}`, import.meta.url);

describe('linux guest at its shell', () => {
  const board = useBoard();

  it('reports the architecture, the CPU count and exit statuses', async () => {
    await board.boot({ kernel: fixture('Image'), initrd: fixture('initramfs.cpio.gz') });
    await board.expect(/^hil-linux-guest: init reached on aarch64/);
    await board.expect(/^root@hil-guest:~# $/, 30);
    const arch = await board.shell('uname -m');
    assert.deepEqual(arch.output, ['aarch64']);
    assert.equal(arch.status, 0);
    const cpus = await board.shell('grep -c ^processor /proc/cpuinfo');
    assert.equal(cpus.output.at(-1), '1');
    const missing = await board.shell('ls /no-such-file');
    assert.notEqual(missing.status, 0);
  });
});
