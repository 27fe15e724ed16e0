// Boards from an ostool-server pool, as TGOSKits' board CI gets them: the runner leases a
// board by type, heartbeats its session, takes the console over the session's WebSocket,
// stages images in its TFTP share, boots as the session's boot profile says, and gives the
// board back on every path. The pool is a model of ostool-server written from its source
// (fixtures/ostool-server/model.ts: its release job, its 409s, its settle delay, its
// expiry sweep), with the real virtual board behind it; the model runs as a process of its
// own. Nothing here waits a fixed time: the tests wait for the model's events.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { parse } from 'smol-toml';
import type { ModelBoard } from '../../fixtures/ostool-server/model.js';
import { type PoolModel, startPoolModel, VIRT_BOARD } from '../../fixtures/ostool-server/start.js';
import { freePort } from '../../fixtures/ser2net.js';
import { ensureVirtualDisk } from '../../runner/drivers/power/virtual-disk.js';
import {
  alive,
  checkNoQemuLeft,
  deriveToml,
  helloCaseWith,
  hil,
  hilBin,
  pidsOf,
  root,
  runUntilUBoot,
  tmpDir,
  virtualBoard,
  watchRun,
} from '../helpers.js';

const linuxShell = path.join(root, 'suites', 'virtual-board', 'linux-shell.toml');

/** The virtual board's file with its console, power and TFTP from the pool. */
function poolBoard(
  port: number,
  dir: string,
  power: Record<string, unknown> = {},
  change: (d: any) => void = () => {},
): string {
  return deriveToml(
    virtualBoard,
    (d) => {
      d.console = { kind: 'ostool-server' };
      d.power = { kind: 'ostool-server', server: '127.0.0.1', port, ...power };
      d.load.methods = ['tftp'];
      delete d.load.tftp.server_ip; // the session's boot profile says where the share is
      change(d);
    },
    dir,
  );
}

const sessionsOf = (m: PoolModel) => m.events().filter((e) => e.event === 'session-create');
const ofSession = (m: PoolModel, id: string) => m.events().filter((e) => e.session === id);
const endOf = (m: PoolModel, id: string) => m.events().find((e) => e.event === 'session-end' && e.session === id);
const releasedOf = (m: PoolModel, id: string) =>
  m.events().find((e) => e.event === 'session-released' && e.session === id);

