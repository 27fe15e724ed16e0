// Recording a baseline: the guest runs straight under QEMU, as ostool runs a QEMU case
// (config/qemu-case.ts: the emulator of the build's architecture, a default machine,
// -kernel with the image, or UEFI), its console on QEMU's stdio (stdout and stderr, as
// ostool reads both), watched by the same guest watch as a board run, answering the same
// shell prompt. Only a passing run is kept: a baseline is how the guest behaves when it works.
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, copyFileSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
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
export function qemuArgs(
  qc: QemuCase,
  image: string | undefined,
  workDir: string,
): { args: string[]; images: string[] } {
  const args = [...qc.args];
  const images = [...qc.images];
  const kernel = qc.kernel && !image ? qc.kernel : image;
  if (qc.uefi) {
    if (!kernel)
      throw new ConfigError(
        `${shown(qc.file)}: uefi = true needs the image to put on the EFI system partition: give --image`,
      );
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
    if (!kernel)
      throw new ConfigError(
        `${shown(qc.file)}: no image to boot: give the built image with --image (ostool adds -kernel with the build's output)`,
      );
    args.push('-kernel', kernel);
    images.push(kernel);
  } else if (qc.kernel) {
    images.push(qc.kernel);
  }
  return { args, images };
}

/** The Debian package that brings an emulator (setup installs them all). */
const QEMU_PACKAGE: Record<string, string> = {
  aarch64: 'qemu-system-arm',
  arm: 'qemu-system-arm',
  x86_64: 'qemu-system-x86',
  i386: 'qemu-system-x86',
  riscv64: 'qemu-system-misc',
  loongarch64: 'qemu-system-misc',
};

/** Where a program is on PATH (or the path given, when it has a slash). */
export function onPath(program: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const executable = (f: string) => {
    try {
      accessSync(f, constants.X_OK);
      return statSync(f).isFile();
    } catch {
      return false;
    }
  };
  if (program.includes('/')) return executable(program) ? program : undefined;
  return (env.PATH ?? '')
    .split(path.delimiter)
    .filter(Boolean)
    .map((d) => path.join(d, program))
    .find(executable);
}

/** The last line QEMU wrote to its standard error, for a one-line reason. */
const lastLine = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .pop();

/**
 * Runs a QEMU case and returns its console lines when the guest passes. Every way QEMU can
 * fail is one LabError (phase "baseline") whose message is one line: the emulator missing,
 * QEMU refusing its arguments (it says why on its standard error and exits), QEMU exiting
 * at start or before the case passed, the guest printing nothing.
 */
