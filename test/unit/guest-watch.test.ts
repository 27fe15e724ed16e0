// The guest watch with ostool's meaning of a case's keys, on a console whose far end the
// test writes: patterns decided as bytes arrive, shell_prefix found anywhere, the command
// typed once after ostool's pause, its echo never a pass. And the guest's metric lines:
// units kept, the echo of a typed command never a metric or a record.
import assert from 'node:assert/strict';
import { Console } from '../../runner/console/console.js';
import type { ConsolePort } from '../../runner/console/port.js';
import { Transcript } from '../../runner/console/transcript.js';
import { compileAll } from '../../runner/config/regex.js';
import { OSTOOL_FAIL_PATTERNS } from '../../runner/config/case.js';
import { GuestFailure } from '../../runner/errors.js';
import { watchGuest, type GuestExpectations } from '../../runner/guest/watch.js';
import {
  echoOf,
  metricsOf,
  RecordWatch,
  splitMetricKey,
  type GuestRecord,
  type Metric,
} from '../../runner/guest/records.js';
import { shellCommand } from '../../runner/guest/shell.js';
import { CaseRecorder } from '../../runner/model/results.js';
import { tmpDir } from '../helpers.js';

class Guest implements ConsolePort {
  readonly name = 'guest';
  typed = '';
  private fn: (b: Buffer) => void = () => {};
  onType: (text: string) => void = () => {};
  print(text: string): void {
    this.fn(Buffer.from(text));
  }
  async write(d: string | Buffer): Promise<void> {
    this.typed += d.toString();
    this.onType(d.toString());
  }
  onData(fn: (b: Buffer) => void): void {
    this.fn = fn;
  }
  onLost(): void {}
  async close(): Promise<void> {}
}

function watch(exp: Partial<Omit<GuestExpectations, 'success' | 'fail'>> & { success: string[]; fail?: string[] }) {
  const guest = new Guest();
  const con = new Console(guest, new Transcript(tmpDir()));
  const e: GuestExpectations = {
    ...exp,
    success: compileAll(exp.success, 't'),
    fail: compileAll([...(exp.fail ?? []), ...OSTOOL_FAIL_PATTERNS], 't'),
  };
  const ac = new AbortController();
  const done = watchGuest(con, e, { firstOutputS: 5, typeDelayMs: 0, shellInitDelayS: 0.1, signal: ac.signal });
  return { guest, done, ac };
}
const tick = () => new Promise((r) => setTimeout(r, 20));

