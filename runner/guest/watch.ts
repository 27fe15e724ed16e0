// Watching the guest after the hand-off, and deciding, with ostool's meaning of the case's
// keys (ostool 0.24 run/output_matcher.rs and run/shell_init.rs):
// - patterns are decided as the bytes arrive: a complete line, and the line still being
//   printed (a `login:` prompt that never gets its newline decides the case);
// - failure patterns first, then success patterns; ostool's own failure patterns,
//   `(?i)\bpanic(?:ked)?\b` and `(?i)kernel panic`, are always among them;
// - `shell_prefix` is found anywhere in the output (it need not end the line); once, the
//   runner types `shell_init_cmd` and a newline, after ostool's 0.1 s pause. A prefix
//   without a command types nothing;
// - success counts wherever it appears, but never on the echo of the typed command (ostool
//   lets `echo 'test pass'` pass its own case: a shell that only echoes is no pass).
// What the guest prints after a success in the same read is still checked for failure
// patterns (a panic in the same burst as the success line fails the case).
// Patterns are tested per line; one that can span lines (`(?s)`, or a `\n` in it: a real
// ArceOS case waits for four markers in one `(?s)` pattern) is tested, as ostool tests
// every pattern, against the last 2048 characters of output.
// A case's `boot_silence` (ours): that long with no console output after the hand-off ends
// the watch as a timeout naming the last line (TGOSKits #1932: a boot that goes silent
// after "Starting kernel" waited out the whole case timeout). Time the console itself was
// away (being reattached) is not the board's silence.
import type { Console } from '../console/console.js';
import { PatternSet, RustRegex, type Pattern } from '../config/regex.js';
import { GuestFailure, PhaseTimeout } from '../errors.js';

/** A pattern that can match across lines. */
const SPANS_LINES = /\(\?[a-zA-Z]*s[a-zA-Z]*[):]|\\n/;
/** ostool's drain after a match (MATCH_DRAIN_DURATION), ms. */
const DRAIN_MS = 500;
/** ostool's match window (MAX_MATCH_WINDOW_BYTES). */
const WINDOW = 2048;
let never: Pattern | undefined;
/** A pattern that matches nothing, holding a line-spanning pattern's place in the set. */
const NEVER = () => (never ??= RustRegex.compile('\\b\\B', 'never'));

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
  /** Seconds the guest may stay silent after the hand-off. */
  firstOutputS: number;
  /** Seconds of no console output at all, at any time after the hand-off, that end the
   * case as a timeout (the case's boot_silence); undefined: none. */
  silenceS?: number;
  typeDelayMs: number;
  /** ostool's pause between seeing the prompt and typing the command, seconds. */
  shellInitDelayS: number;
  signal: AbortSignal;
}

