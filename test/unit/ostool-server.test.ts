// The ostool-server client's rules, as ostool's own client has them (board/client.rs,
// session.rs, global_config.rs), and the model's answers, as ostool-server's source gives
// them (fixtures/ostool-server/model.ts): status codes and bodies byte for byte where a
// client reads them. The model's boards here never start QEMU (their power-on "succeeds"
// on a dead supply), so these run in a second or two.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WebSocket } from 'ws';
import { type PoolEvent, type PoolModel, startPoolModel } from '../../fixtures/ostool-server/start.js';
import { ConfigError } from '../../runner/errors.js';
import {
  apiOf,
  describeApi,
  HEARTBEAT_MS,
  PoolClient,
  PoolError,
  poolLabError,
  resolveServer,
} from '../../runner/drivers/pool/ostool-server.js';
import { tmpDir } from '../helpers.js';
import { rig } from './drivers-context.js';
import { resourcesOf, TFTP_SHARE } from '../../runner/drivers/registry.js';

/** Waits for the model to log an event (every 50 ms, up to `seconds`). */
async function eventually(
  m: PoolModel,
  what: string,
  pred: (e: PoolEvent) => boolean,
  seconds = 10,
): Promise<PoolEvent> {
  const until = Date.now() + seconds * 1000;
  for (;;) {
    const e = m.events().find(pred);
    if (e) return e;
    if (Date.now() > until) throw new Error(`${what} did not happen within ${seconds} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A console: the messages it got, and a promise for its close. */
function openConsole(url: string) {
  const ws = new WebSocket(url);
  const got: string[] = [];
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  ws.on('message', (d: Buffer, binary: boolean) => {
    if (!binary) got.push(d.toString());
  });
  const opened = new Promise<void>((r, j) => {
    ws.once('open', () => r());
    ws.once('unexpected-response', (_q, res) => j(new Error(`HTTP ${res.statusCode}`)));
  });
  return { ws, got, closed, opened };
}

const dark = (id: string, type = 'rk3568', extra: Record<string, unknown> = {}) =>
  ({ id, board_type: type, tags: ['lab-a'], power_on: Array(20).fill('silent'), ...extra }) as never;

describe('ostool-server client', () => {
  it('finds the pool as ostool does: the board file, the case, ~/.ostool/config.toml in either format, then localhost:2999', () => {
    const home = tmpDir('hil-home-');
    assert.deepEqual(resolveServer({}, {}, home), { server: 'localhost', port: 2999, from: 'the default' });
    mkdirSync(path.join(home, '.ostool'));
    const file = path.join(home, '.ostool', 'config.toml');
    // The older format (ostool until its endpoints became URLs).
    writeFileSync(file, '[board]\nserver_ip = " 10.0.0.2 "\nport = 8000\n');
    assert.deepEqual(resolveServer({}, {}, home), { server: '10.0.0.2', port: 8000, from: file });
    // The URL format (global_config.rs at e35174c9): a URL, its port, or `port` over it.
    writeFileSync(file, '[board]\nserver = "http://10.3.10.9:2999"\n');
    assert.deepEqual(resolveServer({}, {}, home), { server: '10.3.10.9', port: 2999, from: file });
    writeFileSync(file, '[board]\nserver = "http://pool.lab:2999/"\nport = 3000\n');
    assert.deepEqual(resolveServer({}, {}, home), { server: 'pool.lab', port: 3000, from: file });
    writeFileSync(file, '[board]\nserver = "10.0.0.7"\n');
    assert.deepEqual(resolveServer({}, {}, home).server, '10.0.0.7', 'a bare address is taken as http://');
    assert.deepEqual(resolveServer({}, { server: '10.0.0.3', port: 9000 }, home), {
      server: '10.0.0.3',
      port: 9000,
      from: 'the case',
    });
    assert.deepEqual(resolveServer({ server: 'pool.lab', port: 2999 }, { server: '10.0.0.3', port: 9000 }, home), {
      server: 'pool.lab',
      port: 2999,
      from: 'the board file',
    });
    writeFileSync(file, '[board]\nserver = "https://pool.lab"\nauth_mode = "required"\n');
    assert.throws(
      () => resolveServer({}, {}, home),
      /auth_mode = "required": hil speaks to a pool without a login only/,
    );
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

  it("beats every second (ostool's client); reads the server's errors as ostool does", () => {
    assert.equal(HEARTBEAT_MS, 1000);
    const c = new PoolClient('127.0.0.1', 8080);
    assert.equal(c.wsUrl('/api/v1/sessions/demo/serial/ws'), 'ws://127.0.0.1:8080/api/v1/sessions/demo/serial/ws');
    assert.equal(
      c.wsUrl('ws://10.0.0.2:9000/api/v1/sessions/demo/serial/ws'),
      'ws://10.0.0.2:9000/api/v1/sessions/demo/serial/ws',
    );
    assert.equal(new PoolClient('fe80::1', 2999).base, 'http://[fe80::1]:2999');
    // is_no_available_board_for: only this exact answer means "busy, wait".
    assert.ok(new PoolError(409, 'conflict', 'no available board for type `rk3568`').busy('rk3568'));
    assert.ok(!new PoolError(409, 'conflict', 'no available board for type `rk3588`').busy('rk3568'));
    assert.ok(!new PoolError(404, 'not_found', 'board type `rk3568` not found').busy('rk3568'));
    assert.ok(new PoolError(409, 'conflict', 'session `abc` is releasing').releasing);
    const power = poolLabError(
      c,
      'power on of rk-01',
      new PoolError(500, 'internal_server_error', 'command `relay on 3` exited with status exit status: 1'),
    );
    assert.equal(
      power.message,
      'ostool-server 127.0.0.1:8080: power on of rk-01: command `relay on 3` exited with status exit status: 1 (HTTP 500 internal_server_error)',
    );
    const gone = poolLabError(
      c,
      'no session',
      new PoolError(503, 'request_failed', 'did not answer POST /api/v1/sessions: ECONNREFUSED'),
    );
    assert.match(gone.message, /ECONNREFUSED \(is the server running, and the address right\?\)$/);
  });
});

describe('the ostool-server model keeps the server rules (the release job generation)', function () {
  let m: PoolModel;
  let c: PoolClient;
  beforeEach(async () => {
    m = await startPoolModel(tmpDir('hil-pool-'), {
      ttlS: 10,
      boards: [dark('rk-01'), dark('relay-01', 'rk3588', { power_management: 'zhongsheng_relay', settle_s: 1 })],
    });
    c = new PoolClient('127.0.0.1', m.port);
  });
  afterEach(() => m.stop());

  it('answers sessions as router.rs does: 400 for an empty type, 404 for an unknown one, 409 busy, 201 with the session', async () => {
    const raw = async (body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) => {
      const r = await fetch(`${c.base}/api/v1/sessions`, { method: 'POST', headers, body: JSON.stringify(body) });
      return [r.status, await r.text()];
    };
    assert.deepEqual(await raw({ board_type: '  ', required_tags: [] }), [
      400,
      '{"code":"bad_request","message":"board_type must not be empty","details":null}',
    ]);
    assert.deepEqual(await raw({ board_type: 'rk9999' }), [
      404,
      '{"code":"not_found","message":"board type `rk9999` not found","details":null}',
    ]);
    assert.deepEqual(await raw({ board_type: 'rk3568' }, {}), [
      415,
      'Expected request with `Content-Type: application/json`',
    ]);
    await assert.rejects(c.createSession('rk3568', ['lab-b'], 't'), (e: PoolError) => e.busy('rk3568'));
    const s = await c.createSession('rk3568', ['lab-a'], 't');
    assert.equal(s.board_id, 'rk-01');
    assert.equal(s.ws_url, `/api/v1/sessions/${s.session_id}/serial/ws`);
    await assert.rejects(c.createSession('rk3568', [], 't'), (e: PoolError) => e.busy('rk3568'));
    assert.deepEqual(await c.boardTypes(), [
      { board_type: 'rk3568', tags: ['lab-a'], total: 1, available: 0 },
      { board_type: 'rk3588', tags: ['lab-a'], total: 1, available: 1 },
    ]);
    // Files: X-File-Path as normalize_relative_path takes it.
    await assert.rejects(
      c.putFile(s.session_id, '../escape', Buffer.from('x')),
      (e: PoolError) => e.status === 400 && e.message === 'file path must not contain `..` segments',
    );
    const staged = await c.putFile(s.session_id, 'boot/Image', Buffer.from('kernel'));
    assert.equal(staged.relative_path, `ostool/sessions/${s.session_id}/boot/Image`);
    assert.equal(staged.tftp_url, `tftp://10.0.2.2/ostool/sessions/${s.session_id}/boot/Image`);
    // An unknown route is axum's empty 404.
    const r = await fetch(`${c.base}/api/v1/version`);
    assert.deepEqual([r.status, await r.text()], [404, '']);
  });

  it('DELETE answers 202 and releases in the background: heartbeat, power, files and the console answer 409 until the board is free', async () => {
    const s = await c.createSession('rk3568', [], 't');
    const del = await fetch(`${c.base}/api/v1/sessions/${s.session_id}`, { method: 'DELETE' });
    assert.deepEqual([del.status, await del.text()], [202, '']);
    // While it is releasing (the model's power-off is instant; catch it in the act or after).
    const detail = await c.session(s.session_id);
    if (detail) {
      assert.equal(detail.session.state, 'releasing');
      await assert.rejects(
        c.heartbeat(s.session_id),
        (e: PoolError) => e.status === 409 && e.message === `session \`${s.session_id}\` is releasing`,
      );
      await assert.rejects(c.power(s.session_id, false), (e: PoolError) => e.releasing);
    }
    await eventually(m, 'the release', (e) => e.event === 'session-released' && e.session === s.session_id);
    assert.equal(await c.session(s.session_id), undefined, 'forgotten once released');
    assert.equal(await c.deleteSession(s.session_id), 404, 'already gone: fine, as ostool has it');
    await assert.rejects(c.heartbeat(s.session_id), (e: PoolError) => e.status === 404);
    assert.equal((await c.boardTypes())[0]!.available, 1);
  });

  it("a relay board stays the pool's for its settle delay after power-off: a new session is refused busy until it is free", async () => {
    const s = await c.createSession('rk3588', [], 't');
    assert.equal(await c.deleteSession(s.session_id), 202);
    await eventually(m, 'the power-off', (e) => e.event === 'power-off' && e.session === s.session_id);
    // Settling: still the pool's, and its session still there, "releasing".
    assert.equal((await c.session(s.session_id))?.session.state, 'releasing');
    await assert.rejects(c.createSession('rk3588', [], 't'), (e: PoolError) => e.busy('rk3588'));
    await assert.rejects(c.heartbeat(s.session_id), (e: PoolError) => e.releasing);
    const settle = await eventually(m, 'the settle delay', (e) => e.event === 'release-settle');
    assert.equal(settle.seconds, 1);
    await eventually(m, 'the release', (e) => e.event === 'session-released' && e.session === s.session_id);
    assert.equal((await c.createSession('rk3588', [], 't')).board_id, 'relay-01');
  });

  it('the console: {"type":"opened"} first, one per session, {"type":"close"} answered {"type":"closed"}, and its end releases the session', async () => {
    const s = await c.createSession('rk3568', [], 't');
    const con = openConsole(c.wsUrl(s.ws_url!));
    await con.opened;
    await eventually(m, 'the power link', (e) => e.event === 'power-on' && e.session === s.session_id);
    const second = await new Promise<number>((r) =>
      new WebSocket(c.wsUrl(s.ws_url!)).once('unexpected-response', (_q, res) => r(res.statusCode!)),
    );
    assert.equal(second, 409);
    assert.equal((await c.serialStatus(s.session_id)).connected, true);
    con.ws.send('{"type":"close"}');
    await con.closed;
    assert.deepEqual(con.got, ['{"type":"opened"}', '{"type":"closed"}']);
    const end = await eventually(m, 'the session end', (e) => e.event === 'session-end' && e.session === s.session_id);
    assert.equal(end.reason, 'serial_closed');
    await eventually(m, 'the release', (e) => e.event === 'session-released' && e.session === s.session_id);
    // A console asked for on a releasing or gone session is refused.
    const t = await c.createSession('rk3568', [], 't');
    assert.equal(await c.deleteSession(t.session_id), 202);
    const late = await new Promise<number>((r) =>
      new WebSocket(c.wsUrl(t.ws_url!)).once('unexpected-response', (_q, res) => r(res.statusCode!)),
    );
    assert.ok([404, 409].includes(late), `refused (${late})`);
  });

  it('runs the power command on every power-on, a second one too; a failed command is HTTP 500 with its message', async () => {
    await m.stop();
    m = await startPoolModel(tmpDir('hil-pool-'), {
      boards: [dark('rk-01', 'rk3568', { power_on: ['silent', 'silent', 'fail'] })],
    });
    c = new PoolClient('127.0.0.1', m.port);
    const s = await c.createSession('rk3568', [], 't');
    assert.deepEqual(await c.power(s.session_id, true), { ok: true, message: 'executed `hil-pool-power on rk-01`' });
    await c.power(s.session_id, true);
    assert.equal(
      m.events().filter((e) => e.event === 'power-on' && e.session === s.session_id).length,
      2,
      'the command ran twice',
    );
    const r = await fetch(`${c.base}/api/v1/sessions/${s.session_id}/board/power-on`, { method: 'POST' });
    assert.deepEqual(
      [r.status, await r.text()],
      [
        500,
        '{"code":"internal_server_error","message":"command `hil-pool-power on rk-01` exited with status exit status: 1","details":null}',
      ],
    );
  });

  it('a session not renewed expires within a second of its lease (the sweep), and is released', async () => {
    await m.stop();
    m = await startPoolModel(tmpDir('hil-pool-'), { ttlS: 1, boards: [dark('rk-01')] });
    c = new PoolClient('127.0.0.1', m.port);
    const s = await c.createSession('rk3568', [], 't');
    const end = await eventually(m, 'the expiry', (e) => e.event === 'session-end' && e.session === s.session_id, 5);
    assert.equal(end.reason, 'expired');
    await eventually(m, 'the release', (e) => e.event === 'session-released' && e.session === s.session_id);
  });

  it('shows which API it speaks by the shape of its answers: a session state, the profile, the admin route', async () => {
    const s = await c.createSession('rk3568', [], 't');
    const api = apiOf(await c.session(s.session_id), await c.bootProfile(s.session_id));
    assert.deepEqual(api, {
      release: 'background',
      profile: ['kernel_load_addr', 'fit_load_addr', 'bootm_addr', 'network_mode', 'http_base_url'],
    });
    assert.match(describeApi(api), /^releases in the background \(DELETE 202/);
    assert.equal(await c.probeRelease(), 'background');
  });
});

