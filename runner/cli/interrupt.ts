// Ctrl-C, SIGTERM and SIGHUP while a command works on a board: the first aborts the work's
// signal with Interrupted, so every step ends and the board is powered off on the way out
// (exit 130); a second one exits at once (child processes end with the runner: QEMU runs
// under --pdeathsig). One mechanism for `hil run`, `hil lab check` and `hil flash`.
import { EXIT, Interrupted } from '../errors.js';

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
