// Drivers that reach their device through the board's lab host (`via = "lab_host"`,
// runner/remote/via.ts), with an SSH server in this process standing in for the lab host
// (fixtures/lab-host/ssh-server.ts): a PDU's HTTP goes through the SSH connection, uhubctl
// runs there; errors name the way.
import assert from 'node:assert/strict';
import path from 'node:path';
import { labHostSchema } from '../../runner/config/lab-host.js';
import { forgetSwitchOffs } from '../../runner/drivers/base.js';
import { LabHost } from '../../runner/remote/lab-host.js';
import { NetioModel } from '../../fixtures/pdu/netio.js';
import { type SshLabHost, startSshLabHost } from '../../fixtures/lab-host/ssh-server.js';
import { root } from '../helpers.js';
import { rejection, rig } from './drivers-context.js';

describe('drivers reached through the lab host (via = "lab_host")', () => {
  let lab: SshLabHost;
  let pdu: NetioModel;
  let labRig: () => ReturnType<typeof rig>;
  before(async () => {
    const dir = rig().dir;
    lab = await startSshLabHost(dir);
    labRig = () => rig({ board: { lab_host: labHostSchema.parse(lab.settings) } });
  });
  beforeEach(async () => {
    forgetSwitchOffs();
    pdu = await NetioModel.start({ open: true });
  });
  afterEach(() => pdu.close());
  after(async () => {
    LabHost.closeAll();
    await lab.close();
  });

  it("pdu: the PDU's HTTP goes through the SSH connection, and its name says so", async () => {
    const r = labRig();
    const p = r.power('pdu', {
      model: 'netio',
      host: '127.0.0.1',
      port: pdu.port,
      outlet: 2,
      via: 'lab_host',
      cycle_delay: 0,
    });
    await p.on();
    assert.equal(await p.state(), 'on');
    assert.equal(pdu.state(2), 'on');
    assert.ok(
      lab.forwards.length >= 1 && lab.forwards.every((f) => f === `127.0.0.1:${pdu.port}`),
      lab.forwards.join(' '),
    );
    assert.match(
      r.powerLog(),
      new RegExp(
        `power on: NETIO 127\\.0\\.0\\.1:${pdu.port} output 2 via lab host lab@\\[127\\.0\\.0\\.1\\]:${lab.port}\\n`,
      ),
    );
  });

  it('pdu: a PDU the lab host cannot reach is a lab error naming the PDU, the outlet and the way', async () => {
    const r = labRig();
    const port = pdu.port;
    await pdu.close();
    const e = await rejection(
      r.power('pdu', { model: 'netio', host: '127.0.0.1', port, outlet: 2, via: 'lab_host' }).off(),
    );
    assert.match(
      e.message,
      new RegExp(
        `^NETIO 127\\.0\\.0\\.1:${port} output 2 via lab host lab@\\[127\\.0\\.0\\.1\\]:${lab.port}: cannot reach the PDU: the lab host cannot connect to 127\\.0\\.0\\.1:${port} \\(\\(SSH\\) Channel open failure\\) \\(is it on the network, with its JSON API enabled\\?\\)$`,
      ),
    );
    pdu = await NetioModel.start({ open: true });
  });

  it('uhubctl: runs on the lab host, with HIL_BOARD set there', async () => {
    const r = labRig();
    const command = `UHUBCTL_STATE=${path.join(r.dir, 'hub-state')} ${path.join(root, 'fixtures', 'pdu', 'uhubctl')}`;
    const before = lab.commands.length;
    await r.power('uhubctl', { hub: '1-1', port: 3, command, via: 'lab_host' }).off();
    assert.deepEqual(lab.commands.slice(before), [`export HIL_BOARD='bench-board'; ${command} -l '1-1' -p 3 -a off`]);
    assert.match(r.powerLog(), /power off: USB hub 1-1 port 3 on lab host lab@\[127\.0\.0\.1\]:\d+\n/);
  });

  it('a board without [lab_host] is told so when its driver is made', () => {
    const r = rig();
    assert.throws(
      () => r.power('pdu', { model: 'netio', host: 'pdu-1', outlet: 1, via: 'lab_host' }),
      /board bench-board: power kind "pdu" with via = "lab_host" needs a \[lab_host\] table/,
    );
  });
});
