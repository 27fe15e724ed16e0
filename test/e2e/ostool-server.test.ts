// Boards from an ostool-server pool, as TGOSKits' board CI gets them: the runner leases a
// board by type, heartbeats its session, takes the console over the session's WebSocket,
// stages images in its TFTP share, and releases it on every path. The pool is a model of
// ostool-server written from its source (fixtures/ostool-server/model.ts: its lease rules
// enforced), with the real virtual board behind it; the model runs as a process of its own.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type PoolModel, startPoolModel } from '../../fixtures/ostool-server/start.js';
import { freePort } from '../../fixtures/ser2net.js';
import { alive, checkNoQemuLeft, deriveToml, hil, pidsOf, root, runUntilUBoot, tmpDir, virtualBoard, watchRun } from '../helpers.js';

const linuxShell = path.join(root, 'suites', 'virtual-board', 'linux-shell.toml');

/** The virtual board's file with its console, power and TFTP from the pool. */
function poolBoard(port: number, dir: string, power: Record<string, unknown> = {}): string {
  return deriveToml(
    virtualBoard,
    (d) => {
      d.console = { kind: 'ostool-server' };
      d.power = { kind: 'ostool-server', server: '127.0.0.1', port, ...power };
      d.load.methods = ['tftp'];
      delete d.load.tftp.server_ip; // the session's boot profile says where the share is
    },
    dir,
  );
}

const sessionsOf = (m: PoolModel) => m.events().filter((e) => e.event === 'session-create');
const endOf = (m: PoolModel, id: string) => m.events().find((e) => e.event === 'session-end' && e.session === id);

/** The model's board is off: its last power event is an off, and its QEMU is gone. */
function assertBoardOff(m: PoolModel): void {
  const power = m.events().filter((e) => e.event === 'power-on' || e.event === 'power-off');
  assert.equal(power.at(-1)?.event, 'power-off', 'the board was powered off last');
  assert.deepEqual(pidsOf(m.dir).filter(alive), [], "the board's QEMU is gone");
}