/** Waits for something the model logs (checked every 100 ms, up to `seconds`). */
async function waitFor<T>(what: string, fn: () => T | undefined, seconds = 30): Promise<T> {
  for (let i = 0; i < seconds * 10; i++) {
    const v = fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not happen within ${seconds} s`);
}

/** The model's board is off: its last power event is an off, and its QEMU is gone. */
function assertBoardOff(m: PoolModel): void {
  const power = m.events().filter((e) => e.event === 'power-on' || e.event === 'power-off');
  assert.equal(power.at(-1)?.event, 'power-off', 'the board was powered off last');
  assert.deepEqual(pidsOf(m.dir).filter(alive), [], "the board's QEMU is gone");
}

/** A passed case: no phase it failed in, every phase of a boot timed. */
function assertPassed(c: any): void {
  assert.equal(c.verdict, 'pass');
  assert.equal(c.phase, undefined, 'a passed case names no failing phase');
  for (const ph of ['power', 'uboot', 'load', 'boot', 'guest']) assert.ok(c.phases[ph] > 0, `phase ${ph} timed`);
}

const powerLog = (r: { out: string }, c: any) => readFileSync(path.join(r.out, c.transcript, 'power.log'), 'utf8');
const timedLog = (r: { out: string }, c: any) =>
  readFileSync(path.join(r.out, c.transcript, 'console.timed.log'), 'utf8');

describe('boards from an ostool-server pool', function () {
  checkNoQemuLeft();
  let m: PoolModel | undefined;
  let dir: string;
  let board: string;

  /** A pool of its own for a test (the default one is stopped first). */
  async function pool(o: Parameters<typeof startPoolModel>[1] = {}): Promise<PoolModel> {
    await m?.stop();
    m = await startPoolModel(dir, { ttlS: 3, ...o });
    board = poolBoard(m.port, dir);
    return m;
  }

  beforeEach(async () => {
    dir = tmpDir('hil-pool-');
    watchRun(dir); // the model's QEMU counts as the run's
    // A 3 s lease (ostool-server's is 10 s) makes the heartbeats count within one case.
    await pool();
  });
  afterEach(async () => {
    await m?.stop();
    m = undefined;
  });

  it('runs the virtual-board suite through the pool: leased, heartbeated, console over the WebSocket, images in the share, given back', async () => {
    const p = m!;
    const r = await hil(['run', '--board', board, '--suite', 'virtual-board']);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.deepEqual(r.results.counts, { pass: 3, fail: 0, error: 0, timeout: 0, internal: 0 });
    const sessions = sessionsOf(p);
    assert.equal(sessions.length, 3, 'one session per case');
    for (const s of sessions) {
      assert.match(String(s.client), /^hil@/);
      const ev = ofSession(p, s.session!);
      assert.deepEqual(
        ev.map((e) => e.event).filter((e) => ['serial-open', 'power-on', 'session-end'].includes(e)),
        ['serial-open', 'power-on', 'session-end'],
        'one power-on per session: the pool switched the board on as the console opened',
      );
      assert.ok(
        ev.some((e) => e.event === 'file-put'),
        'the images went through the session share',
      );
    }
    // The Linux case outlives a 3 s lease many times over in quiet stretches: heartbeats kept it.
    const linux = r.results.cases.find((c: any) => c.name === 'linux-shell');
    assert.ok(linux.phases.total > 3);
    assert.ok(p.events().some((e) => e.event === 'heartbeat' && e.status === 200));
    assert.ok(!p.events().some((e) => e.reason === 'expired'), 'no session expired');
    assert.ok(
      linux.transfers.every((t: any) => t.method === 'tftp' && t.verified),
      'loaded over TFTP from the share, CRC-checked',
    );
    const log = powerLog(r, linux);
    assert.match(log, /pool 127\.0\.0\.1:\d+ \(from the board file\), board type qemu-virt-aarch64/);
    assert.match(log, /pool API: releases in the background \(DELETE 202/);
    assert.match(log, /boot profile: serverip 10\.0\.2\.2 \(TFTP available\), DHCP/);
    assert.match(log, /staged ostool\/sessions\/[\w-]+\/hil-[\w.-]+\/kernel-Image \(\d+ bytes\)/);
    assert.match(log, /session [\w-]+ released \(DELETE (202|404)/);
    // The last session's release finishes after the run: the board off, the share emptied.
    await waitFor('the last release', () => releasedOf(p, sessions[2]!.session!));
    assertBoardOff(p);
    assert.deepEqual(
      readdirSync(path.join(dir, 'tftp', 'ostool', 'sessions')),
      [],
      "the share is emptied with each session's release",
    );
  });

  it("the case's board is switched on once, by the pool as the console opens: no second power-on", async () => {
    const p = m!;
    const r = await hil(['run', '--board', board, '--suite', helloCaseWith()]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const c = r.results.cases[0];
    assert.equal(c.verdict, 'pass');
    assertPassed(c);
    const id = sessionsOf(p)[0]!.session!;
    assert.equal(ofSession(p, id).filter((e) => e.event === 'power-on').length, 1, 'the power-on command ran once');
    assert.ok(
      !p.events().some((e) => e.event === 'power-request'),
      'the runner asked for no power-on (nor power-off) of its own',
    );
    assert.match(powerLog(r, c), /power on: by the pool, as the console opened/);
    await waitFor('the release', () => releasedOf(p, id));
    assertBoardOff(p);
  });

  it('the release, as ostool gives a board back: {"type":"close"}, then DELETE; the session\'s "releasing" answers between are normal, no "released with errors"', async () => {
    const p = m!;
    const r = await hil(['run', '--board', board, '--suite', linuxShell]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const c = r.results.cases[0];
    assert.equal(c.verdict, 'pass');
    assertPassed(c);
    assert.equal(r.results.counts.pass, 1);
    const id = sessionsOf(p)[0]!.session!;
    await waitFor('the release', () => releasedOf(p, id));
    const order = ofSession(p, id).map((e) => e.event);
    const at = (name: string) => order.indexOf(name);
    assert.ok(at('serial-close-request') >= 0, 'the runner sent {"type":"close"}');
    assert.ok(
      at('serial-close-request') < at('serial-close') &&
        at('serial-close') < at('delete') &&
        at('delete') < at('session-released'),
      order.join(' '),
    );
    assert.equal(
      endOf(p, id)?.reason,
      'serial_closed',
      "the console's close started the release, as on the real server",
    );
    assert.equal(
      p.events().find((e) => e.event === 'delete' && e.session === id)?.status,
      202,
      'DELETE found the session releasing and answered 202',
    );
    assert.ok(!p.events().some((e) => e.event === 'power-request'), 'no power-off sent to a releasing session');
    const log = powerLog(r, c);
    assert.doesNotMatch(log, /released with errors|heartbeat failed/);
    assert.match(
      log,
      /session [\w-]+ released \(DELETE 202: the pool powers the board off and frees it in the background\)/,
    );
    assert.doesNotMatch(r.stdout, /warning: .*ostool-server/);
    assertBoardOff(p);
  });

  it('two cases in one run on a relay-powered board whose release settles 2 s: the second waits for the board the first gave back, and runs', async () => {
    const p = await pool({ boards: [{ ...VIRT_BOARD, power_management: 'zhongsheng_relay', settle_s: 2 }] });
    const suite = tmpDir('hil-suite-');
    helloCaseWith(() => {}, suite);
    deriveToml(
      linuxShell,
      (d) => {
        for (const k of ['kernel', 'initrd'] as const)
          d.images[k] = path.join(root, 'fixtures/linux/out', k === 'kernel' ? 'Image' : 'initramfs.cpio.gz');
        delete d.qemu_case;
      },
      suite,
    );
    const r = await hil(['run', '--board', board, '--suite', suite]); // no --wait: a busy pool would end the run
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.deepEqual(r.results.cases.map((c: any) => [c.name, c.verdict]).sort(), [
      ['hello', 'pass'],
      ['linux-shell', 'pass'],
    ]);
    const [first, second] = sessionsOf(p);
    assert.ok(first && second);
    const released = releasedOf(p, first.session!)!;
    assert.ok(released, 'the first session was released');
    assert.ok(p.events().some((e) => e.event === 'release-settle' && e.session === first.session && e.seconds === 2));
    assert.ok(
      released.t <= second.t,
      'the second session was created once the first was released: the board was never both',
    );
    const later = r.results.cases.find((c: any) => powerLog(r, c).includes(`session ${second.session}`));
    assert.match(powerLog(r, later), /waiting for virt-01 to be released by the pool \(session [\w-]+ releasing\)/);
    assert.doesNotMatch(r.stdout, /busy/);
    await waitFor('the last release', () => releasedOf(p, second.session!));
    assertBoardOff(p);
  });

  it("a power command that fails is a lab error naming the HTTP status; an automatic power-on that fails is the server's word", async () => {
    // A dead supply: the first power-on "succeeds" and the board stays dark; the runner
    // resets it through the session's power endpoints, and that power-on command fails.
    let p = await pool({ boards: [{ ...VIRT_BOARD, power_on: ['silent', 'fail'] } as ModelBoard] });
    board = poolBoard(p.port, dir, {}, (d) => {
      d.timeouts.uboot = 3;
    });
    const r = await hil(['run', '--board', board, '--suite', helloCaseWith()]);
    assert.equal(r.exitCode, 2, r.stdout + r.stderr);
    assert.equal(r.results.verdict, 'error');
    const c = r.results.cases[0];
    assert.equal(c.verdict, 'error');
    assert.equal(c.phase, 'power');
    assert.match(
      c.reason,
      /ostool-server 127\.0\.0\.1:\d+: power on of virt-01: command `hil-pool-power on virt-01` exited with status exit status: 1 \(HTTP 500 internal_server_error\)/,
    );
    assert.match(
      powerLog(r, c),
      /power off: executed `hil-pool-power off virt-01`\n.*power on FAILED: .* \(HTTP 500 internal_server_error\)/,
    );
    await waitFor('the release', () => releasedOf(p, sessionsOf(p)[0]!.session!));

    // The power link's own power-on failing: the server says so on the console and ends it.
    p = await pool({ boards: [{ ...VIRT_BOARD, power_on: ['fail'] } as ModelBoard] });
    const r2 = await hil(['run', '--board', poolBoard(p.port, dir), '--suite', helloCaseWith()]);
    assert.equal(r2.exitCode, 2, r2.stdout + r2.stderr);
    const c2 = r2.results.cases[0];
    assert.equal(c2.verdict, 'error');
    assert.match(
      c2.reason,
      /the ostool-server console .* went away \(the server said: automatic power-on failed: command `hil-pool-power on virt-01` exited with status exit status: 1\)/,
    );
    assert.ok(['power', 'uboot'].includes(c2.phase), c2.phase);
    await waitFor('the release', () => releasedOf(p, sessionsOf(p)[0]!.session!));
    assert.deepEqual(pidsOf(p.dir).filter(alive), [], 'no QEMU was ever started');
  });

  it('finds out which API the pool speaks, from its answers, for both generations: in the run and in `hil lab status`', async () => {
    const lab = tmpDir('hil-lab-');
    mkdirSync(path.join(lab, 'boards'));
    for (const api of ['releasing', 'sync'] as const) {
      const p = await pool({ api });
      const r = await hil(['run', '--board', board, '--suite', helloCaseWith()]);
      assert.equal(r.exitCode, 0, r.stdout + r.stderr);
      const c = r.results.cases[0];
      assert.equal(c.verdict, 'pass');
      assertPassed(c);
      const id = sessionsOf(p)[0]!.session!;
      const log = powerLog(r, c);
      if (api === 'releasing') {
        assert.match(
          log,
          /pool API: releases in the background \(DELETE 202, then "releasing" until the board is off and free\); boot profile with kernel_load_addr, fit_load_addr, bootm_addr, network_mode, http_base_url/,
        );
        assert.match(log, /released \(DELETE 202/);
      } else {
        assert.match(log, /pool API: releases before answering DELETE \(204; ostool-server 0\.1\.x\)\n/);
        assert.match(log, /released \(DELETE 204\)/);
      }
      await waitFor('the release', () => releasedOf(p, id));
      poolBoard(p.port, path.join(lab, 'boards'));
      const st = await execa('node', [hilBin, 'lab', 'status'], {
        cwd: root,
        reject: false,
        env: { HIL_LAB: lab, HIL_LEASE_DIR: tmpDir('hil-leases-'), HIL_HEALTH_DIR: tmpDir('hil-health-') },
      });
      assert.equal(st.exitCode, 0, st.stdout + st.stderr);
      assert.match(
        st.stdout,
        new RegExp(
          `ostool-server 127\\.0\\.0\\.1:${p.port}: ${api === 'releasing' ? 'releases in the background \\(DELETE 202' : 'releases before answering DELETE \\(204; ostool-server 0\\.1\\.x\\)'}`,
        ),
      );
      assert.match(st.stdout, /qemu-virt-aarch64\s+pool board type qemu-virt-aarch64: 1 of 1 free \(tags virtual\)/);
      assertBoardOff(p);
    }
  });

  it("boots as the session's boot profile says: its static IP, its FIT addresses, its device tree (/dtb), its TFTP server (/tftp)", async () => {
    // A real device tree for this machine, from QEMU itself, as the pool's preset DTB.
    const dtbDir = tmpDir('hil-dtb-');
    const args = (parse(readFileSync(virtualBoard, 'utf8')) as any).power.args as string[];
    const disk = ensureVirtualDisk(path.join(dtbDir, 'sd.img'), 64);
    await execa(
      'qemu-system-aarch64',
      args.map((a) =>
        a === 'virt'
          ? `virt,dumpdtb=${path.join(dtbDir, 'qemu-virt.dtb')}`
          : a.replace('{tftp_dir}', dtbDir).replace('{disk}', disk),
      ),
    );
    const p = await pool({
      boards: [
        {
          ...VIRT_BOARD,
          dtb_file: path.join(dtbDir, 'qemu-virt.dtb'),
          boot: {
            use_tftp: true,
            dtb_name: 'qemu-virt.dtb',
            kernel_load_addr: '0x40400000',
            fit_load_addr: '0x42000000',
            bootm_addr: '0x42000000',
            network_mode: 'static_ip',
            board_ip: '10.0.2.15',
            gatewayip: '10.0.2.2',
            netmask: '255.255.255.0',
            server_ip: '10.0.2.2',
          },
        },
      ],
    });
    // The board file says nothing of the board's address: the profile's is used.
    board = poolBoard(p.port, dir, {}, (d) => delete d.load.tftp.board_ip);
    const r = await hil(['run', '--board', board, '--suite', helloCaseWith()]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const c = r.results.cases[0];
    assert.equal(c.verdict, 'pass');
    assertPassed(c);
    assert.deepEqual(
      c.transfers.map((t: any) => [t.role, t.method, t.verified]),
      [['fit', 'tftp', true]],
    );
    const timed = timedLog(r, c);
    for (const cmd of [
      'setenv ipaddr 10.0.2.15',
      'setenv netmask 255.255.255.0',
      'setenv gatewayip 10.0.2.2',
      'setenv serverip 10.0.2.2',
    ])
      assert.ok(timed.includes(`=> ${cmd}`), cmd);
    assert.doesNotMatch(timed, /=> dhcp/);
    assert.match(timed, /## FIT image .*image\.fit: kernel at 0x40400000, loaded at 0x42000000/);
    assert.match(timed, /=> tftpboot 0x42000000 ostool\/sessions\/[\w-]+\/hil-[\w.-]+\/fit-image\.fit/);
    assert.match(timed, /=> bootm 0x42000000#conf-1\s*$/m, 'booted with the FIT and its device tree');
    assert.match(timed, /Loading fdt from FIT Image at 42000000/);
    const log = powerLog(r, c);
    assert.match(
      log,
      /boot profile: serverip 10\.0\.2\.2 \(TFTP available\), static ipaddr 10\.0\.2\.15 netmask 255\.255\.255\.0 gatewayip 10\.0\.2\.2, kernel_load_addr 0x40400000, fit_load_addr 0x42000000, bootm_addr 0x42000000, device tree qemu-virt\.dtb \(boot\/dtb\/qemu-virt\.dtb\)/,
    );
    assert.match(log, /device tree qemu-virt\.dtb from the pool \(\d+ bytes\)/);
    const id = sessionsOf(p)[0]!.session!;
    const asked = ofSession(p, id).map((e) => e.event);
    for (const e of ['boot-profile', 'tftp-status', 'dtb', 'dtb-download']) assert.ok(asked.includes(e), `asked ${e}`);
    await waitFor('the release', () => releasedOf(p, id));
    assertBoardOff(p);
  });

  it('two runs race for the one board: one runs, the other is a lab error at once, or waits for it with --wait', async () => {
    const p = m!;
    const both = () =>
      Promise.all([
        hil(['run', '--board', board, '--suite', linuxShell]),
        hil(['run', '--board', board, '--suite', linuxShell]),
      ]);
    const [a, b] = await both();
    const [ran, refused] = a.exitCode === 0 ? [a, b] : [b, a];
    assert.equal(ran.exitCode, 0, ran.stdout + ran.stderr);
    assert.equal(ran.results.cases[0].verdict, 'pass');
    assert.equal(refused.exitCode, 2, refused.stdout + refused.stderr);
    const c = refused.results.cases[0];
    assert.equal(c.verdict, 'error');
    assert.equal(c.phase, 'power');
    assert.match(
      c.reason,
      /ostool-server 127\.0\.0\.1:\d+: every qemu-virt-aarch64 is busy: run again later, or wait for one with --wait 10m/,
    );
    assert.equal(sessionsOf(p).length, 1, 'the refused run never had a session, so never touched the board');
    await waitFor('the release', () => releasedOf(p, sessionsOf(p)[0]!.session!));

    const waiting = await Promise.all([
      hil(['run', '--board', board, '--suite', linuxShell, '--wait', '2m']),
      hil(['run', '--board', board, '--suite', linuxShell, '--wait', '2m']),
    ]);
    for (const w of waiting) assert.equal(w.exitCode, 0, w.stdout + w.stderr);
    assert.ok(
      waiting.some((w) => /every qemu-virt-aarch64 in ostool-server .* is busy: waiting up to 120 s/.test(w.stdout)),
    );
    const [first, second] = sessionsOf(p).slice(1);
    assert.ok(first && second);
    assert.ok(
      releasedOf(p, first.session!)!.t <= second.t,
      'the second session began after the first was released: never both at once',
    );
    await waitFor('the release', () => releasedOf(p, second.session!));
    assertBoardOff(p);
  });

  it('a run that stops heartbeating loses its session: the pool expires it and powers the board off, the run ends as a lab error with its transcript', async () => {
    const p = m!;
    const out = tmpDir('hil-out-');
    const { proc } = await runUntilUBoot(['--board', board, '--suite', linuxShell, '--no-history'], out);
    const id = sessionsOf(p)[0]!.session!;
    process.kill(proc.pid!, 'SIGSTOP'); // a runner stuck (swapped out, debugger): no beats, no reads
    try {
      const end = await waitFor('the session to expire', () => endOf(p, id));
      assert.equal(end.reason, 'expired');
    } finally {
      process.kill(proc.pid!, 'SIGCONT');
    }
    const r = await proc;
    assert.equal(r.exitCode, 2, String(r.stdout));
    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    const c = results.cases[0];
    assert.equal(c.verdict, 'error');
    assert.match(
      c.reason,
      /the ostool-server console 127\.0\.0\.1:\d+\/api\/v1\/sessions\/[\w-]+\/serial\/ws went away \(the server closed it: the session was released or its lease ran out/,
    );
    assert.match(
      readFileSync(path.join(out, c.transcript, 'console.log'), 'latin1'),
      /U-Boot 2023\.01/,
      'what came before is kept',
    );
    await waitFor('the release', () => releasedOf(p, id));
    assertBoardOff(p);
  });

  it('the pool going away mid-run (the WebSocket drops): a lab error, the board off, the transcript kept', async () => {
    const p = m!;
    const out = tmpDir('hil-out-');
    const { proc } = await runUntilUBoot(['--board', board, '--suite', linuxShell, '--no-history'], out);
    const qemu = pidsOf(dir).filter(alive);
    assert.equal(qemu.length, 1, "the pool's board runs");
    await p.kill();
    const r = await proc;
    assert.equal(r.exitCode, 2, String(r.stdout));
    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    const c = results.cases[0];
    assert.equal(c.verdict, 'error');
    assert.match(c.reason, /the ostool-server console .* went away \((closed by the server|ECONNRESET)/);
    assert.match(readFileSync(path.join(out, c.transcript, 'console.log'), 'latin1'), /U-Boot 2023\.01/);
    // Giving a session back to a server that is gone is told, not hidden, and does not crash the run.
    assert.match(
      readFileSync(path.join(out, c.transcript, 'power.log'), 'utf8'),
      /released with errors: .*did not answer/,
    );
    await waitFor('the board to be off', () => qemu.every((q) => !alive(q)) || undefined);
  });

  it('Ctrl-C mid-run: the session is given back and the board powered off at once, not after the lease runs out', async () => {
    const p = m!;
    const out = tmpDir('hil-out-');
    const { proc } = await runUntilUBoot(['--board', board, '--suite', linuxShell, '--no-history'], out);
    const id = sessionsOf(p)[0]!.session!;
    proc.kill('SIGINT');
    const r = await proc;
    assert.equal(r.exitCode, 130);
    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    assert.equal(results.cases[0].verdict, 'error');
    const end = endOf(p, id);
    assert.ok(end, 'the session ended with the run');
    assert.notEqual(end.reason, 'expired');
    await waitFor('the release', () => releasedOf(p, id));
    assertBoardOff(p);
  });

  it('an unknown board type and a pool that is not there are lab errors that say so; the pool is found as ostool finds it', async () => {
    const p = m!;
    const unknown = await hil([
      'run',
      '--board',
      poolBoard(p.port, tmpDir(), { board_type: 'rk9999' }),
      '--suite',
      linuxShell,
    ]);
    assert.equal(unknown.exitCode, 2);
    assert.equal(unknown.results.cases[0].verdict, 'error');
    assert.equal(unknown.results.cases[0].phase, 'power');
    assert.match(
      unknown.results.cases[0].reason,
      /ostool-server 127\.0\.0\.1:\d+: no session on a rk9999: board type `rk9999` not found \(HTTP 404 not_found\)/,
    );

    // No server in the board file: the case's server/port, then ~/.ostool/config.toml.
    const home = tmpDir('hil-home-');
    const noServer = deriveToml(board, (d) => {
      delete d.power.server;
      delete d.power.port;
    });
    const { writeFileSync } = await import('node:fs');
    mkdirSync(path.join(home, '.ostool'));
    writeFileSync(path.join(home, '.ostool', 'config.toml'), `[board]\nserver = "http://127.0.0.1:${p.port}"\n`);
    const viaHome = await hil(['run', '--board', noServer, '--suite', linuxShell], { env: { HOME: home } });
    assert.equal(viaHome.exitCode, 0, viaHome.stdout + viaHome.stderr);
    assert.equal(viaHome.results.cases[0].verdict, 'pass');
    const log = powerLog(viaHome, viaHome.results.cases[0]);
    assert.match(
      log,
      new RegExp(`pool 127\\.0\\.0\\.1:${p.port} \\(from ${home.replace(/[/.]/g, '\\$&')}/\\.ostool/config\\.toml\\)`),
    );
    await waitFor('the release', () => releasedOf(p, sessionsOf(p)[0]!.session!));

    const nobody = await freePort();
    writeFileSync(path.join(home, '.ostool', 'config.toml'), `[board]\nserver_ip = "127.0.0.1"\nport = ${nobody}\n`);
    const gone = await hil(['run', '--board', noServer, '--suite', linuxShell], { env: { HOME: home } });
    assert.equal(gone.exitCode, 2);
    assert.equal(gone.results.cases[0].verdict, 'error');
    assert.match(
      gone.results.cases[0].reason,
      new RegExp(
        `ostool-server 127\\.0\\.0\\.1:${nobody}: no session on a qemu-virt-aarch64: .*did not answer POST /api/v1/sessions: ECONNREFUSED.*\\(is the server running`,
      ),
    );
    assert.ok(!existsSync(path.join(home, '.ostool', 'config.toml.bak')), 'the runner never writes the file');
    assertBoardOff(p);
  });
});