describe('the ostool-server model, as ostool-server 0.1.x answered (api "sync")', function () {
  let m: PoolModel;
  let c: PoolClient;
  before(async () => {
    m = await startPoolModel(tmpDir('hil-pool-'), { api: 'sync', boards: [dark('rk-01')] });
    c = new PoolClient('127.0.0.1', m.port);
  });
  after(() => m.stop());

  it('DELETE answers 204 once released; no session is ever "releasing"; its answers have no state', async () => {
    const s = await c.createSession('rk3568', [], 't');
    const detail = await c.session(s.session_id);
    assert.equal(detail?.session.state, undefined);
    const profile = await c.bootProfile(s.session_id);
    assert.deepEqual(profile.boot, { kind: 'uboot', use_tftp: true, dtb_name: null });
    assert.deepEqual(apiOf(detail, profile), { release: 'in-request', profile: [] });
    assert.equal(await c.deleteSession(s.session_id), 204);
    assert.ok(
      m.events().some((e) => e.event === 'session-released' && e.session === s.session_id),
      'released before DELETE answered',
    );
    assert.equal((await c.boardTypes())[0]!.available, 1);
    assert.equal(await c.probeRelease(), 'in-request');
  });
});

describe("the ostool-server power driver, on the power base (no QEMU: the model's boards are dark)", function () {
  let m: PoolModel;
  before(async () => {
    m = await startPoolModel(tmpDir('hil-pool-'), { boards: [dark('rk-01')] });
  });
  after(() => m.stop());

  it('attach leases a board and gives its share and boot profile through the resource bag; a reset keeps the session; off gives it back once', async () => {
    const r = rig({ name: 'rk3568', board: { console: { kind: 'tcp' } } as never });
    const power = r.power('ostool-server', { server: '127.0.0.1', port: m.port, board_type: 'rk3568' });
    const attached = await power.attach();
    const bag = resourcesOf(attached);
    assert.deepEqual(bag.names().sort(), ['boot defaults', 'tftp share']);
    assert.match(bag.get(TFTP_SHARE)!.describe, /^ostool-server 127\.0\.0\.1:\d+ session [\w-]+$/);
    assert.equal(bag.get(TFTP_SHARE)!.serverIp, '10.0.2.2');
    assert.match(attached.consolePath!, /^ws:\/\/127\.0\.0\.1:\d+\/api\/v1\/sessions\/[\w-]+\/serial\/ws$/);
    const id = m.events().find((e) => e.event === 'session-create')!.session!;
    // Not the pool's console: the base asks for power, and a reset is the session's own off and on.
    await power.on();
    await power.reset();
    const asked = m
      .events()
      .filter((e) => e.event === 'power-request' && e.session === id)
      .map((e) => e.on);
    assert.deepEqual(asked, [true, false, true]);
    assert.ok(!m.events().some((e) => e.event === 'delete'), 'the reset did not give the board back');
    await power.off();
    await power.off();
    assert.equal(m.events().filter((e) => e.event === 'delete' && e.session === id).length, 1, 'released once');
    const log = r.powerLog();
    // The base's lines, then the driver's notes, each a comment line of power.log.
    assert.match(
      log,
      /^# .* attach: ostool-server pool, board type rk3568\n# pool 127\.0\.0\.1:\d+ \(from the board file\), board type rk3568\n/,
    );
    assert.match(
      log,
      /# .* power cycle \(off, 0 s, on\): ostool-server pool, board type rk3568\n# power off: executed `hil-pool-power off rk-01`\n# power on: executed `hil-pool-power on rk-01`\n/,
    );
    assert.match(
      log,
      /# session [\w-]+ released \(DELETE 202: the pool powers the board off and frees it in the background\)\n$/,
    );
    assert.equal(
      log.match(/power off: ostool-server/g)?.length,
      1,
      'the second off is not an action: nothing to release',
    );
  });

  it("attach's time limit is [timeouts] power and the wait for a free board: the pool's own answer (every board busy) is what ends it", async () => {
    const first = rig({ name: 'rk3568', board: { console: { kind: 'tcp' } } as never });
    const holder = first.power('ostool-server', { server: '127.0.0.1', port: m.port, board_type: 'rk3568' });
    await holder.attach();
    try {
      const r = rig({ name: 'rk3568', powerTimeout: 1, board: { console: { kind: 'tcp' } } as never });
      r.ctx.pool.waitS = 2;
      const waiting = r.power('ostool-server', {
        server: '127.0.0.1',
        port: m.port,
        board_type: 'rk3568',
        release_wait: 5,
      });
      await assert.rejects(waiting.attach(), (e: Error) => {
        assert.match(
          e.message,
          /every rk3568 is busy and none came free within 2 s: run again later, or wait for one with --wait 10m/,
        );
        return true;
      });
      assert.match(r.powerLog(), /attach FAILED: .*every rk3568 is busy/);
      await waiting.off();
    } finally {
      await holder.off();
    }
  });
});