export function watchGuest(con: Console, exp: GuestExpectations, opts: WatchOptions): Promise<GuestOutcome> {
  const t0 = performance.now();
  let firstOutputS = -1;
  let shellSent = false;
  let echoSkipped = false;
  const prefix = exp.shellPrefix;
  const cmd = exp.shellPrefix ? exp.shellInitCmd : undefined;
  const all = [...exp.fail, ...exp.success];
  const nFail = exp.fail.length;
  const sourceOf = (i: number) => all[i].source;
  const spans = all.map((p) => SPANS_LINES.test(p.source));
  const decide = new PatternSet(all.map((p, i) => (spans[i] ? NEVER() : p)));
  const windowed = all.map((p, i) => ({ p, i })).filter((x) => spans[x.i]);
  let win = '';

  return new Promise<GuestOutcome>((resolve, reject) => {
    let release = () => {};
    let done = false;
    let typing: NodeJS.Timeout | undefined;
    let drain: NodeJS.Timeout | undefined;
    let unobserve = () => {};
    /** A failure pattern matched the unfinished line: the case failed, its line is completing. */
    let failedOn: { partial: string; complete: (line: string) => GuestFailure } | undefined;
    const finish = (err: Error | null, outcome?: GuestOutcome) => {
      if (done) return;
      done = true;
      clearTimeout(firstTimer);
      clearTimeout(silenceTimer);
      clearTimeout(typing);
      clearTimeout(drain);
      unobserve();
      opts.signal.removeEventListener('abort', onAbort);
      release();
      if (err) reject(err);
      else resolve(outcome!);
    };
    const firstTimer = setTimeout(
      () =>
        finish(
          new PhaseTimeout(
            'boot',
            opts.firstOutputS,
            'timeout',
            'the guest printed nothing after the hand-off',
            con.lines.recent(),
          ),
        ),
      opts.firstOutputS * 1000,
    );
    // The silence is checked when it would be complete; output meanwhile moves the check on.
    let silenceTimer: NodeJS.Timeout | undefined;
    const silence = opts.silenceS;
    const checkSilence = () => {
      if (done || silence === undefined) return;
      // From the hand-off at the earliest (the watch starts with it).
      const quiet = (performance.now() - Math.max(t0, con.quietSince())) / 1000;
      if (quiet < silence) return void (silenceTimer = setTimeout(checkSilence, Math.max(1, (silence - quiet) * 1000)));
      const last = con.lines
        .recent(5)
        .map((l) => l.trim())
        .filter(Boolean)
        .pop();
      const shown = last === undefined ? '' : last.length > 200 ? `${last.slice(0, 200)}...` : last;
      // Nothing since the hand-off is the boot's silence; after some output, the guest's.
      const phase = firstOutputS < 0 ? 'boot' : 'guest';
      const t = new PhaseTimeout(phase, silence, 'timeout', 'output', con.lines.recent());
      t.message = `${phase}: no output for ${silence} s after ${JSON.stringify(shown)} (the last line)`;
      finish(t);
    };
    const onAbort = () => finish(opts.signal.reason as Error);
    opts.signal.addEventListener('abort', onAbort, { once: true });

    const seen = (text: string) => {
      if (firstOutputS >= 0 || !text.trim()) return;
      firstOutputS = (performance.now() - t0) / 1000;
      clearTimeout(firstTimer);
      con.transcript.note(`first guest output after ${firstOutputS.toFixed(3)} s`);
    };
    const promptCheck = (text: string) => {
      if (!prefix || !cmd || shellSent || !text.includes(prefix)) return;
      shellSent = true;
      con.transcript.note(`shell prompt ${JSON.stringify(prefix)} seen: typing ${JSON.stringify(cmd)}`);
      typing = setTimeout(
        () => void con.type(`${cmd}\n`, opts.typeDelayMs).catch((e: Error) => finish(e)),
        opts.shellInitDelayS * 1000,
      );
    };
    /** True when the text decided the case. `whole`: a complete line (it joins the window). */
    const decideOn = (text: string, whole: boolean): boolean => {
      if (failedOn) {
        if (whole) finish(failedOn.complete(text));
        return whole;
      }
      let i = decide.firstMatch(text);
      if (i < 0 && windowed.length) {
        const w = `${win}${text}`;
        if (whole) win = `${w}\n`.slice(-WINDOW);
        i = windowed.find((x) => x.p.test(w))?.i ?? -1;
      }
      if (i < 0) return false;
      if (i < nFail) {
        const failure = (line: string) =>
          new GuestFailure(`failure pattern ${JSON.stringify(sourceOf(i))} matched: ${line.trim()}`);
        if (whole) finish(failure(text));
        else if (!failedOn) {
          // Decided now, as ostool decides; but the reason shows the whole line (`Kernel
          // panic - not syncing: ...`), which follows within ostool's 500 ms drain.
          failedOn = { partial: text, complete: failure };
          drain = setTimeout(() => finish(failure(text)), DRAIN_MS);
        }
        return whole;
      }
      // The rest of this read is checked for failure patterns before the pass is told.
      const outcome: GuestOutcome = { pattern: sourceOf(i), line: text, firstOutputS };
      release();
      const told = () => {
        for (const rest of [...con.lines.pending(), con.lines.partial]) {
          const f = nFail ? decide.firstMatch(rest) : -1;
          if (f >= 0 && f < nFail)
            return finish(
              new GuestFailure(
                `failure pattern ${JSON.stringify(sourceOf(f))} matched right after the success line: ${rest.trim()}`,
              ),
            );
        }
        finish(null, outcome);
      };
      if (whole) setImmediate(told);
      else {
        // Decided on a line still being printed: the line may finish first (within ostool's
        // drain), so the transcripts and the baseline comparison hold it whole. A prompt that
        // never ends its line is told after the drain.
        drain = setTimeout(told, DRAIN_MS);
        unobserve = con.lines.observe(() => {
          unobserve();
          clearTimeout(drain);
          setImmediate(told);
        });
      }
      return true;
    };
    const echo = (text: string) => shellSent && !echoSkipped && cmd !== undefined && text.includes(cmd);

    release = con.consume({
      burst: (lines) =>
        !!failedOn ||
        windowed.length > 0 ||
        firstOutputS < 0 ||
        (shellSent && !echoSkipped) ||
        (!!cmd && !shellSent && lines.some((l) => l.includes(prefix!))) ||
        decide.mayMatchAny(lines),
      line: (text) => {
        seen(text);
        if (echo(text)) {
          echoSkipped = true;
          return false;
        }
        promptCheck(text);
        return decideOn(text, true);
      },
      partial: (text) => {
        seen(text);
        promptCheck(text);
        // The command being echoed is not the guest's answer.
        if (shellSent && !echoSkipped) return false;
        return decideOn(text, false);
      },
    });
    if (silence !== undefined && !done) checkSilence();
  });
}
