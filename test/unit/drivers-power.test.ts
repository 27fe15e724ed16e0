// Power kind "shell" on the shared base, with stand-in commands (the lab's relay scripts):
// which command runs for on, off, a reset and the state, what power.log keeps, and the lab
// errors of a command that fails or outlives timeouts.power. The same driver runs the ssh
// kind's commands on a lab host (test/e2e/lab-host.test.ts).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { rememberSecretEnv } from '../../runner/config/env.js';
import { forgetSwitchOffs } from '../../runner/drivers/base.js';
import { kindOf } from '../../runner/errors.js';
import { rejection, rig } from './drivers-context.js';

/** A relay stand-in: each command appends its name and the time (ns) to `calls`. */
function relay(o: { powerTimeout?: number } = {}) {
  const r = rig({ powerTimeout: o.powerTimeout });
  const calls = path.join(r.dir, 'relay-calls');
  const cmd = (what: string) => `echo "${what} $(date +%s%N) $HIL_BOARD" >> ${calls}; echo relay: ${what} done`;
  const seen = () =>
    readFileSync(calls, 'utf8')
      .trim()
      .split('\n')
      .map((l) => {
        const [what, ns, board] = l.split(' ');
        return { what: what!, ms: Number(BigInt(ns!) / 1000n) / 1000, board: board! };
      });
  return { r, calls, cmd, seen };
}

describe('power kind "shell" on the base, with stand-in commands', () => {
  beforeEach(() => forgetSwitchOffs());

  it('on runs `reset` when there is one (a fresh boot), else `on`; off runs `off`; HIL_BOARD is set; power.log keeps each command and its output', async () => {
    const h = relay();
    await h.r.power('shell', { on: h.cmd('on'), off: h.cmd('off') }).on();
    const p = h.r.power('shell', { on: h.cmd('on'), reset: h.cmd('reset'), off: h.cmd('off') });
    await p.on();
    await p.off();
    assert.deepEqual(
      h.seen().map((c) => `${c.what} ${c.board}`),
      ['on bench-board', 'reset bench-board', 'off bench-board'],
    );
    assert.match(
      h.r.powerLog(),
      /# [\d: -]+ power off: the power commands\n\$ echo "off .*\nrelay: off done\n\[exit 0\]\n$/,
    );
  });

  it('a reset with a reset command is that command; without one: off, then on, cycle_delay apart', async () => {
    const h = relay();
    await h.r.power('shell', { reset: h.cmd('reset'), off: h.cmd('off'), cycle_delay: 5 }).reset();
    await h.r.power('shell', { on: h.cmd('on'), off: h.cmd('off'), cycle_delay: 0.3 }).reset();
    const seen = h.seen();
    assert.deepEqual(
      seen.map((c) => c.what),
      ['reset', 'off', 'on'],
    );
    assert.ok(seen[2]!.ms - seen[1]!.ms >= 300, `off to on: ${(seen[2]!.ms - seen[1]!.ms).toFixed(0)} ms`);
  });

  it('a state command: its last line says on or off; a board found on is reset for a fresh boot', async () => {
    const h = relay();
    const stateFile = path.join(h.r.dir, 'relay-state');
    const p = h.r.power('shell', {
      on: `${h.cmd('on')}; echo on > ${stateFile}`,
      off: `${h.cmd('off')}; echo off > ${stateFile}`,
      state: `echo "relay 3:"; cat ${stateFile} 2>/dev/null || echo off`,
    });
    assert.equal(await p.state(), 'off');
    await p.on();
    assert.equal(await p.state(), 'on');
    await p.on();
    assert.deepEqual(
      h.seen().map((c) => c.what),
      ['on', 'off', 'on'],
    );
    assert.equal(await h.r.power('shell', { state: 'echo maybe' }).state(), 'unknown');
    assert.equal(await h.r.power('shell', { off: 'true' }).state(), 'unknown', 'no state command: unknown');
  });

  it('a command that fails: a lab error with the command and its last line, a token it prints masked in power.log and the error', async () => {
    const r = rig();
    process.env.HIL_TEST_RELAY_TOKEN = 'tok-5d0a77e3';
    rememberSecretEnv({ HIL_TEST_RELAY_TOKEN: 'tok-5d0a77e3' });
    try {
      const e = await rejection(
        r.power('shell', { off: 'echo "relay refused token $HIL_TEST_RELAY_TOKEN"; exit 3' }).off(),
      );
      assert.equal(kindOf(e), 'lab');
      assert.equal(
        e.message,
        'power off command failed (exit 3): echo "relay refused token $HIL_TEST_RELAY_TOKEN"; exit 3 -> relay refused token ***',
      );
      assert.ok(!r.powerLog().includes('tok-5d0a77e3'));
      assert.match(
        r.powerLog(),
        /relay refused token \*\*\*\n\[exit 3\]\n# power off FAILED: power off command failed/,
      );
    } finally {
      delete process.env.HIL_TEST_RELAY_TOKEN;
    }
  });

  it('a command that outlives timeouts.power: ended, a lab error saying so in its own words', async () => {
    const h = relay({ powerTimeout: 0.3 });
    const t0 = performance.now();
    const e = await rejection(h.r.power('shell', { on: 'echo relay: waiting; sleep 30' }).on());
    assert.equal(
      e.message,
      'power on command failed (did not finish within 0.3 s): echo relay: waiting; sleep 30 -> relay: waiting',
    );
    assert.ok(performance.now() - t0 < 5000, 'ended at the limit, not after the sleep');
    assert.match(h.r.powerLog(), /\[exit SIGKILL, timed out\]/);
  });

  it('no on or reset command: the board is powered by hand, and power.log says so', async () => {
    const r = rig();
    await r.power('shell', { off: 'true' }).on();
    assert.match(r.powerLog(), /# no on or reset command: power the board on by hand now\n/);
  });
});
