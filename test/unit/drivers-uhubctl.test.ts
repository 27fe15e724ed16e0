// Power kind "uhubctl" with a stand-in for uhubctl (fixtures/pdu/uhubctl) that records
// its arguments and prints what uhubctl.c prints: the command lines the driver runs, how it
// reads uhubctl's report, and the lab errors of a hub that is not there or does not switch.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { forgetSwitchOffs } from '../../runner/drivers/base.js';
import { portLines } from '../../runner/drivers/power/uhubctl.js';
import { kindOf } from '../../runner/errors.js';
import { root } from '../helpers.js';
import { rejection, rig } from './drivers-context.js';

const standIn = path.join(root, 'fixtures', 'pdu', 'uhubctl');

function hub(o: { stuck?: boolean } = {}) {
  const r = rig();
  const calls = path.join(r.dir, 'uhubctl-calls');
  const command = `UHUBCTL_LOG=${calls} UHUBCTL_STATE=${path.join(r.dir, 'hub-state')}${o.stuck ? ' UHUBCTL_STUCK=1' : ''} ${standIn}`;
  const argv = (): string[][] =>
    readFileSync(calls, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '));
  return { r, command, argv };
}

// uhubctl's report for a USB3 hub (two hubs at one place: its USB2 and USB3 halves), as
// uhubctl.c prints it for `-l 2-1 -p 2 -a off`.
const USB3_OFF = `Current status for hub 2-1 [0bda:0411 Generic USB3.2 Hub, USB 3.20, 4 ports, ppps]
  Port 2: 02a0 power 5gbps Rx.Detect
Sent power off request
New status for hub 2-1 [0bda:0411 Generic USB3.2 Hub, USB 3.20, 4 ports, ppps]
  Port 2: 0000 off
Current status for hub 1-1 [0bda:5411 Generic USB2.1 Hub, USB 2.10, 4 ports, ppps]
  Port 2: 0503 power highspeed enable connect [0403:6001 FTDI FT232R USB UART A10KZ3V1]
Sent power off request
New status for hub 1-1 [0bda:5411 Generic USB2.1 Hub, USB 2.10, 4 ports, ppps]
  Port 2: 0000 off
`;

describe('power kind "uhubctl": a USB hub port', () => {
  beforeEach(() => forgetSwitchOffs());

  it('runs uhubctl -l <hub> -p <port> -a on / -a off, and no action to read the state', async () => {
    const h = hub();
    const p = h.r.power('uhubctl', { hub: '1-1', port: 2, command: h.command, cycle_delay: 0 });
    assert.equal(await p.state(), 'off');
    await p.off();
    const before = h.argv().length;
    await p.on();
    assert.equal(await p.state(), 'on');
    assert.deepEqual(h.argv().slice(0, 2), [
      ['-l', '1-1', '-p', '2'],
      ['-l', '1-1', '-p', '2', '-a', 'off'],
    ]);
    assert.deepEqual(h.argv().slice(before), [
      ['-l', '1-1', '-p', '2'],
      ['-l', '1-1', '-p', '2', '-a', 'on'],
      ['-l', '1-1', '-p', '2'],
    ]);
    assert.match(
      h.r.powerLog(),
      /power on: USB hub 1-1 port 2\n\$ .*uhubctl -l '1-1' -p 2 -a on\nCurrent status for hub 1-1 \[2109:2813 VIA Labs, Inc\. USB2\.0 Hub, USB 2\.10, 4 ports, ppps\]\n {2}Port 2: 0000 off\nSent power on request\nNew status for hub 1-1 .*\n {2}Port 2: 0100 power\n\[exit 0\]\n/,
    );
  });

  it("a reset is uhubctl's own cycle, given cycle_delay with -d", async () => {
    const h = hub();
    const p = h.r.power('uhubctl', { hub: '1-1', port: 2, command: h.command, cycle_delay: 0.2 });
    await p.reset();
    assert.deepEqual(h.argv(), [['-l', '1-1', '-p', '2', '-a', 'cycle', '-d', '0.2']]);
    assert.equal(await p.state(), 'on');
  });

  it('a port found powered at power-on is cycled for a fresh boot', async () => {
    const h = hub();
    const p = h.r.power('uhubctl', { hub: '1-1', port: 2, command: h.command, cycle_delay: 0.1 });
    await p.on();
    await p.on();
    assert.deepEqual(
      h.argv().map((a) => a.slice(4).join(' ')),
      ['', '-a on', '', '-a cycle -d 0.1'],
    );
  });

  it("a hub that is not there: a lab error naming the hub, the port and uhubctl's words", async () => {
    const h = hub();
    const e = await rejection(h.r.power('uhubctl', { hub: '1-9', port: 2, command: h.command }).off());
    assert.equal(kindOf(e), 'lab');
    assert.match(
      e.message,
      /^USB hub 1-9 port 2: `.*uhubctl -l '1-9' -p 2 -a off` failed \(exit 1\): No compatible devices detected at location 1-9!$/,
    );
  });

  it('a hub whose port does not switch: a lab error quoting its report', async () => {
    const h = hub({ stuck: true });
    const p = h.r.power('uhubctl', { hub: '1-1', port: 2, command: h.command, cycle_delay: 0 });
    await p.off();
    const e = await rejection(p.on());
    assert.equal(
      e.message,
      `USB hub 1-1 port 2: the hub still reports "Port 2: 0000 off" after power on: does hub 1-1 switch its ports one by one ("ppps" in \`uhubctl\`'s list)?`,
    );
  });

  it("reads uhubctl's report of a USB3 hub's two halves", () => {
    assert.deepEqual(
      portLines(USB3_OFF, 2).map((l) => [l.after, l.hub, l.on]),
      [
        ['current', '2-1', true],
        ['off', '2-1', false],
        ['current', '1-1', true],
        ['off', '1-1', false],
      ],
    );
    assert.deepEqual(portLines(USB3_OFF, 3), []);
  });

  it('settings: a location as uhubctl writes it; the command defaults to uhubctl', () => {
    const r = rig();
    assert.throws(() => r.power('uhubctl', { hub: 'usb1', port: 2 }), /give a location as uhubctl lists it/);
    assert.equal(
      (r.power('uhubctl', { hub: '2-1.4', port: 1 }) as unknown as { sw: { describe: string } }).sw.describe,
      'USB hub 2-1.4 port 1',
    );
  });
});
