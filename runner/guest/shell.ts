// Running a command at a guest's shell prompt (for TypeScript specs): typed with a
// completion marker, so the output and exit status come back exactly.
import type { Console } from '../console/console.js';
import { outputOf, withMarker } from '../console/marker.js';
import { PhaseTimeout } from '../errors.js';

export interface ShellResult {
  output: string[];
  status: number;
}

export async function shellCommand(
  con: Console,
  cmd: string,
  opts: { timeoutS: number; typeDelayMs: number; signal?: AbortSignal },
): Promise<ShellResult> {
  const { line, done } = withMarker(cmd);
  con.transcript.note(`shell: ${cmd}`);
  const m = await con.typeExpecting(`${line}\r`, opts.typeDelayMs, [done], {
    timeoutMs: opts.timeoutS * 1000,
    signal: opts.signal,
    onTimeout: () =>
      new PhaseTimeout(
        'shell',
        opts.timeoutS,
        'timeout',
        `"${cmd}" did not finish at the guest shell`,
        con.lines.recent(),
      ),
  });
  return { output: outputOf(m.before, line), status: Number(m.match![1]) };
}
