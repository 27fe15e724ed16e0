// Ctrl-C, SIGTERM and SIGHUP while a command works on a board: the first aborts the work's
// signal with Interrupted, so every step ends and the board is powered off on the way out
// (exit 130); a second one exits at once (child processes end with the runner: QEMU runs
// under --pdeathsig). One mechanism for `hil run`, `hil lab check` and `hil flash`.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { EXIT, Interrupted } from '../errors.js';
import { readResults, settle, writeResults } from '../model/results.js';

export function interruptible(say: (msg: string) => void): { signal: AbortSignal; release(): void } {
  const ac = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) {
      say(`\n${sig} again: exiting now (child processes end with the runner)`);
      process.exit(EXIT.interrupted);
    }
    say(`\n${sig}: stopping; powering the board off (press Ctrl-C again to exit at once)`);
    ac.abort(new Interrupted(sig));
  };
  const sigs = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const sig of sigs) process.on(sig, onSignal);
  return {
    signal: ac.signal,
    release: () => {
      for (const sig of sigs) process.off(sig, onSignal);
    },
  };
}

/** A results.json written by work the signal stopped (a health check, a flash through
 * U-Boot: each a run of its own) says so: `interrupted`, and exit code 130 like the
 * command's, not the lab error its stopped case reads as. */
export function markInterrupted(outDir: string, why: string): void {
  if (!existsSync(path.join(outDir, 'results.json'))) return;
  const r = readResults(outDir);
  r.interrupted ??= why;
  r.finished ??= new Date().toISOString();
  writeResults(outDir, settle(r));
}
