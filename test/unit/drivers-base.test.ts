// The shared base of power drivers (runner/drivers/base.ts) on a switch that only records:
// what goes to power.log, secrets masked, the action's time limit, the off-to-on delay, a
// fresh boot for a board found on; and the registry's resource bag.
import assert from 'node:assert/strict';
import { expandEnvString } from '../../runner/config/env.js';
import {
  forgetSwitchOffs,
  GRACE_MS,
  ManagedPower,
  type PowerAction,
  type PowerSwitch,
} from '../../runner/drivers/base.js';
import {
  definePower,
  driver,
  FASTBOOT_UDP,
  Resources,
  resourceKey,
  resourcesOf,
  TFTP_ROOT,
  BOOT_DEFAULTS,
  TFTP_SHARE,
  type TftpShare,
} from '../../runner/drivers/registry.js';
import { Interrupted, kindOf, LabError } from '../../runner/errors.js';
import { rejection, rig } from './drivers-context.js';

type Call = { what: string; at: number; delayS?: number; timeoutS: number };

/** A switch that records what it is asked, when, with what limit. */
class Recorder implements PowerSwitch {
  readonly describe = 'relay board 7 channel 3';
  calls: Call[] = [];
  powered: 'on' | 'off' = 'off';
  cycle?: (delayS: number, a: PowerAction) => Promise<void>;
  state?: (a: PowerAction) => Promise<'on' | 'off'>;
  constructor(o: { cycle?: boolean; state?: boolean } = {}) {
    if (o.cycle)
      this.cycle = async (delayS, a) => {
        this.calls.push({ what: 'cycle', at: performance.now(), delayS, timeoutS: a.timeoutS });
        this.powered = 'on';
      };
    if (o.state)
      this.state = async (a) => {
        this.calls.push({ what: 'state', at: performance.now(), timeoutS: a.timeoutS });
        return this.powered;
      };
  }
  async on(a: PowerAction): Promise<void> {
    this.calls.push({ what: 'on', at: performance.now(), timeoutS: a.timeoutS });
    a.write('relay: channel 3 closed\n');
    this.powered = 'on';
  }
  async off(a: PowerAction): Promise<void> {
    this.calls.push({ what: 'off', at: performance.now(), timeoutS: a.timeoutS });
    this.powered = 'off';
  }
}