export async function recordBaseline(
  qc: QemuCase,
  outDir: string,
  o: { image?: string; signal?: AbortSignal } = {},
): Promise<Baseline> {
  mkdirSync(outDir, { recursive: true });
  const { args, images } = qemuArgs(qc, o.image, outDir);
  for (const f of images)
    if (!existsSync(f))
      throw new ConfigError(`${shown(qc.file)}: ${shown(f)} does not exist (an image or drive the QEMU case names)`);
  const binary = onPath(qc.qemu);
  if (!binary) {
    const pkg = QEMU_PACKAGE[qc.arch];
    throw new LabError(
      'baseline',
      `${qc.qemu} is not installed${pkg ? ` (Debian's ${pkg}; scripts/setup installs it)` : ''}: the ${qc.arch} QEMU case cannot run`,
    );
  }
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0] || 'unknown';
  // Under util-linux's setpriv --pdeathsig, QEMU ends with the runner however it ends.
  const guard = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));
  const [cmd, argv] = guard ? [guard, ['--pdeathsig', 'KILL', '--', binary, ...args]] : [binary, args];
  // In the case's folder: a relative path in its args means what it means to us (images, drives).
  const proc = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'], cwd: path.dirname(qc.file) });
  writeFileSync(path.join(outDir, 'power.log'), `${[qc.qemu, ...args].join(' ')}\n[pid ${proc.pid ?? '?'}]\n`);
  let stderr = '';
  let stdoutBytes = 0;
  // QEMU that could not be started, or that ended: whichever comes first settles this.
  const ended = new Promise<string>((resolve) => {
    proc.once('error', (e) => resolve(`${qc.qemu} could not be started: ${e.message}`));
    // 'close': QEMU has ended and every byte it wrote has been read.
    proc.once('close', (code, signal) => {
      const status = code !== null ? `exit status ${code}` : `signal ${signal}`;
      const said = lastLine(stderr);
      if (stdoutBytes === 0 && said) resolve(`QEMU refused to run the case (${status}): ${said}`);
      else if (stdoutBytes === 0) resolve(`QEMU exited at start (${status}) without a word`);
      else resolve(`QEMU exited (${status}) before the case passed${said ? `: ${said}` : ''}`);
    });
  });
  proc.stdin!.on('error', () => undefined);
  const port: ConsolePort = {
    name: `${qc.qemu} stdio`,
    write: (d) => new Promise((res, rej) => proc.stdin!.write(d, (e) => (e ? rej(e) : res()))),
    onData: (fn) => {
      proc.stdout!.on('data', (d: Buffer) => {
        stdoutBytes += d.length;
        fn(d);
      });
      proc.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        fn(d);
      });
    },
    onLost: () => undefined,
    close: async () => {
      if (proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined) proc.kill('SIGTERM');
      await ended;
    },
  };
  const transcript = new Transcript(outDir);
  const con = new Console(port, transcript);
  const t0 = performance.now();
  const lines: TimedLine[] = [];
  // The run is what the guest printed until it passed: not what QEMU says when it is ended.
  let running = true;
  con.lines.observe((text) => running && lines.push({ t: (performance.now() - t0) / 1000, text }));
  // The whole case's limit, and the first output's: a guest that prints nothing is told as
  // such within 30 s, or within the case's own timeout when that is shorter.
  const firstOutputS = qc.timeout > 0 ? Math.min(30, qc.timeout) : 30;
  const stop = new AbortController();
  const limit =
    qc.timeout > 0
      ? setTimeout(
          () =>
            stop.abort(
              new PhaseTimeout('baseline', qc.timeout, 'timeout', 'the QEMU run did not pass', con.lines.recent()),
            ),
          qc.timeout * 1000,
        )
      : undefined;
  const onOuter = () => stop.abort(o.signal!.reason);
  o.signal?.addEventListener('abort', onOuter, { once: true });
  const watching = watchGuest(con, qc, { firstOutputS, typeDelayMs: 0, shellInitDelayS: 0.1, signal: stop.signal });
  watching.catch(() => undefined);
  try {
    // A guest that passes with its last line and powers off has passed: the watch decides
    // within ostool's 500 ms drain after that line, so QEMU's end is told only after it.
    const exit = ended.then(async (why) => {
      await new Promise((r) => setTimeout(r, 600));
      throw new LabError('baseline', why);
    });
    exit.catch(() => undefined);
    await Promise.race([watching, exit]);
  } catch (e) {
    if (e instanceof PhaseTimeout && stdoutBytes === 0)
      throw new LabError(
        'baseline',
        `QEMU ran, but the guest printed nothing within ${e.seconds} s${stderr.trim() ? ` (QEMU said: ${lastLine(stderr)})` : ''}`,
      );
    throw e;
  } finally {
    running = false;
    clearTimeout(limit);
    o.signal?.removeEventListener('abort', onOuter);
    stop.abort(new Error('done'));
    await con.close();
    transcript.close();
  }
  return {
    caseFile: shown(qc.file),
    qemuVersion: version,
    // Written as the QEMU case has it, so the file does not name this machine's folders.
    // The run's own folder (UEFI vars, the ESP) is ${out}: it differs every time.
    command: [qc.qemu, ...args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a))]
      .join(' ')
      .replaceAll(outDir, '${out}')
      .replaceAll(process.env.HIL_WORKSPACE ?? projectRoot, '${workspace}'),
    images: Object.fromEntries(images.map((f) => [imageKey(f), digest(f)])),
    recorded: new Date().toISOString(),
    lines,
  };
}
