// Power kind "qemu" on the shared base, with a stand-in for QEMU (fixtures/stand-in-qemu/
// qemu: a pty, and the monitor on stdio) instead of QEMU: how it is started, the resources
// it gives the load methods, the monitor commands for on, a reset and a cycle with a delay,
// its state, and what off leaves behind (nothing).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { forgetSwitchOffs } from '../../runner/drivers/base.js';
import { FASTBOOT_UDP, resourcesOf, TFTP_ROOT } from '../../runner/drivers/registry.js';
import { kindOf } from '../../runner/errors.js';
import { root, until } from '../helpers.js';
import { rejection, rig } from './drivers-context.js';

const standIn = path.join(root, 'fixtures', 'stand-in-qemu', 'qemu');

function virtualBoard(o: { powerTimeout?: number; extra?: string[] } = {}) {
  const r = rig({ powerTimeout: o.powerTimeout });
  const log = path.join(r.dir, 'monitor.log');
  const settings = {
    binary: standIn,
    args: [
      '-chardev',
      'pty,id=s0',
      '-serial',
      'chardev:s0',
      '-netdev',
      'user,id=n0,tftp={tftp_dir},hostfwd=udp:127.0.0.1:{fastboot_port}-:5554',
      '-hil-log',
      log,
      ...(o.extra ?? []),
    ],
  };
  const monitor = () =>
    readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { what: string | { argv: string[] }; at: number });
  const said = () => monitor().filter((m) => typeof m.what === 'string' && m.what !== 'info status');
  return { r, settings, monitor, said };
}

const running = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('power kind "qemu" with a stand-in for QEMU', () => {
  beforeEach(() => forgetSwitchOffs());

  it('attach starts it paused and says where its pty is; it gives its TFTP folder and fastboot port to the load methods as resources', async () => {
    const v = virtualBoard();
    const p = v.r.power('qemu', v.settings);
    const at = await p.attach();
    try {
      assert.match(at.consolePath!, /^\/dev\/pts\/\d+$/);
      const bag = resourcesOf(at);
      const tftp = bag.get(TFTP_ROOT)!;
      const fastboot = bag.get(FASTBOOT_UDP)!;
      assert.ok(existsSync(tftp), 'the TFTP folder exists');
      assert.equal(fastboot.host, '127.0.0.1');
      const argv = (v.monitor()[0]!.what as { argv: string[] }).argv;
      assert.ok(argv.includes(`user,id=n0,tftp=${tftp},hostfwd=udp:127.0.0.1:${fastboot.port}-:5554`), argv.join(' '));
      assert.deepEqual(argv.slice(-3), ['-S', '-monitor', 'stdio']);
      assert.equal(await p.state(), 'off', 'paused: not on yet');
      assert.match(
        v.r.powerLog(),
        /# [\d: -]+ attach: the virtual board's .*qemu\n\$ .*qemu -chardev pty,id=s0 .* -S -monitor stdio\n\[pid \d+\]\nchar device redirected to \/dev\/pts\/\d+ \(label s0\)\n/,
      );
    } finally {
      await p.off();
    }
  });

  it("on is the monitor's cont, a reset its system_reset; off ends QEMU and removes its TFTP folder", async () => {
    const v = virtualBoard();
    const p = v.r.power('qemu', v.settings);
    const at = await p.attach();
    await p.on();
    assert.equal(await p.state(), 'on');
    await p.reset();
    // What was typed at the monitor is read by it before it is ended.
    await until(() => v.said().length >= 2, 'the monitor to read system_reset');
    await p.off();
    assert.deepEqual(
      v.said().map((m) => m.what),
      ['cont', 'system_reset'],
    );
    assert.equal(await p.state(), 'off');
    assert.equal(running(at.pids![0]!), false, 'QEMU is gone');
    assert.equal(existsSync(resourcesOf(at).get(TFTP_ROOT)!), false, 'its TFTP folder too');
  });

  it('a reset with cycle_delay: the machine stopped, the delay, then reset and running again', async () => {
    const v = virtualBoard();
    const p = v.r.power('qemu', { ...v.settings, cycle_delay: 0.3 });
    await p.attach();
    try {
      await p.on();
      // The monitor reads what is typed when it gets to it (late, on a loaded machine): the
      // delay is measured where the driver keeps it, between its stop and its reset.
      const t0 = performance.now();
      await p.reset();
      const took = performance.now() - t0;
      await until(() => v.said().length >= 4, 'the monitor to read cont');
      assert.deepEqual(
        v.said().map((m) => m.what),
        ['cont', 'stop', 'system_reset', 'cont'],
      );
      assert.ok(took >= 300, `the reset kept the machine stopped ${took.toFixed(0)} ms`);
      assert.equal(await p.state(), 'on');
    } finally {
      await p.off();
    }
  });

  it('a QEMU that never names its pty: a lab error in its own words at timeouts.power, and it is ended', async () => {
    const v = virtualBoard({ powerTimeout: 0.5, extra: ['-hil-silent'] });
    const p = v.r.power('qemu', v.settings);
    const e = await rejection(p.attach());
    assert.equal(kindOf(e), 'lab');
    assert.equal(e.message, `${standIn} did not report its serial pty within 0.5 s (see power.log)`);
    const pid = Number(/\[pid (\d+)\]/.exec(v.r.powerLog())![1]);
    assert.equal(running(pid), false);
  });
});