describe("guest watch, with ostool's meaning", () => {
  it('a prompt that never gets its newline decides the case (a login: prompt)', async () => {
    const { guest, done } = watch({ success: ['(?m)^phytiumpi login:'] });
    guest.print('[  OK  ] Started Getty.\r\n\r\nDebian GNU/Linux 12 phytiumpi ttyAMA1\r\n\r\nphytiumpi login: ');
    const o = await done;
    assert.equal(o.line, 'phytiumpi login: ');
  });

  it('shell_prefix is found anywhere in the output; the command is typed once, with a newline, after a pause', async () => {
    const { guest, done } = watch({
      success: ['(?m)^test pass\\s*$'],
      shellPrefix: 'orangepi@orangepi5plus:~',
      shellInitCmd: "pwd && echo 'test pass'",
    });
    const t0 = performance.now();
    let at = 0;
    guest.onType = (t) => {
      at ||= performance.now() - t0;
      if (t.endsWith('\n'))
        setTimeout(
          () => guest.print("pwd && echo 'test pass'\r\n/home/orangepi\r\ntest pass\r\norangepi@orangepi5plus:~$ "),
          5,
        );
    };
    guest.print('orangepi@orangepi5plus:~$ ');
    const o = await done;
    assert.equal(o.line, 'test pass');
    assert.equal(guest.typed, "pwd && echo 'test pass'\n", 'typed once, as ostool sends it');
    assert.ok(at >= 90, `ostool's 0.1 s pause (${at.toFixed(0)} ms)`);
  });

  it('the echo of the typed command is never the pass (ostool lets it be one)', async () => {
    const { guest, done } = watch({ success: ['test pass'], shellPrefix: '~ #', shellInitCmd: "echo 'test pass'" });
    // The echo, then the command's output: had the echo passed, the decided line would be it.
    guest.onType = () => setTimeout(() => guest.print("echo 'test pass'\r\ntest pass\r\n"), 5);
    guest.print('~ # ');
    assert.equal((await done).line, 'test pass', 'decided on the output, not on the echo of the command');
  });

  it('shell_prefix without shell_init_cmd types nothing and holds nothing back', async () => {
    const { guest, done } = watch({
      success: ['(?m)^block-rw-bench: done cases=3 status=ok$'],
      shellPrefix: 'root@starry:/root #',
    });
    guest.print('root@starry:/root # \r\nblock-rw-bench: done cases=3 status=ok\r\n');
    await done;
    assert.equal(guest.typed, '');
  });

  it("ostool's own failure patterns fail a case whose fail_regex is empty", async () => {
    const { guest, done } = watch({ success: ['(?m)^test pass\\s*$'], fail: [] });
    guest.print('[    1.2] Kernel panic - not syncing: VFS: Unable to mount root fs\r\n');
    await assert.rejects(
      done,
      (e) => e instanceof GuestFailure && /failure pattern "\(\?i\)\\\\bpanic/.test(e.message),
    );
  });

  it('a failure pattern on an unfinished line fails the case, and the reason gives the line once it is whole', async () => {
    const { guest, done } = watch({ success: ['(?m)^test pass\\s*$'] });
    guest.print('[    1.0] Kernel panic -');
    await tick();
    guest.print(' not syncing: VFS: Unable to mount root fs\r\n');
    await assert.rejects(
      done,
      (e) =>
        e instanceof GuestFailure &&
        /matched: \[ {4}1\.0\] Kernel panic - not syncing: VFS: Unable to mount root fs$/.test(e.message),
    );
  });

  it("a failure pattern on a line that never ends still fails the case, after ostool's drain", async () => {
    const { guest, done } = watch({ success: ['(?m)^test pass\\s*$'] });
    const t0 = performance.now();
    guest.print('thread main panicked at');
    await assert.rejects(done, (e) => e instanceof GuestFailure && /matched: thread main panicked at$/.test(e.message));
    assert.ok(performance.now() - t0 >= 450, 'waited for the rest of the line');
  });

  it('a panic in the same read as the success line fails the case', async () => {
    const { guest, done } = watch({ success: ['(?m)^hello\\s*$'] });
    guest.print('hello\r\n[ 9.9] panicked at src/main.rs:1:1\r\n');
    await assert.rejects(done, (e) => e instanceof GuestFailure && /right after the success line/.test(e.message));
  });

  it('a pattern that spans lines ((?s), as a real ArceOS case has) matches across them', async () => {
    const { guest, done } = watch({ success: ['(?s)PERF size=262144 .*BUSYWAIT_CHECK iters=0 .*SUITE_OK'] });
    guest.print('PERF size=262144 speed=1\r\nsomething else\r\n');
    await tick();
    guest.print('BUSYWAIT_CHECK iters=0 ok\r\nSUITE_OK\r\n');
    await done;
  });

  it('a burst of lines none of which matters is cleared, and the one that does is found', async () => {
    const { guest, done } = watch({ success: ['(?m)^guest test pass!\\s*$'] });
    guest.print(Array.from({ length: 500 }, (_, i) => `[ ${i}.0] virtio device ${i} registered\r\n`).join(''));
    await tick();
    guest.print(`${Array.from({ length: 50 }, (_, i) => `line ${i}\r\n`).join('')}guest test pass!\r\nmore\r\n`);
    assert.equal((await done).line, 'guest test pass!');
  });
});

