// `hil console` on the virtual board, as a script drives it (stdin and stdout piped): the
// board's lease taken as a run takes it (the board made a shared one, `lease = true`), QEMU
// started by --power-on, U-Boot typed at, and every way out: Ctrl-], the end of stdin,
// SIGTERM, the console going away; each ends with the board off, QEMU gone and the lease
// given back.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { alive, deriveToml, hilBin, root, tmpDir, until, virtualBoard } from '../helpers.js';

const SECRET = 'tok-8f3k2q9z';

interface Attached {
  proc: ResultPromise;
  /** Resolves once stdout (or stderr), from `from` on, matches `re`; rejects if the command ends first. */
  out(re: RegExp, from?: number): Promise<number>;
  err(re: RegExp): Promise<void>;
  stdout(): string;
  stderr(): string;
  /** The QEMU processes the console said it started. */
  qemu(): number[];
}

function hilConsole(args: string[], env: NodeJS.ProcessEnv): Attached {
  const proc = execa('node', [hilBin, 'console', ...args], {
    cwd: root,
    reject: false,
    env,
    stdin: 'pipe',
    buffer: false,
  });
  const text = { out: '', err: '' };
  const waiters: (() => void)[] = [];
  const check = () => {
    for (const w of [...waiters]) w();
  };
  proc.stdout!.on('data', (d: Buffer) => {
    text.out += d.toString('latin1');
    check();
  });
  proc.stderr!.on('data', (d: Buffer) => {
    text.err += d.toString('utf8');
    check();
  });
  let exited = false;
  void proc.then(() => {
    exited = true;
    check();
  });
  const wait = <T>(test: () => T | undefined, what: string) =>
    new Promise<T>((resolve, reject) => {
      const w = () => {
        const got = test();
        if (got !== undefined) {
          waiters.splice(waiters.indexOf(w), 1);
          resolve(got);
        } else if (exited) {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`hil console ended before ${what}; stdout: ${text.out.slice(-500)}\nstderr: ${text.err}`));
        }
      };
      waiters.push(w);
      w();
    });
  return {
    proc,
    out: (re, from = 0) =>
      wait(() => {
        const m = re.exec(text.out.slice(from));
        return m ? from + m.index + m[0].length : undefined;
      }, `stdout showed ${re}`),
    err: (re) => wait(() => (re.test(text.err) ? true : undefined), `stderr said ${re}`).then(() => undefined),
    stdout: () => text.out,
    stderr: () => text.err,
    qemu: () => [...text.err.matchAll(/\(processes ([\d ]+)\)/g)].flatMap((m) => m[1].split(' ').map(Number)),
  };
}

/** Interrupts U-Boot's countdown and waits for its prompt; where stdout is then. */
async function atPrompt(c: Attached): Promise<number> {
  const counting = await c.out(/Hit any key to stop autoboot/);
  c.proc.stdin!.write(' ');
  return c.out(/=> $/, counting);
}

