// A board wired to another host: its power commands run there over SSH, its images go to
// that host's TFTP folder over SFTP, and its console is that host's ser2net, reached through
// the SSH connection. The lab host is real: Debian's OpenSSH server and ser2net in a
// network namespace of this test's own (fixtures/lab-host), with the virtual board wired to
// it. Same run, same verdicts, same transcript as a local board.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { type LabHostFixture, labHostMissing, startLabHost } from '../../fixtures/lab-host/lab-host.js';
import {
  deriveToml,
  helloCaseWith,
  hil,
  hilBin,
  root,
  runUntilUBoot,
  tmpDir,
  virtualBoard,
  until,
} from '../helpers.js';
import { execa } from 'execa';
import { mkdirSync } from 'node:fs';

const linuxShell = path.join(root, 'suites', 'virtual-board', 'linux-shell.toml');

/** Every file under `dir`, read as text (for secrets that must not be there). */
function allText(dir: string): string {
  let text = '';
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) text += readFileSync(path.join(e.parentPath, e.name), 'latin1');
  }
  return text;
}

describe('a board on a lab host over SSH (OpenSSH and ser2net in a network namespace)', function () {
  let h: LabHostFixture;
  let dir: string;

  before(async function () {
    const missing = labHostMissing();
    if (missing) throw new Error(missing); // never skipped: setup provides what it needs
    dir = tmpDir('hil-labhost-');
    h = await startLabHost(dir);
  });
  after(async () => h?.stop());

  /** The virtual board's file, wired through the lab host. */
  const boardFile = (change: (d: any) => void = () => {}) =>
    deriveToml(
      virtualBoard,
      (d) => {
        d.lab_host = {
          host: h.address,
          user: 'root',
          identity_file: h.identity,
          known_hosts: h.knownHosts,
          connect_timeout: 5,
          lease_dir: path.join(dir, 'leases'),
        };
        d.console = { kind: 'tcp', host: '127.0.0.1', port: h.ser2netLocal, via: 'lab_host' };
        d.power = { kind: 'ssh', on: `${h.powerScript} on`, off: `${h.powerScript} off` };
        d.load.methods = ['tftp'];
        d.load.tftp = { ...d.load.tftp, dir: h.tftpDir, via: 'lab_host' };
        delete d.storage;
        change(d);
      },
      tmpDir(),
    );

  it('runs the virtual-board suite: power on the lab host, console through the SSH tunnel, images over SFTP; same verdicts and transcript', async () => {
    // The console port listens only on the lab host's loopback: nothing but the tunnel reaches it.
    const direct = await new Promise<string>((r) => {
      const s = net.connect({ host: h.address, port: h.ser2netLocal }, () => r('connected'));
      s.on('error', (e: NodeJS.ErrnoException) => r(e.code ?? 'error'));
    });
    assert.equal(direct, 'ECONNREFUSED');
    const r = await hil(['run', '--board', boardFile(), '--suite', 'virtual-board']);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.deepEqual(r.results.counts, { pass: 3, fail: 0, error: 0, timeout: 0, internal: 0 });
    const linux = r.results.cases.find((c: any) => c.name === 'linux-shell');
    assert.equal(linux.matched.line, 'guest test pass!');
    const caseDir = path.join(r.out, linux.transcript);
    assert.match(
      readFileSync(path.join(caseDir, 'console.timed.log'), 'utf8'),
      new RegExp(`## console tcp .*${h.ser2netLocal}`),
    );
    assert.match(readFileSync(path.join(caseDir, 'console.log'), 'latin1'), /U-Boot 2023\.01[\s\S]*Linux version/);
    // The power commands ran on the lab host (its script says so, with the board's name).
    const power = readFileSync(path.join(caseDir, 'power.log'), 'utf8');
    assert.match(power, /power\.sh on\nboard qemu-virt-aarch64 on\n\[exit 0\]/);
    assert.match(power, /power\.sh off\nboard qemu-virt-aarch64 off\n\[exit 0\]/);
    assert.ok(linux.transfers.every((t: any) => t.method === 'tftp' && t.verified));
    assert.deepEqual(
      readdirSync(h.tftpDir),
      ['hil-cache'],
      "the run's folder on the lab host is removed; the image cache stays",
    );
    // Kept by content: the kernel the three cases share was copied over SSH once.
    const cache = readdirSync(path.join(h.tftpDir, 'hil-cache'));
    const sha = createHash('sha256')
      .update(readFileSync(path.join(root, 'fixtures', 'linux', 'out', 'Image')))
      .digest('hex');
    assert.ok(
      cache.some((f) => f.startsWith(sha)),
      `the Linux kernel is cached by its digest: ${cache.join(', ')}`,
    );
    assert.equal(cache.length, 3, 'hello.Image, the Linux kernel and its initramfs, once each');
    assert.equal(await h.running(), false, 'the board is off');
    assert.deepEqual(h.sshSessions(), [], 'no SSH connection is left open');
  });

  it('takes the console straight over TCP where the board file says so', async () => {
    const board = boardFile((d) => {
      d.console = { kind: 'tcp', host: h.address, port: h.ser2netDirect };
    });
    const r = await hil(['run', '--board', board, '--suite', helloCaseWith()]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
  });

  it('never accepts an unknown or changed host key; a hashed known_hosts and a jump host work', async () => {
    const unknown = path.join(tmpDir(), 'known_hosts');
    writeFileSync(unknown, '');
    const r1 = await hil([
      'run',
      '--board',
      boardFile((d) => (d.lab_host.known_hosts = unknown)),
      '--suite',
      helloCaseWith(),
    ]);
    assert.equal(r1.exitCode, 2, r1.stdout + r1.stderr);
    // The lease on the lab host is the first thing asked of it: the run never began.
    assert.deepEqual(r1.results.cases, []);
    assert.match(r1.results.reason, /the board was not powered$/);
    assert.match(
      r1.results.reason,
      new RegExp(
        `unknown host ${h.address.replace(/\./g, '\\.')} \\(key SHA256:[\\w+/]+\\): check that fingerprint with the lab's admin, then add it: ssh-keyscan -p 22 ${h.address.replace(/\./g, '\\.')} >> `,
      ),
    );
    assert.equal(readFileSync(unknown, 'utf8'), '', 'nothing was added to known_hosts');
    assert.equal(await h.running(), false, 'the board was never powered');

    const changed = path.join(tmpDir(), 'known_hosts');
    const other = path.join(tmpDir(), 'other');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    writeFileSync(changed, `${h.address} ${readFileSync(`${other}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
    const r2 = await hil([
      'run',
      '--board',
      boardFile((d) => (d.lab_host.known_hosts = changed)),
      '--suite',
      helloCaseWith(),
    ]);
    assert.equal(r2.exitCode, 2);
    assert.match(r2.results.reason, /the host key of 10\.[\d.]+ CHANGED: it offered SHA256:/);

    const hashed = path.join(tmpDir(), 'known_hosts');
    writeFileSync(hashed, readFileSync(h.knownHosts));
    execFileSync('ssh-keygen', ['-H', '-f', hashed], { stdio: 'ignore' });
    assert.doesNotMatch(readFileSync(hashed, 'utf8'), /10\./, 'the names are hashed');
    // Through a jump host: the lab host's own loopback is reachable only from there.
    const jumped = boardFile((d) => {
      d.lab_host.known_hosts = hashed;
      d.lab_host.jump = [`root@${h.address}`];
      d.lab_host.host = '127.0.0.1';
    });
    const r3 = await hil(['run', '--board', jumped, '--suite', helloCaseWith()]);
    assert.equal(r3.exitCode, 0, r3.stdout + r3.stderr);
  });

  it("uses the SSH agent, or a key's passphrase given as a secret that is written nowhere", async () => {
    const agentDir = tmpDir('hil-agent-');
    const sock = path.join(agentDir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', sock], { stdio: 'ignore' });
    try {
      await until(() => readdirSync(agentDir).length > 0, "ssh-agent's socket");
      execFileSync('ssh-add', [h.identity], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
      const viaAgent = boardFile((d) => delete d.lab_host.identity_file);
      const r = await hil(['run', '--board', viaAgent, '--suite', helloCaseWith()], { env: { SSH_AUTH_SOCK: sock } });
      assert.equal(r.exitCode, 0, r.stdout + r.stderr);
      const none = await hil(['run', '--board', viaAgent, '--suite', helloCaseWith()], { env: { SSH_AUTH_SOCK: '' } });
      assert.equal(none.exitCode, 3, none.stdout + none.stderr);
      assert.match(
        none.stderr,
        /\[lab_host\]: no identity_file and no SSH agent \(SSH_AUTH_SOCK is not set\): give a key file, or start ssh-agent and ssh-add a key/,
      );
    } finally {
      agent.kill();
    }

    const passphrase = 'correct-horse-7731';
    const locked = path.join(tmpDir(), 'id_locked');
    writeFileSync(locked, readFileSync(h.identity));
    execFileSync('chmod', ['600', locked]);
    execFileSync('ssh-keygen', ['-q', '-p', '-N', passphrase, '-f', locked]);
    const board = boardFile((d) => {
      d.lab_host.identity_file = locked;
      d.lab_host.passphrase = '${secret:HIL_TEST_KEY_PASS}';
    });
    const r = await hil(['run', '--board', board, '--suite', helloCaseWith()], {
      env: { HIL_TEST_KEY_PASS: passphrase },
    });
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.ok(
      !(r.stdout + r.stderr + allText(r.out)).includes(passphrase),
      'the passphrase is in no output and no file',
    );
  });

  it('the SSH connection dropping mid-run: a lab error where it stood, the board powered off, the transcript kept', async () => {
    const out = tmpDir('hil-out-');
    const { proc } = await runUntilUBoot(['--board', boardFile(), '--suite', linuxShell, '--no-history'], out);
    assert.equal(await h.running(), true);
    // The lab host's side goes. A session that ended between the listing and the kill (a
    // short command of the run's) is gone already: not an error, so long as one is killed.
    let killed = 0;
    for (const pid of h.sshSessions()) {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
      }
    }
    assert.ok(killed > 0, 'an SSH session of the run was there to kill');
    const r = await proc;
    assert.equal(r.exitCode, 2, String(r.stdout));
    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8'));
    const c = results.cases[0];
    assert.equal(c.verdict, 'error');
    // Where it stood: the console going away, or the image copy the drop cut short.
    const host = `lab host root@${h.address.replace(/\./g, '\\.')}`;
    assert.match(
      c.reason,
      new RegExp(
        `the console connection tcp:127\\.0\\.0\\.1:${h.ser2netLocal} via ${host} went away|${host}: (no SFTP|copying to .*): the SSH connection dropped`,
      ),
    );
    assert.match(readFileSync(path.join(out, c.transcript, 'console.log'), 'latin1'), /U-Boot 2023\.01/);
    // Power-off connected again to switch the board off.
    assert.match(readFileSync(path.join(out, c.transcript, 'power.log'), 'utf8'), /board qemu-virt-aarch64 off/);
    assert.equal(await h.running(), false);
  });

  describe('leases kept on the lab host hold across machines', () => {
    /** `hil` as another machine runs it: its own hostname (a UTS namespace) and its own
     * local lease folder; only the lab host is shared. */
    const onMachine = (machine: string, args: string[]) =>
      execa('unshare', ['--uts', 'sh', '-c', `hostname ${machine} && exec node "$@"`, 'sh', hilBin, ...args], {
        cwd: root,
        reject: false,
        env: { HIL_LEASE_DIR: tmpDir('hil-leases-'), HIL_HISTORY: tmpDir('hil-history-') },
      });

    it('a run on another machine finds the board held and is refused, never powering it; hil lab status shows the holder', async () => {
      const lab = tmpDir('hil-lab-');
      mkdirSync(path.join(lab, 'boards'));
      const board = deriveToml(boardFile(), () => {}, path.join(lab, 'boards'), 'wired.toml');
      const out = tmpDir('hil-out-');
      const { proc } = await runUntilUBoot(['--board', board, '--suite', linuxShell, '--no-history'], out);
      const other = await onMachine('machine-b', [
        'run',
        '--board',
        board,
        '--suite',
        helloCaseWith(),
        '--out',
        tmpDir('hil-out-'),
      ]);
      assert.equal(other.exitCode, 2, String(other.stdout) + String(other.stderr));
      assert.match(
        String(other.stderr),
        new RegExp(
          `lease: board qemu-virt-aarch64 is held by run .* \\(pid ${proc.pid} on ${os.hostname()}\\) since .*the board was not powered`,
        ),
      );
      const status = await execa('node', [hilBin, 'lab', 'status'], {
        cwd: root,
        env: { HIL_LAB: lab, HIL_LEASE_DIR: tmpDir('hil-leases-') },
        reject: false,
      });
      assert.match(
        String(status.stdout),
        new RegExp(`qemu-virt-aarch64 +held by run .*, pid ${proc.pid} on .*; alive, heartbeat \\d+ s ago`),
      );
      assert.match(
        String(status.stdout),
        new RegExp(`\\(leases in ${path.join(dir, 'leases').replace(/[/.]/g, '\\$&')} on lab host root@`),
      );
      const r = await proc;
      assert.equal(r.exitCode, 0, String(r.stdout));
      assert.deepEqual(
        readdirSync(path.join(dir, 'leases')).filter((f) => f.endsWith('.lease')),
        [],
        'released on the lab host',
      );
    });

    it('the lease of a holder killed on another machine is broken once its heartbeat is 30 s old, with a note, and the board runs', async function () {
      this.timeout(150_000);
      const board = boardFile();
      const outA = tmpDir('hil-out-');
      const a = onMachine('machine-a', ['run', '--board', board, '--suite', linuxShell, '--no-history', '--out', outA]);
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('machine-a never reached U-Boot')), 60_000);
        a.stdout!.on('data', (d: Buffer) => {
          if (!/U-Boot prompt after/.test(d.toString())) return;
          clearTimeout(t);
          resolve();
        });
      });
      a.kill('SIGKILL'); // machine-a is gone: nothing releases its lease
      await a;
      const b = await hil(['run', '--board', board, '--suite', helloCaseWith(), '--wait', '90s']);
      assert.equal(b.exitCode, 0, b.stdout + b.stderr);
      assert.match(
        b.stdout,
        /board qemu-virt-aarch64 is held by run .* \(pid \d+ on machine-a\) since .*; waiting up to 90 s/,
      );
      assert.match(
        b.stdout,
        /broke the lease of board qemu-virt-aarch64: it was held by run .* on machine-a\) since .*, and no heartbeat for (3\d|4\d) s/,
      );
      assert.ok(
        readdirSync(path.join(dir, 'leases')).includes('qemu-virt-aarch64.broken'),
        'the note is kept on the lab host',
      );
    });

    it('health is kept on the lab host beside the lease: what one machine learns of the board, every machine sharing the lab host knows', async () => {
      const lab = tmpDir('hil-lab-');
      mkdirSync(path.join(lab, 'boards'));
      const board = deriveToml(boardFile(), () => {}, path.join(lab, 'boards'), 'wired.toml');
      const record = path.join(dir, 'leases', 'qemu-virt-aarch64.health.json');
      const health = () => JSON.parse(readFileSync(record, 'utf8'));
      // Found bad by some machine: another machine's run is refused, the board never powered.
      mkdirSync(path.dirname(record), { recursive: true });
      writeFileSync(
        record,
        JSON.stringify({
          board: 'qemu-virt-aarch64',
          state: 'bad',
          at: new Date().toISOString(),
          reason: 'uboot: no prompt within 20 s',
        }),
      );
      const outB = tmpDir('hil-out-');
      const refused = await onMachine('machine-b', [
        'run',
        '--board',
        board,
        '--suite',
        helloCaseWith(),
        '--out',
        outB,
      ]);
      assert.equal(refused.exitCode, 2, String(refused.stdout) + String(refused.stderr));
      const said = JSON.parse(readFileSync(path.join(outB, 'results.json'), 'utf8'));
      assert.match(
        said.reason,
        /board qemu-virt-aarch64 failed its health check at .* \(uboot: no prompt within 20 s\): fix it, then `hil lab check --board qemu-virt-aarch64`; the board was not given the run/,
      );
      const files = readdirSync(outB, { recursive: true }).map(String);
      assert.ok(!files.some((f) => f.endsWith('power.log')), `never powered: ${files.join(' ')}`);
      // `hil lab status` on another machine reads it there.
      const withLab = await execa('node', [hilBin, 'lab', 'status'], {
        cwd: root,
        env: { HIL_LAB: lab, HIL_LEASE_DIR: tmpDir('hil-leases-') },
        reject: false,
      });
      assert.match(String(withLab.stdout), /qemu-virt-aarch64 +health BAD since .*: uboot: no prompt within 20 s/);
      // A check from yet another machine puts it back, there and not in its own folder.
      const localLeases = tmpDir('hil-leases-');
      const check = await execa('node', [hilBin, 'lab', 'check', '--board', board, '--out', tmpDir('hil-out-')], {
        cwd: root,
        env: { HIL_LAB: lab, HIL_LEASE_DIR: localLeases, HIL_HISTORY: tmpDir('hil-history-') },
        reject: false,
      });
      assert.equal(check.exitCode, 0, String(check.stdout) + String(check.stderr));
      assert.equal(health().state, 'good');
      assert.match(health().uboot_version, /U-Boot/);
      assert.deepEqual(readdirSync(localLeases), [], 'nothing kept in the local lease folder');
      // A lab error on machine-b makes it unknown on the lab host: the next machine checks it first.
      const failing = deriveToml(board, (d) => (d.power.on = 'exit 7'), path.join(lab, 'boards'), 'wired-failing.toml');
      const labError = await onMachine('machine-b', [
        'run',
        '--board',
        failing,
        '--suite',
        helloCaseWith(),
        '--out',
        tmpDir('hil-out-'),
      ]);
      assert.equal(labError.exitCode, 2, String(labError.stdout) + String(labError.stderr));
      assert.equal(health().state, 'unknown');
      assert.match(health().reason, /lab error in .* \(power\)/);
      const checkedFirst = await onMachine('machine-d', [
        'run',
        '--board',
        board,
        '--suite',
        helloCaseWith(),
        '--out',
        tmpDir('hil-out-'),
      ]);
      assert.equal(checkedFirst.exitCode, 0, String(checkedFirst.stdout) + String(checkedFirst.stderr));
      assert.match(
        String(checkedFirst.stdout),
        /board qemu-virt-aarch64 is of unknown health \(lab error in .*\): checking it first/,
      );
      assert.equal(health().state, 'good');
    });
  });
});