describe("the guest's metric lines and test records", () => {
  /** A console after U-Boot's hand-off, its records and metrics collected as a run does. */
  function booted(metricPatterns: string[] = []) {
    const guest = new Guest();
    const con = new Console(guest, new Transcript(tmpDir()));
    const metrics: Metric[] = [];
    const records: GuestRecord[] = [];
    const watch = new RecordWatch(
      con,
      /^Starting kernel/,
      { record: (r) => records.push(r), metric: (m) => metrics.push(m), warn: () => {} },
      compileAll(metricPatterns, 't'),
    );
    guest.print('Starting kernel ...\r\n\r\n[    0.000000] Booting Linux on physical CPU 0x0\r\n');
    return { guest, con, metrics, records, watch };
  }
  const named = (ms: Metric[]) => ms.map((m) => `${m.name}=${m.value}${m.unit ? ` ${m.unit}` : ''}`);

  it('a unit written after the number is kept with it; what is no number is no metric', () => {
    assert.deepEqual(
      named(
        metricsOf(
          ' bytes_per_s=410000B/s latency=12us time=3.2ms cpu=99.5% n=4 hex=0x10 exp=1e3 ver=1.2.3 ip=10.0.0.1 status=PASS',
          'BENCH',
        ),
      ),
      [
        'BENCH.bytes_per_s=410000 B/s',
        'BENCH.latency=12 us',
        'BENCH.time=3.2 ms',
        'BENCH.cpu=99.5 %',
        'BENCH.n=4',
        'BENCH.hex=16',
        'BENCH.exp=1000',
      ],
    );
    // The case's result names a metric with its unit, so the history record keeps it.
    const rec = new CaseRecorder('c', 'c.toml', 'toml');
    for (const m of metricsOf('latency=12us n=4', 'BENCH')) rec.metric(m);
    const keys = Object.keys(Object.fromEntries(rec.finish(null).metrics!.map((m) => [m.name, m.value])));
    assert.deepEqual(keys, ['BENCH.latency [us]', 'BENCH.n']);
    assert.deepEqual(keys.map(splitMetricKey), [{ name: 'BENCH.latency', unit: 'us' }, { name: 'BENCH.n' }]);
  });

  it('tells the echo of a typed command, whole or wrapped in pieces, from what the guest prints', () => {
    const cmd = "bench --limit bytes_per_s=1000 && echo 'VCPU_PERF_RESULT runs=3'";
    assert.equal(echoOf(`~ # ${cmd}`, cmd), 'whole');
    assert.equal(echoOf(`~ # ${cmd.slice(0, 20)}`, cmd), 'piece', "a line editor's first screen line");
    assert.equal(echoOf(cmd.slice(20, 50), cmd), 'piece');
    assert.equal(echoOf(cmd.slice(50), cmd), 'end');
    assert.equal(echoOf('bytes_per_s=410000B/s', cmd), 'none', 'what the command prints is not its echo');
    // What it prints may be a piece of the command line (`VCPU_PERF_RESULT runs=3`): the echo
    // comes first, and once it ended (its whole, or its end), the watch reads the output.
    assert.equal(echoOf('VCPU_PERF_RESULT runs=3', cmd), 'piece');
  });

  it("the echo of shell_init_cmd is never a metric: a case's metric pattern, and a *_RESULT line, read only from the guest's output", async () => {
    const { guest, con, metrics, watch } = booted(['bytes_per_s=']);
    // The command carries metric-like words: an argument, and a *_RESULT line it prints.
    const cmd = "net-bench --limit bytes_per_s=1000000 && echo 'VCPU_PERF_RESULT runs=3 blocks_per_second=5'";
    const ac = new AbortController();
    const done = watchGuest(
      con,
      {
        success: compileAll(['(?m)^bench done$'], 't'),
        fail: compileAll(OSTOOL_FAIL_PATTERNS, 't'),
        shellPrefix: '~ #',
        shellInitCmd: cmd,
      },
      { firstOutputS: 5, typeDelayMs: 0, shellInitDelayS: 0.01, signal: ac.signal },
    );
    guest.onType = (t) => {
      if (!t.endsWith('\n')) return;
      // A line editor wraps the long echo (as bash does: a carriage return at the screen's
      // edge, so a terminal shows only the last piece: here one that begins with the tag).
      const at = cmd.indexOf('VCPU_PERF_RESULT');
      setTimeout(
        () =>
          guest.print(
            `${cmd.slice(0, at)} \r${cmd.slice(at)}\r\nnet-bench: bytes_per_s=410000B/s latency=12us\r\nVCPU_PERF_RESULT runs=3 blocks_per_second=365334.2\r\nbench done\r\n~ # `,
          ),
        5,
      );
    };
    guest.print('~ # ');
    await done;
    watch.stop();
    assert.deepEqual(named(metrics), [
      'bytes_per_s.bytes_per_s=410000 B/s',
      'bytes_per_s.latency=12 us',
      'VCPU_PERF_RESULT.runs=3',
      'VCPU_PERF_RESULT.blocks_per_second=365334.2',
    ]);
  });

  it("the echo of a spec's shell command is never a metric or a record either", async () => {
    const { guest, con, metrics, records, watch } = booted(['perf:', 'VCPU_PERF_RESULT']);
    guest.onType = (t) => {
      const marker = /echo '(\w{4})''(\w{4})'-\$\?/.exec(t);
      if (!marker) return;
      // The echo on a line of its own (the prompt ended its line), then the output.
      setTimeout(
        () =>
          guest.print(
            `~ #\r\n${t.trimEnd()}\r\nperf: blocks_per_second=7\r\nVCPU_PERF_RESULT runs=2\r\n${marker[1]}${marker[2]}-0\r\n~ # `,
          ),
        5,
      );
    };
    guest.print('~ # ');
    const r = await shellCommand(
      con,
      'VCPU_PERF_RESULT=1 bench; echo perf: blocks_per_second=7 ; echo VCPU_PERF_RESULT runs=2',
      { timeoutS: 5, typeDelayMs: 0 },
    );
    watch.stop();
    assert.equal(r.status, 0);
    assert.deepEqual(
      named(metrics),
      ['perf.blocks_per_second=7', 'VCPU_PERF_RESULT.runs=2'],
      'each once: from the output, not from the echo',
    );
    assert.deepEqual(records, []);
  });
});