describe('hil console', function () {
  let leases: string;
  let board: string;
  let env: NodeJS.ProcessEnv;
  const started: Attached[] = [];

  beforeEach(() => {
    leases = tmpDir('hil-leases-');
    env = { ...process.env, HIL_LEASE_DIR: leases, HIL_HISTORY: tmpDir('hil-history-'), LAB_TOKEN: SECRET };
    board = deriveToml(virtualBoard, (d) => (d.lease = true));
    started.length = 0;
  });

  const start = (...more: string[]) => {
    const c = hilConsole(['--board', board, '--power-on', ...more], env);
    started.push(c);
    return c;
  };

  afterEach(async () => {
    for (const c of started) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    await Promise.all(started.map((c) => c.proc));
    // QEMU is ended and reaped before `hil console` exits; a killed one goes by --pdeathsig.
    const qemu = started.flatMap((c) => c.qemu());
    await until(() => !qemu.some(alive), 'the QEMU processes to end');
    assert.deepEqual(qemu.filter(alive), [], 'no QEMU outlives hil console');
  });

  it('attaches to U-Boot, types at it, and leaves with Ctrl-]: exit 0, QEMU gone, the lease given back; the transcript is masked', async () => {
    const log = path.join(tmpDir('hil-console-log-'), 'sub', 'board.log');
    const c = start('--log', log);
    await c.err(
      /qemu-virt-aarch64: console \/dev\/pts\/\d+ \(processes \d+\); powering on; Ctrl-\] leaves; transcript in /,
    );
    assert.deepEqual(readdirSync(leases), ['qemu-virt-aarch64.lease'], 'the board is held while attached');
    const lease = JSON.parse(readFileSync(path.join(leases, 'qemu-virt-aarch64.lease'), 'utf8'));
    assert.equal(lease.run, `hil console by ${os.userInfo().username}`);
    assert.equal(lease.pid, c.proc.pid);
    const prompt = await atPrompt(c);
    c.proc.stdin!.write('version\r');
    const after = await c.out(/U-Boot 2023\.01[^\n]*\r?\n(?:.*\r?\n)*?=> $/, prompt);
    c.proc.stdin!.write(`echo ${SECRET}\r`);
    await c.out(new RegExp(`${SECRET}\\r?\\n=> $`), after);
    c.proc.stdin!.write('\x1d');
    const r = await c.proc;
    assert.equal(r.exitCode, 0, c.stderr());
    assert.match(c.stderr(), /hil console: left: Ctrl-\]; board powered off\n$/);
    assert.equal(c.qemu().length, 1);
    assert.ok(!alive(c.qemu()[0]), 'QEMU ended with the console');
    assert.deepEqual(readdirSync(leases), [], 'the lease was given back');
    assert.ok(c.stdout().includes(SECRET), "the terminal shows the board's bytes as they are");
    const transcript = readFileSync(log, 'latin1');
    assert.match(transcript, /=> version\r?\nU-Boot 2023\.01/, 'the transcript holds what the board said');
    assert.ok(!transcript.includes(SECRET), 'the secret is masked in the transcript');
    assert.match(transcript, new RegExp(`echo \\*{${SECRET.length}}\\r?\\n\\*{${SECRET.length}}\\r?\\n`));
    // The board is free: the next console gets it, and leaves when its input ends.
    const next = start();
    next.proc.stdin!.end();
    assert.equal((await next.proc).exitCode, 0, next.stderr());
    assert.match(next.stderr(), /left: the end of the input; board powered off/);
    assert.deepEqual(readdirSync(leases), []);
  });

  it('a board another console holds is refused naming the holder (exit 2, the board untouched), and waited for with --wait', async () => {
    const holder = start();
    await holder.err(/Ctrl-\] leaves/);
    const refused = start();
    const r = await refused.proc;
    assert.equal(r.exitCode, 2, refused.stderr());
    assert.match(
      refused.stderr(),
      new RegExp(
        `^hil console: lease: board qemu-virt-aarch64 is held by run hil console by ${os.userInfo().username} \\(pid ${holder.proc.pid} on [^)]+\\) since [\\d-]+ [\\d:]+: wait for it \\(--wait 10m\\), or see \`hil lab status\`; the board was not touched\\n$`,
      ),
    );
    assert.deepEqual(refused.qemu(), [], 'no QEMU was started for it');
    assert.equal(refused.stdout(), '');

    const waiting = start('--wait', '2m');
    await waiting.err(/board qemu-virt-aarch64 is held by run hil console .*; waiting up to 120 s/);
    holder.proc.stdin!.write('\x1d');
    assert.equal((await holder.proc).exitCode, 0, holder.stderr());
    await waiting.err(/Ctrl-\] leaves/);
    await atPrompt(waiting);
    waiting.proc.stdin!.end();
    assert.equal((await waiting.proc).exitCode, 0, waiting.stderr());
    assert.deepEqual(readdirSync(leases), []);
  });

  it('SIGTERM while attached ends with 130: the board powered off, QEMU gone, the lease given back', async () => {
    const c = start();
    await atPrompt(c);
    c.proc.kill('SIGTERM');
    const r = await c.proc;
    assert.equal(r.exitCode, 130, c.stderr());
    assert.match(c.stderr(), /hil console: ended: interrupted by SIGTERM; board powered off\n$/);
    assert.ok(!alive(c.qemu()[0]), 'QEMU ended with the console');
    assert.deepEqual(readdirSync(leases), []);
  });

  it('a console that goes away (QEMU killed) ends with 2, naming it; the lease given back', async () => {
    const c = start();
    await atPrompt(c);
    process.kill(c.qemu()[0], 'SIGKILL');
    const r = await c.proc;
    assert.equal(r.exitCode, 2, c.stderr());
    assert.match(c.stderr(), /hil console: ended: .*\/dev\/pts\/\d+.*; board powered off\n$/);
    assert.deepEqual(readdirSync(leases), []);
  });

  it('a QEMU board without --power-on is refused before anything is touched (exit 3)', async () => {
    const c = hilConsole(['--board', board], env);
    started.push(c);
    const r = await c.proc;
    assert.equal(r.exitCode, 3);
    assert.match(
      c.stderr(),
      /board qemu-virt-aarch64 is a QEMU board: its console exists only while its QEMU runs, which power-on starts: give --power-on/,
    );
    assert.deepEqual(readdirSync(leases), []);
  });
});
