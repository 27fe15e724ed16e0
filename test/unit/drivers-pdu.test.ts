// Power kind "pdu" with model "netio" against a model of NETIO's JSON API (fixtures/pdu/
// netio.ts): what it asks the PDU and in which order, the off-to-on delay as the PDU sees it,
// the outlet's state, and the lab errors of a PDU that is not there, an outlet it lacks,
// credentials it refuses and a PDU that never answers; credentials written nowhere.
import assert from 'node:assert/strict';
import net from 'node:net';
import { expandEnvString } from '../../runner/config/env.js';
import { forgetSwitchOffs, GRACE_MS, type ManagedPower } from '../../runner/drivers/base.js';
import { driver } from '../../runner/drivers/registry.js';
import { kindOf } from '../../runner/errors.js';
import { NetioModel } from '../../fixtures/pdu/netio.js';
import { rejection, rig } from './drivers-context.js';

/** A TCP port of 127.0.0.1 nothing listens on (bound, then closed). */
async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

const posts = (m: NetioModel) =>
  m.requests
    .filter((r) => r.method === 'POST')
    .map((r) => (r.body as { Outputs: { ID: number; Action: number }[] }).Outputs[0]);

describe('power kind "pdu": a NETIO PDU over its JSON API', () => {
  let pdu: NetioModel;
  beforeEach(async () => {
    forgetSwitchOffs();
    pdu = await NetioModel.start({ write: { user: 'admin', password: 'relay-8c1e55aa' } });
  });
  afterEach(() => pdu.close());

  const settings = (o: Record<string, unknown> = {}) => ({
    model: 'netio',
    host: '127.0.0.1',
    port: pdu.port,
    outlet: 3,
    user: 'admin',
    password: 'relay-8c1e55aa',
    ...o,
  });

  it('on: reads the outlet (found, and off), then switches it on with Action 1; off: Action 0', async () => {
    const r = rig();
    const p = r.power('pdu', settings());
    await p.on();
    assert.equal(pdu.state(3), 'on');
    await p.off();
    assert.equal(pdu.state(3), 'off');
    assert.deepEqual(
      pdu.requests.map((q) => `${q.method} ${q.path} ${q.user} ${q.status}`),
      ['GET /netio.json admin 200', 'POST /netio.json admin 200', 'POST /netio.json admin 200'],
    );
    assert.deepEqual(posts(pdu), [
      { ID: 3, Action: 1 },
      { ID: 3, Action: 0 },
    ]);
    assert.equal(pdu.state(1), 'off', 'the other outlets are left alone');
    const log = r.powerLog();
    assert.match(
      log,
      /# [\d: -]+ power on: NETIO 127\.0\.0\.1:\d+ output 3\n> POST \/netio\.json \{"Outputs":\[\{"ID":3,"Action":1\}\]\}\n< HTTP 200\n# output 3 "output_3": State 1\n/,
    );
  });

  it('a reset (cycle): off, then on no sooner than cycle_delay later, as the PDU saw them', async () => {
    const r = rig();
    const p = r.power('pdu', settings({ cycle_delay: 0.3 }));
    await p.on();
    await p.reset();
    assert.deepEqual(posts(pdu), [
      { ID: 3, Action: 1 },
      { ID: 3, Action: 0 },
      { ID: 3, Action: 1 },
    ]);
    const [, off, on] = pdu.requests.filter((q) => q.method === 'POST');
    assert.ok(on!.at - off!.at >= 300, `off to on at the PDU: ${(on!.at - off!.at).toFixed(0)} ms`);
    assert.equal(pdu.state(3), 'on');
  });

  it('state(): what the PDU says of the outlet, as it changes behind our back', async () => {
    const r = rig();
    const p = r.power('pdu', settings());
    assert.equal(await p.state(), 'off');
    pdu.outputs[2]!.State = 1;
    assert.equal(await p.state(), 'on');
    assert.ok(
      pdu.requests.every((q) => q.method === 'GET'),
      'reading never switches',
    );
  });

  it('a board found on at power-on is cycled for a fresh boot: off precedes on, the delay between', async () => {
    await pdu.close();
    pdu = await NetioModel.start({ on: [3], write: { user: 'admin', password: 'relay-8c1e55aa' } });
    const r = rig();
    await r.power('pdu', settings({ cycle_delay: 0.25 })).on();
    assert.deepEqual(
      pdu.requests.map((q) => q.method),
      ['GET', 'POST', 'POST'],
    );
    assert.deepEqual(posts(pdu), [
      { ID: 3, Action: 0 },
      { ID: 3, Action: 1 },
    ]);
    const [off, on] = pdu.requests.filter((q) => q.method === 'POST');
    assert.ok(on!.at - off!.at >= 250);
  });

  it('an outlet the PDU does not have: a lab error naming the PDU, the outlet and the outlets it has; nothing is switched', async () => {
    const r = rig();
    const e = await rejection(r.power('pdu', settings({ outlet: 9 })).on());
    assert.equal(kindOf(e), 'lab');
    assert.equal(
      e.message,
      `NETIO 127.0.0.1:${pdu.port} output 9: the PDU has no output 9 (its outputs: 1, 2, 3, 4): check [power] outlet`,
    );
    assert.deepEqual(
      pdu.requests.map((q) => q.method),
      ['GET'],
    );
    const off = await rejection(r.power('pdu', settings({ outlet: 9 })).off());
    assert.match(off.message, /output 9: the PDU has no output 9/);
    assert.equal(posts(pdu).length, 0);
  });

  it('a PDU that is not there: a lab error naming it and the outlet', async () => {
    const r = rig();
    const port = await deadPort();
    const e = await rejection(r.power('pdu', settings({ port })).off());
    assert.equal(kindOf(e), 'lab');
    assert.match(
      e.message,
      new RegExp(
        `^NETIO 127\\.0\\.0\\.1:${port} output 3: cannot reach the PDU: connect ECONNREFUSED 127\\.0\\.0\\.1:${port} \\(is it on the network, with its JSON API enabled\\?\\)$`,
      ),
    );
    assert.match(r.powerLog(), /# power off FAILED: NETIO .* cannot reach the PDU/);
  });

  it('a PDU that never answers: the request is given up at timeouts.power, a lab error naming the PDU and outlet', async () => {
    const r = rig({ powerTimeout: 0.3 });
    pdu.hang = true;
    const t0 = performance.now();
    const e = await rejection(r.power('pdu', settings()).on());
    assert.equal(kindOf(e), 'lab');
    assert.equal(
      e.message,
      `NETIO 127.0.0.1:${pdu.port} output 3: power state did not finish within 0.3 s (the board's timeouts.power)`,
    );
    assert.ok(
      performance.now() - t0 < 300 + GRACE_MS,
      'the request ended on its signal, without waiting out the grace',
    );
    assert.equal(pdu.requests.length, 1);
  });

  it('credentials the PDU refuses: 401 names the user, 403 a user that may only read; the password is written nowhere', async () => {
    const password = 'relay-8c1e55aa';
    expandEnvString('${secret:HIL_TEST_PDU_PASSWORD}', 'test', { HIL_TEST_PDU_PASSWORD: password });
    await pdu.close();
    pdu = await NetioModel.start({ write: { user: 'admin', password }, read: { user: 'viewer', password } });
    const r = rig();
    const wrong = await rejection(r.power('pdu', settings({ password: 'guess' })).on());
    assert.equal(
      wrong.message,
      `NETIO 127.0.0.1:${pdu.port} output 3: the PDU refused user "admin" (HTTP 401): check [power] user and password against its JSON API's`,
    );
    const reader = await rejection(r.power('pdu', settings({ user: 'viewer' })).on());
    assert.equal(
      reader.message,
      `NETIO 127.0.0.1:${pdu.port} output 3: user "viewer" may only read (HTTP 403): give the JSON API's read-write user`,
    );
    const p = r.power('pdu', settings());
    await p.on();
    await p.off();
    const log = r.powerLog();
    const basic = Buffer.from(`admin:${password}`).toString('base64');
    assert.ok(!log.includes(password) && !log.includes(basic), log);
    assert.ok(!wrong.message.includes(password) && !reader.message.includes(password));
  });

  it('settings: the model says the port (80 for netio); a model it does not know is refused', () => {
    const r = rig();
    assert.throws(() => driver('power', 'pdu')!.settings.parse({ model: 'apc', host: 'pdu-1', outlet: 1 }), /netio/);
    const p = r.power('pdu', { model: 'netio', host: 'pdu-1', outlet: 1 }) as ManagedPower;
    assert.equal(p.sw.describe, 'NETIO pdu-1:80 output 1');
  });
});
