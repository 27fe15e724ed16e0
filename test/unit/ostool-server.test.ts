// The ostool-server client's rules, as ostool's own client has them (board/client.rs,
// session.rs, global_config.rs), and the model's answers where the runner relies on them.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WebSocket } from 'ws';
import { type PoolModel, startPoolModel } from '../../fixtures/ostool-server/start.js';
import { ConfigError } from '../../runner/errors.js';
import { heartbeatDelayMs, PoolClient, PoolError, resolveServer } from '../../runner/lab/ostool-server.js';
import { tmpDir } from '../helpers.js';

describe('ostool-server client', () => {
  it('finds the pool as ostool does: the board file, then the case, then ~/.ostool/config.toml, then localhost:2999', () => {
    const home = tmpDir('hil-home-');
    assert.deepEqual(resolveServer({}, {}, home), { server: 'localhost', port: 2999, from: 'the default' });
    mkdirSync(path.join(home, '.ostool'));
    const file = path.join(home, '.ostool', 'config.toml');
    writeFileSync(file, '[board]\nserver_ip = " 10.0.0.2 "\nport = 8000\n');
    assert.deepEqual(resolveServer({}, {}, home), { server: '10.0.0.2', port: 8000, from: file });
    assert.deepEqual(resolveServer({}, { server: '10.0.0.3', port: 9000 }, home), { server: '10.0.0.3', port: 9000, from: 'the case' });
    assert.deepEqual(resolveServer({ server: 'pool.lab', port: 2999 }, { server: '10.0.0.3', port: 9000 }, home), { server: 'pool.lab', port: 2999, from: 'the board file' });
    // A case that names only the server keeps the port of the next place that names one.
    assert.deepEqual(resolveServer({}, { server: '10.0.0.3' }, home).port, 8000);
    writeFileSync(file, '[board]\nserver_ip = ""\n');
    assert.throws(
      () => resolveServer({}, {}, home),
      (e: Error) => e instanceof ConfigError && /board\.server_ip must not be empty/.test(e.message),
    );
    writeFileSync(file, '[board]\nport = 70000\n');
    assert.throws(() => resolveServer({}, {}, home), /board\.port must be in 1\.\.=65535/);
    writeFileSync(file, '[board\n');
    assert.throws(
      () => resolveServer({}, {}, home),
      (e: Error) => e instanceof ConfigError && e.message.startsWith(file) && /fix it or remove it/.test(e.message),
    );
  });

  it('beats at half the lease left, clamped to 1..30 s; resolves the console address as ostool does', () => {
    const now = Date.parse('2026-12-02T00:00:00Z');
    assert.equal(heartbeatDelayMs('2026-12-02T00:00:10Z', now), 5000);
    assert.equal(heartbeatDelayMs('2026-12-02T00:02:00Z', now), 30_000);
    assert.equal(heartbeatDelayMs('2026-12-02T00:00:01Z', now), 1000);
    assert.equal(heartbeatDelayMs('2026-12-01T23:59:00Z', now), 1000, 'a lease already past: beat soon');
    const c = new PoolClient('127.0.0.1', 8080);
    assert.equal(c.wsUrl('/api/v1/sessions/demo/serial/ws'), 'ws://127.0.0.1:8080/api/v1/sessions/demo/serial/ws');
    assert.equal(c.wsUrl('ws://10.0.0.2:9000/api/v1/sessions/demo/serial/ws'), 'ws://10.0.0.2:9000/api/v1/sessions/demo/serial/ws');
    assert.equal(new PoolClient('fe80::1', 2999).base, 'http://[fe80::1]:2999');
    // is_no_available_board_for: only this exact answer means "busy, wait".
    assert.ok(new PoolError(409, 'conflict', 'no available board for type `rk3568`').busy('rk3568'));
    assert.ok(!new PoolError(409, 'conflict', 'no available board for type `rk3588`').busy('rk3568'));
    assert.ok(!new PoolError(404, 'not_found', 'board type `rk3568` not found').busy('rk3568'));
  });
});

describe('the ostool-server model keeps the server rules the runner relies on', function () {
  let m: PoolModel;
  let c: PoolClient;
  before(async () => {
    m = await startPoolModel(tmpDir('hil-pool-'), { ttlS: 1, boards: [{ id: 'rk-01', board_type: 'rk3568', tags: ['lab-a'] }] });
    c = new PoolClient('127.0.0.1', m.port);
  });
  after(async () => m.stop());

  it('leases by type and tags, refuses a second lease, expires an unrenewed one, and rejects paths out of the share', async () => {
    assert.deepEqual(await c.boardTypes(), [{ board_type: 'rk3568', tags: ['lab-a'], total: 1, available: 1 }]);
    await assert.rejects(c.createSession('rk3568', ['lab-b'], 't'), (e: PoolError) => e.busy('rk3568'));
    await assert.rejects(c.createSession('rk3588', [], 't'), (e: PoolError) => e.status === 404 && e.message === 'board type `rk3588` not found');
    const s = await c.createSession('rk3568', ['lab-a'], 't');
    assert.equal(s.board_id, 'rk-01');
    await assert.rejects(c.createSession('rk3568', [], 't'), (e: PoolError) => e.busy('rk3568'));
    await assert.rejects(c.putFile(s.session_id, '../escape', Buffer.from('x')), (e: PoolError) => e.status === 400);
    const staged = await c.putFile(s.session_id, 'boot/Image', Buffer.from('kernel'));
    assert.equal(staged.relative_path, `ostool/sessions/${s.session_id}/boot/Image`);
    // One console per session.
    const ws1 = new WebSocket(c.wsUrl(s.ws_url!));
    await new Promise((r) => ws1.once('message', r)); // {"type":"opened"}
    const second = await new Promise<number>((r) => new WebSocket(c.wsUrl(s.ws_url!)).once('unexpected-response', (_q, res) => r(res.statusCode!)));
    assert.equal(second, 409);
    ws1.terminate(); // the console closing ends the session (SerialClosed)
    const t = await c.createSession('rk3568', [], 't').catch(async () => {
      await new Promise((r) => setTimeout(r, 500)); // its release may still be powering off
      return c.createSession('rk3568', [], 't');
    });
    assert.equal(m.events().find((e) => e.event === 'session-end' && e.session === s.session_id)?.reason, 'serial_closed');
    // Without heartbeats the 1 s lease runs out; the session is gone.
    await c.heartbeat(t.session_id);
    await new Promise((r) => setTimeout(r, 1600));
    await assert.rejects(c.heartbeat(t.session_id), (e: PoolError) => e.status === 404);
    assert.equal(m.events().find((e) => e.event === 'session-end' && e.session === t.session_id)?.reason, 'expired');
    await c.deleteSession(t.session_id); // already gone: fine, as ostool's delete_session
    assert.equal((await c.boardTypes())[0]!.available, 1);
  });
});