describe('power drivers: the shared base', () => {
  beforeEach(() => forgetSwitchOffs());

  it("writes a line per action naming the device, then the driver's own lines, to power.log", async () => {
    const r = rig();
    const sw = new Recorder();
    const p = new ManagedPower(sw, r.ctx, 0);
    await p.on();
    await p.off();
    assert.match(
      r.powerLog(),
      /^# \d{4}-\d\d-\d\d \d\d:\d\d:\d\d power on: relay board 7 channel 3\nrelay: channel 3 closed\n# [\d: -]+ power off: relay board 7 channel 3\n$/,
    );
    assert.deepEqual(
      sw.calls.map((c) => [c.what, c.timeoutS]),
      [
        ['on', 10],
        ['off', 10],
      ],
      "each action's limit is the board's timeouts.power",
    );
  });

  it('masks secrets in what the driver writes and in the error it throws, and says the action failed', async () => {
    const token = 'pdu-9f2c41e7';
    expandEnvString('${secret:HIL_TEST_RELAY_KEY}', 'test', { HIL_TEST_RELAY_KEY: token });
    const r = rig();
    const sw = new Recorder();
    sw.on = async (a) => {
      a.write(`relay answered for key ${token}\n`);
      throw new LabError('power', `relay refused key ${token}`);
    };
    const e = await rejection(new ManagedPower(sw, r.ctx, 0).on());
    assert.equal(e.message, 'relay refused key ***');
    assert.ok(!r.powerLog().includes(token), r.powerLog());
    assert.match(r.powerLog(), /relay answered for key \*\*\*\n# power on FAILED: relay refused key \*\*\*\n$/);
  });

  it("a driver's error of no kind (a library's) is a lab error naming the device and the action", async () => {
    const r = rig();
    const sw = new Recorder();
    sw.off = async () => {
      throw new TypeError('socket is not writable');
    };
    const e = await rejection(new ManagedPower(sw, r.ctx, 0).off());
    assert.equal(kindOf(e), 'lab');
    assert.equal(e.message, 'relay board 7 channel 3: power off: socket is not writable');
  });

  it('an action that outlives timeouts.power: its signal aborts at the limit, and a driver that ignores it is a lab error a moment later', async () => {
    const r = rig({ powerTimeout: 0.2 });
    const sw = new Recorder();
    let abortedAt = 0;
    sw.on = (a) =>
      new Promise<void>(() => {
        a.signal.addEventListener('abort', () => (abortedAt = performance.now()));
      });
    const t0 = performance.now();
    const e = await rejection(new ManagedPower(sw, r.ctx, 0).on());
    const took = performance.now() - t0;
    assert.equal(kindOf(e), 'lab');
    assert.equal(
      e.message,
      "relay board 7 channel 3: power on did not finish within 0.2 s (the board's timeouts.power)",
    );
    assert.ok(abortedAt - t0 >= 200, 'the signal aborted at the limit, not before');
    assert.ok(took >= 200 + GRACE_MS - 5, `then the driver had its grace (${took} ms)`);
    assert.match(r.powerLog(), /# power on FAILED: relay board 7 channel 3: power on did not finish within 0\.2 s/);
  });

  it('a driver that ends on its signal with its own words: those stand, without waiting out the grace', async () => {
    const r = rig({ powerTimeout: 0.2 });
    const sw = new Recorder();
    sw.on = (a) =>
      new Promise<void>((_, reject) =>
        a.signal.addEventListener('abort', () => reject(new LabError('power', 'the relay never answered'))),
      );
    const e = await rejection(new ManagedPower(sw, r.ctx, 0).on());
    assert.equal(e.message, 'the relay never answered', "the driver's words, not the base's");
  });

  it('an interrupted run: on does not start, off still runs (it runs on every path)', async () => {
    const r = rig();
    const sw = new Recorder();
    const p = new ManagedPower(sw, r.ctx, 0);
    r.run.abort(new Interrupted('SIGINT'));
    const e = await rejection(p.on());
    assert.equal(kindOf(e), 'interrupted');
    await p.off();
    assert.deepEqual(
      sw.calls.map((c) => c.what),
      ['off'],
    );
  });

  it('a reset without a cycle of its own: off, then on at least cycle_delay later', async () => {
    const r = rig();
    const sw = new Recorder();
    await new ManagedPower(sw, r.ctx, 0.3).reset();
    const [off, on] = sw.calls;
    assert.deepEqual(
      sw.calls.map((c) => c.what),
      ['off', 'on'],
    );
    assert.ok(on!.at - off!.at >= 300, `off to on: ${on!.at - off!.at} ms`);
    assert.match(r.powerLog(), /# kept off 0\.\d+ s more before power-on \(cycle_delay 0\.3 s\)/);
  });

  it("a driver's own cycle is given the delay, and a limit of timeouts.power plus it", async () => {
    const r = rig();
    const sw = new Recorder({ cycle: true });
    await new ManagedPower(sw, r.ctx, 1.5).reset();
    assert.deepEqual(sw.calls, [{ what: 'cycle', at: sw.calls[0]!.at, delayS: 1.5, timeoutS: 11.5 }]);
    assert.match(r.powerLog(), /power cycle \(off, 1\.5 s, on\): relay board 7 channel 3/);
  });

  it("the next case's power-on waits out the delay since this run switched the same board off; another board's does not", async () => {
    const a = rig({ file: '/lab/boards/rk3568-1.toml' });
    const b = rig({ file: '/lab/boards/rk3568-1.toml' });
    const other = rig({ file: '/lab/boards/rk3588-1.toml' });
    const first = new Recorder();
    const second = new Recorder();
    const third = new Recorder();
    await new ManagedPower(first, a.ctx, 0.3).off();
    await new ManagedPower(third, other.ctx, 0.3).on();
    assert.doesNotMatch(other.powerLog(), /kept off/, 'another board is switched on at once');
    await new ManagedPower(second, b.ctx, 0.3).on();
    assert.ok(second.calls[0]!.at - first.calls[0]!.at >= 300, 'kept off for cycle_delay');
    assert.match(b.powerLog(), /# kept off 0\.\d+ s more before power-on \(cycle_delay 0\.3 s\)\n/);
  });

  it('a board the switch reads as on is cycled for a fresh boot: state, off, on', async () => {
    const r = rig();
    const sw = new Recorder({ state: true });
    sw.powered = 'on';
    const p = new ManagedPower(sw, r.ctx, 0.2);
    await p.on();
    assert.deepEqual(
      sw.calls.map((c) => c.what),
      ['state', 'off', 'on'],
    );
    assert.ok(sw.calls[2]!.at - sw.calls[1]!.at >= 200);
    assert.equal(await p.state(), 'on');
    assert.match(r.powerLog(), /# power state: on\n# the board is on already: cycling it for a fresh boot\n/);
  });

  it('state(): the switch reading, unknown for a switch that cannot read; a driver written before state() answers unknown', async () => {
    const r = rig();
    assert.equal(await new ManagedPower(new Recorder(), r.ctx, 0).state(), 'unknown');
    const older = definePower({
      kind: 'older',
      summary: 'a driver of the old contract',
      settings: driver('power', 'shell')!.settings,
      create: () => ({ attach: async () => ({}), on: async () => {}, off: async () => {}, reset: async () => {} }),
    });
    assert.equal(await older.create({}, r.ctx).state(), 'unknown');
  });

  it("cycle_delay is a [power] key of every driver on the base, defaulting to the driver's own; a misspelt key is refused", () => {
    const r = rig();
    const shell = r.power('shell', { reset: 'true' }) as ManagedPower;
    assert.equal(shell.cycleDelayS, 0, 'shell: 0, as before the base');
    assert.equal((r.power('shell', { reset: 'true', cycle_delay: 3 }) as ManagedPower).cycleDelayS, 3);
    assert.equal(
      (r.power('pdu', { model: 'netio', host: 'pdu-1', outlet: 1 }) as ManagedPower).cycleDelayS,
      2,
      "pdu: 2 s, labgrid's",
    );
    assert.equal(
      (r.power('uhubctl', { hub: '1-1', port: 2 }) as ManagedPower).cycleDelayS,
      2,
      'uhubctl: 2 s, its own -d default',
    );
    assert.throws(() => driver('power', 'shell')!.settings.parse({ reset: 'true', cycle_dealy: 3 }), /cycle_dealy/);
  });
});

describe('drivers: the resources they give each other', () => {
  it('a typed bag: a power driver puts, a load method takes, and undefined puts nothing', () => {
    const share: TftpShare = { describe: 'pool session 1', put: async (_l, name) => name };
    const provides = new Resources()
      .set(TFTP_ROOT, '/tmp/hil-tftp-1')
      .set(FASTBOOT_UDP, { host: '127.0.0.1', port: 5554 })
      .set(BOOT_DEFAULTS, undefined)
      .set(TFTP_SHARE, share);
    const bag = resourcesOf({ consolePath: '/dev/pts/3', provides });
    assert.equal(bag.get(TFTP_ROOT), '/tmp/hil-tftp-1');
    assert.deepEqual(bag.get(FASTBOOT_UDP), { host: '127.0.0.1', port: 5554 });
    assert.equal(bag.get(TFTP_SHARE), share);
    assert.deepEqual(bag.names().sort(), ['fastboot udp', 'tftp root', 'tftp share']);
    const mine = resourceKey<number>('fastboot udp');
    assert.equal(bag.get(mine), undefined, 'a key is its object, not its name: two drivers never collide by a name');
    assert.deepEqual(resourcesOf({}).names(), []);
  });
});
