// Watching the guest after the hand-off, and deciding. Every line is checked against the
// failure patterns first, then the success patterns (a line that matches both is a
// failure). With a shell prompt (shell_prefix), the verdict waits for the shell: at the
// first prompt the runner types shell_init_cmd, and only what that command prints can
// make the case pass (the echoed command line itself is skipped, as it often contains the
// very text it echoes).
import type { Console } from '../console/console.js';
import { PatternSet } from '../console/patterns.js';
import type { Pattern } from '../config/regex.js';
import { GuestFailure, PhaseTimeout } from '../errors.js';

export interface GuestExpectations {
  success: Pattern[];
  fail: Pattern[];
  shellPrefix?: string;
  shellInitCmd?: string;
}

export interface GuestOutcome {
  /** The success pattern that decided, and the line it matched. */
  pattern: string;
  line: string;
  /** Seconds from the hand-off to the guest's first line. */
  firstOutputS: number;
}

export interface WatchOptions {
  firstOutputS: number;
  typeDelayMs: number;
  signal: AbortSignal;
}

export function watchGuest(con: Console, exp: GuestExpectations, opts: WatchOptions): Promise<GuestOutcome> {
  const t0 = performance.now();
  let firstOutputS = -1;
  let shellSent = false;
  let echoSkipped = false;
  const prompt = exp.shellPrefix?.trimEnd();
  const cmd = exp.shellInitCmd;
  const fail = new PatternSet(exp.fail);
  const success = new PatternSet(exp.success);

  return new Promise<GuestOutcome>((resolve, reject) => {
    let release = () => {};
    const finish = (err: Error | null, outcome?: GuestOutcome) => {
      clearTimeout(firstTimer);
      opts.signal.removeEventListener('abort', onAbort);
      release();
      if (err) reject(err);
      else resolve(outcome!);
    };
    const firstTimer = setTimeout(
      () => finish(new PhaseTimeout('boot', opts.firstOutputS, 'timeout', 'the guest printed nothing after the hand-off', con.lines.recent())),
      opts.firstOutputS * 1000,
    );
    const onAbort = () => finish(opts.signal.reason as Error);
    opts.signal.addEventListener('abort', onAbort, { once: true });

    const line = (text: string): boolean => {
      if (firstOutputS < 0) {
        if (!text.trim()) return false;
        firstOutputS = (performance.now() - t0) / 1000;
        clearTimeout(firstTimer);
        con.transcript.note(`first guest output after ${firstOutputS.toFixed(3)} s`);
      }
      if (shellSent && !echoSkipped && cmd && text.includes(cmd)) {
        echoSkipped = true;
        return false;
      }
      const f = fail.firstMatch(text);
      if (f >= 0) {
        finish(new GuestFailure(`failure pattern ${JSON.stringify(exp.fail[f].source)} matched: ${text.trim()}`));
        return true;
      }
      if (prompt && !shellSent) return false; // success only counts from the shell command on
      const s = success.firstMatch(text);
      if (s >= 0) {
        finish(null, { pattern: exp.success[s].source, line: text, firstOutputS });
        return true;
      }
      return false;
    };
    const partial = (text: string): boolean => {
      if (prompt && !shellSent && text.trimEnd().endsWith(prompt)) {
        shellSent = true;
        if (firstOutputS < 0) firstOutputS = (performance.now() - t0) / 1000;
        con.transcript.note(`shell prompt seen: typing ${cmd ? JSON.stringify(cmd) : 'Enter'}`);
        void con.type(`${cmd ?? ''}\r`, opts.typeDelayMs).catch((e: Error) => finish(e));
      }
      return false;
    };
    release = con.consume({ line, partial });
  });
}