async function waitFor<T>(what: string, fn: () => T | undefined, seconds = 20): Promise<T> {
  for (let i = 0; i < seconds * 10; i++) {
    const v = fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not happen within ${seconds} s`);
}

describe('boards from an ostool-server pool', function () {
  checkNoQemuLeft();
  let m: PoolModel;
  let dir: string;
  let board: string;

  beforeEach(async () => {
    dir = tmpDir('hil-pool-');
    // A 3 s lease (ostool-server's is 10 s) makes the heartbeats count within one case.
    m = await startPoolModel(dir, { ttlS: 3 });
    watchRun(dir); // the model's QEMU counts as the run's
    board = poolBoard(m.port, dir);
  });
  afterEach(async () => m.stop());

  it('runs the virtual-board suite through the pool: leased, heartbeated, console over the WebSocket, images in the share, released', async () => {
    const r = await hil(['run', '--board', board, '--suite', 'virtual-board']);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.deepEqual(r.results.counts, { pass: 3, fail: 0, error: 0, timeout: 0, internal: 0 });
    const sessions = sessionsOf(m);
    assert.equal(sessions.length, 3, 'one session per case');
    for (const s of sessions) {
      assert.match(String(s.client), /^hil@/);
      const ev = m.events().filter((e) => e.session === s.session);
      assert.deepEqual(
        ev.map((e) => e.event).filter((e) => ['serial-open', 'power-on', 'session-end'].includes(e)),
        ['serial-open', 'power-on', 'session-end'],
      );
      assert.ok(
        ev.some((e) => e.event === 'file-put'),
        'the images went through the session share',
      );
    }
    // The Linux case outlives a 3 s lease many times over in quiet stretches: heartbeats kept it.
    const linux = r.results.cases.find((c: any) => c.name === 'linux-shell');
    assert.ok(linux.phases.total > 3);
    assert.ok(m.events().some((e) => e.event === 'heartbeat'));
    assert.ok(!m.events().some((e) => e.reason === 'expired'), 'no session expired');
    assert.ok(
      linux.transfers.every((t: any) => t.method === 'tftp' && t.verified),
      'loaded over TFTP from the share, CRC-checked',
    );
    const powerLog = readFileSync(path.join(r.out, linux.transcript, 'power.log'), 'utf8');
    assert.match(powerLog, /pool 127\.0\.0\.1:\d+ \(from the board file\), board type qemu-virt-aarch64/);
    assert.match(powerLog, /staged ostool\/sessions\/[\w-]+\/hil-[\w.-]+\/kernel-Image \(\d+ bytes\)/);
    assert.match(powerLog, /session [\w-]+ released$/m);
    assertBoardOff(m);
    assert.deepEqual(readdirSync(path.join(dir, 'tftp', 'ostool', 'sessions')), [], "the share is emptied with each session's end");
  });

  it('two runs race for the one board: one runs, the other is a lab error at once, or waits for it with --wait', async () => {
    const both = () => Promise.all([hil(['run', '--board', board, '--suite', linuxShell]), hil(['run', '--board', board, '--suite', linuxShell])]);
    const [a, b] = await both();
    const [ran, refused] = a.exitCode === 0 ? [a, b] : [b, a];
    assert.equal(ran.exitCode, 0, ran.stdout + ran.stderr);
    assert.equal(refused.exitCode, 2, refused.stdout + refused.stderr);
    const c = refused.results.cases[0];
    assert.equal(c.phase, 'power');
    assert.match(c.reason, /ostool-server 127\.0\.0\.1:\d+: every qemu-virt-aarch64 is busy: run again later, or wait for one with --wait 10m/);
    assert.equal(sessionsOf(m).length, 1, 'the refused run never had a session, so never touched the board');

    const waiting = await Promise.all([
      hil(['run', '--board', board, '--suite', linuxShell, '--wait', '2m']),
      hil(['run', '--board', board, '--suite', linuxShell, '--wait', '2m']),
    ]);
    for (const w of waiting) assert.equal(w.exitCode, 0, w.stdout + w.stderr);
    assert.ok(waiting.some((w) => /every qemu-virt-aarch64 in ostool-server .* is busy: waiting up to 120 s/.test(w.stdout)));
    const [first, second] = sessionsOf(m).slice(1);
    assert.ok(first && second);
    assert.ok(endOf(m, first.session!)!.t <= second.t, 'the second session began after the first ended: never both at once');
  });

  it('a run that stops heartbeating loses its session: the pool powers the board off, the run ends as a lab error with its transcript', async () => {
    const out = tmpDir('hil-out-');
    const { proc } = await runUntilUBoot(['--board', board, '--suite', linuxShell, '--no-history'], out);
    const id = sessionsOf(m)[0]!.session!;
    process.kill(proc.pid!, 'SIGSTOP'); // a runner stuck (swapped out, debugger): no beats, no reads
    try {
      const end = await waitFor('the session to expire', () => endOf(m, id));
      assert.equal(end.reason, 'expired');
    } finally {
      process.kill(proc.pid!, 'SIGCONT');
    }
    const r = await proc;
    assert.equal(r.exitCode, 2, String(r.stdout));
    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    const c = results.cases[0];
    assert.equal(c.verdict, 'error');
    assert.match(c.reason, /the ostool-server console 127\.0\.0\.1:\d+\/api\/v1\/sessions\/[\w-]+\/serial\/ws went away/);
    assert.match(readFileSync(path.join(out, c.transcript, 'console.log'), 'latin1'), /U-Boot 2023\.01/, 'what came before is kept');
    assertBoardOff(m);
  });

  it('the pool going away mid-run (the WebSocket drops): a lab error, the board off, the transcript kept', async () => {
    const out = tmpDir('hil-out-');
    const { proc } = await runUntilUBoot(['--board', board, '--suite', linuxShell, '--no-history'], out);
    const qemu = pidsOf(dir).filter(alive);
    assert.equal(qemu.length, 1, "the pool's board runs");
    await m.kill();
    const r = await proc;
    assert.equal(r.exitCode, 2, String(r.stdout));
    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    const c = results.cases[0];
    assert.equal(c.verdict, 'error');
    assert.match(c.reason, /the ostool-server console .* went away \((closed by the server|ECONNRESET)/);
    assert.match(readFileSync(path.join(out, c.transcript, 'console.log'), 'latin1'), /U-Boot 2023\.01/);
    // Releasing a session on a server that is gone is told, not hidden, and does not crash the run.
    assert.match(readFileSync(path.join(out, c.transcript, 'power.log'), 'utf8'), /released with errors: .*did not answer/);
    await waitFor('the board to be off', () => qemu.every((p) => !alive(p)) || undefined);
  });

  it('Ctrl-C mid-run: the session is released and the board powered off at once, not after the lease runs out', async () => {
    const out = tmpDir('hil-out-');
    const { proc } = await runUntilUBoot(['--board', board, '--suite', linuxShell, '--no-history'], out);
    const id = sessionsOf(m)[0]!.session!;
    proc.kill('SIGINT');
    const r = await proc;
    assert.equal(r.exitCode, 130);
    const end = endOf(m, id);
    assert.ok(end, 'the session ended with the run');
    assert.notEqual(end.reason, 'expired');
    assertBoardOff(m);
  });

  it('an unknown board type and a pool that is not there are lab errors that say so; the pool is found as ostool finds it', async () => {
    const unknown = await hil(['run', '--board', poolBoard(m.port, tmpDir(), { board_type: 'rk9999' }), '--suite', linuxShell]);
    assert.equal(unknown.exitCode, 2);
    assert.match(unknown.results.cases[0].reason, /ostool-server 127\.0\.0\.1:\d+: no session on a rk9999: board type `rk9999` not found/);

    // No server in the board file: the case's server/port, then ~/.ostool/config.toml.
    const home = tmpDir('hil-home-');
    const noServer = deriveToml(board, (d) => {
      delete d.power.server;
      delete d.power.port;
    });
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(path.join(home, '.ostool'));
    writeFileSync(path.join(home, '.ostool', 'config.toml'), `[board]\nserver_ip = "127.0.0.1"\nport = ${m.port}\n`);
    const viaHome = await hil(['run', '--board', noServer, '--suite', linuxShell], { env: { HOME: home } });
    assert.equal(viaHome.exitCode, 0, viaHome.stdout + viaHome.stderr);
    const log = readFileSync(path.join(viaHome.out, viaHome.results.cases[0].transcript, 'power.log'), 'utf8');
    assert.match(log, new RegExp(`pool 127\\.0\\.0\\.1:${m.port} \\(from ${home.replace(/[/.]/g, '\\$&')}/\\.ostool/config\\.toml\\)`));

    const nobody = await freePort();
    writeFileSync(path.join(home, '.ostool', 'config.toml'), `[board]\nserver_ip = "127.0.0.1"\nport = ${nobody}\n`);
    const gone = await hil(['run', '--board', noServer, '--suite', linuxShell], { env: { HOME: home } });
    assert.equal(gone.exitCode, 2);
    assert.match(
      gone.results.cases[0].reason,
      new RegExp(`ostool-server 127\\.0\\.0\\.1:${nobody}: no session on a qemu-virt-aarch64: .*did not answer POST /api/v1/sessions: ECONNREFUSED.*\\(is the server running`),
    );
    assert.ok(!existsSync(path.join(home, '.ostool', 'config.toml.bak')), 'the runner never writes the file');
  });
});
