// Recording a baseline: the guest runs straight under QEMU, as ostool runs a QEMU case
// (config/qemu-case.ts: the emulator of the build's architecture, a default machine,
// -kernel with the image, or UEFI), its console on QEMU's stdio (stdout and stderr, as
// ostool reads both), watched by the same guest watch as a board run, answering the same
// shell prompt. Only a passing run is kept: a baseline is how the guest behaves when it works.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Console } from '../console/console.js';
import type { ConsolePort } from '../console/port.js';
import { Transcript } from '../console/transcript.js';
import { projectRoot, shown } from '../config/paths.js';
import { EFI_BOOT_NAME, uefiFirmware, type QemuCase } from '../config/qemu-case.js';
import { ConfigError, LabError, PhaseTimeout } from '../errors.js';
import { watchGuest } from '../guest/watch.js';
import type { TimedLine } from './compare.js';
import { digest, imageKey, type Baseline } from './store.js';

/** QEMU's arguments for a case and an image: -kernel, or the UEFI firmware and an ESP. */
export function qemuArgs(qc: QemuCase, image: string | undefined, workDir: string): { args: string[]; images: string[] } {
  const args = [...qc.args];
  const images = [...qc.images];
  const kernel = qc.kernel && !image ? qc.kernel : image;
  if (qc.uefi) {
    if (!kernel) throw new ConfigError(`${shown(qc.file)}: uefi = true needs the image to put on the EFI system partition: give --image`);
    const fw = uefiFirmware(qc.arch);
    const esp = path.join(workDir, 'esp', 'EFI', 'BOOT');
    mkdirSync(esp, { recursive: true });
    copyFileSync(kernel, path.join(esp, EFI_BOOT_NAME[qc.arch] ?? 'BOOTX64.EFI'));
    const vars = path.join(workDir, 'uefi-vars.fd');
    copyFileSync(fw.vars, vars);
    args.push(
      '-drive',
      `if=pflash,format=raw,unit=0,readonly=on,file=${fw.code}`,
      '-drive',
      `if=pflash,format=raw,unit=1,file=${vars}`,
      '-drive',
      `format=raw,file=fat:rw:${path.join(workDir, 'esp')}`,
    );
    images.push(kernel);
  } else if (!args.includes('-kernel')) {
    if (!kernel) throw new ConfigError(`${shown(qc.file)}: no image to boot: give the built image with --image (ostool adds -kernel with the build's output)`);
    args.push('-kernel', kernel);
    images.push(kernel);
  } else if (qc.kernel) {
    images.push(qc.kernel);
  }
  return { args, images };
}

export async function recordBaseline(qc: QemuCase, outDir: string, o: { image?: string; signal?: AbortSignal } = {}): Promise<Baseline> {
  mkdirSync(outDir, { recursive: true });
  const { args, images } = qemuArgs(qc, o.image, outDir);
  for (const f of images) if (!existsSync(f)) throw new ConfigError(`${shown(qc.file)}: ${shown(f)} does not exist (an image or drive the QEMU case names)`);
  const { spawnSync } = await import('node:child_process');
  const version = spawnSync(qc.qemu, ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0] || 'unknown';
  const proc = spawn(qc.qemu, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  proc.once('error', () => undefined);
  let stderr = '';
  const port: ConsolePort = {
    name: `${qc.qemu} stdio`,
    write: (d) => new Promise((res, rej) => proc.stdin!.write(d, (e) => (e ? rej(e) : res()))),
    onData: (fn) => {
      proc.stdout!.on('data', fn);
      proc.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        fn(d);
      });
    },
    onLost: (fn) => void exited.then((r) => fn(new LabError('baseline', `QEMU exited (${r.code ?? r.signal})${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}`))),
    close: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
  const transcript = new Transcript(outDir);
  const con = new Console(port, transcript);
  const t0 = performance.now();
  const lines: TimedLine[] = [];
  con.lines.observe((text) => lines.push({ t: (performance.now() - t0) / 1000, text }));
  const limit = qc.timeout > 0 ? AbortSignal.timeout(qc.timeout * 1000) : new AbortController().signal;
  try {
    await watchGuest(con, qc, { firstOutputS: 30, typeDelayMs: 0, shellInitDelayS: 0.1, signal: o.signal ? AbortSignal.any([o.signal, limit]) : limit });
  } catch (e) {
    if (limit.aborted && !(e instanceof PhaseTimeout)) throw new PhaseTimeout('baseline', qc.timeout, 'timeout', 'the QEMU run did not pass', con.lines.recent());
    throw e;
  } finally {
    await con.close();
    transcript.close();
  }
  return {
    caseFile: shown(qc.file),
    qemuVersion: version,
    // Written as the QEMU case has it, so the file does not name this machine's folders.
    command: [qc.qemu, ...args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a))].join(' ').replaceAll(process.env.HIL_WORKSPACE ?? projectRoot, '${workspace}'),
    images: Object.fromEntries(images.map((f) => [imageKey(f), digest(f)])),
    recorded: new Date().toISOString(),
    lines,
  };
}
