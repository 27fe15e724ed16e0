// Recording a baseline: the guest runs straight under QEMU (the QEMU case's own arguments,
// its console on QEMU's stdio), watched by the same guest watch as a board run, answering
// the same shell prompt. Only a passing run is kept: a baseline is how the guest behaves
// when it works.
import { execa } from 'execa';
import { Console } from '../console/console.js';
import type { ConsolePort } from '../console/port.js';
import { Transcript } from '../console/transcript.js';
import { projectRoot, shown } from '../config/paths.js';
import type { QemuCase } from '../config/qemu-case.js';
import { LabError, PhaseTimeout } from '../errors.js';
import { watchGuest } from '../guest/watch.js';
import type { TimedLine } from './compare.js';
import { digest, imageKey, type Baseline } from './store.js';

export async function recordBaseline(qc: QemuCase, outDir: string, signal?: AbortSignal): Promise<Baseline> {
  const version = String((await execa(qc.qemu, ['--version'], { reject: false })).stdout).split('\n')[0] || 'unknown';
  const proc = execa(qc.qemu, qc.args, { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: false, reject: false, cleanup: true, forceKillAfterDelay: 2000 });
  const port: ConsolePort = {
    name: `${qc.qemu} stdio`,
    write: (d) => new Promise((res, rej) => proc.stdin!.write(d, (e) => (e ? rej(e) : res()))),
    onData: (fn) => void proc.stdout!.on('data', fn),
    onLost: (fn) => void proc.then((r) => fn(new LabError('baseline', `QEMU exited (${r.exitCode ?? r.signal}): ${String(r.stderr ?? '').trim().split('\n').pop() ?? ''}`))),
    close: async () => {
      proc.kill('SIGTERM');
      await proc;
    },
  };
  const transcript = new Transcript(outDir);
  const con = new Console(port, transcript);
  const t0 = performance.now();
  const lines: TimedLine[] = [];
  con.lines.observe((text) => lines.push({ t: (performance.now() - t0) / 1000, text }));
  const deadline = AbortSignal.timeout(qc.timeout * 1000);
  try {
    await watchGuest(con, qc, { firstOutputS: 30, typeDelayMs: 0, signal: signal ? AbortSignal.any([signal, deadline]) : deadline });
  } catch (e) {
    if (deadline.aborted && !(e instanceof PhaseTimeout)) throw new PhaseTimeout('baseline', qc.timeout, 'timeout', 'the QEMU run did not pass', con.lines.recent());
    throw e;
  } finally {
    await con.close();
    transcript.close();
  }
  return {
    caseFile: shown(qc.file),
    qemuVersion: version,
    // Written as the QEMU case has it, so the file does not name this machine's folders.
    command: [qc.qemu, ...qc.args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a))].join(' ').replaceAll(process.env.HIL_WORKSPACE ?? projectRoot, '${workspace}'),
    images: Object.fromEntries(qc.images.map((f) => [imageKey(f), digest(f)])),
    recorded: new Date().toISOString(),
    lines,
  };
}

