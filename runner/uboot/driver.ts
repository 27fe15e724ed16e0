// The U-Boot driver. It talks to a Console, never to a serial port (labgrid's split), and
// knows U-Boot's habits:
// - the prompt is only trusted at the start of a line, and every command ends with a
//   completion marker, because the prompt text appears inside output (`crc32` prints
//   "==> "): Debian's U-Boot on the virtual board shows both;
// - the marker is typed split in two (`echo 'ab''cd'-$?`), so the echoed command line never
//   contains it and only the real output does, and it carries the exit status;
// - nothing is typed before the prompt is back (U-Boot eats typed-ahead input, trap 2),
//   and every typed line is checked against its echo before Enter is pressed.
import { ConfigError, LabError, PhaseTimeout } from '../errors.js';
import { literal, RustRegex, type Pattern } from '../config/regex.js';
import type { Board } from '../config/board.js';
import type { Console } from '../console/console.js';
import type { ExpectMatch, LineMatcher } from '../console/expect.js';
import { outputOf, withMarker } from '../console/marker.js';

export interface CommandResult {
  /** Output lines between the echoed command and the marker. */
  output: string[];
  status: number;
}

const UNKNOWN_COMMAND = /^Unknown command '([^']*)' - try 'help'/;

// --- quoting for U-Boot's shell ----------------------------------------------------------
// U-Boot's hush (common/cli_hush.c, 2023.01) reads a typed line so (parse_stream, done_word,
// run_pipe_real):
// - outside quotes, blanks split words, `;` `&&` `||` end a command, `#` opening a word
//   starts a comment, `$name` `${name}` `$?` are variables, `\x` is x, and `&` or `|` alone
//   are syntax errors;
// - single quotes keep everything up to the next `'` (`$`, `;`, `"`, blanks), with one
//   exception: every backslash in a word, quoted or not, is removed and keeps the character
//   after it (done_word), so a backslash is written `\\` even inside single quotes; a `'`
//   cannot be inside them and is written `'\''`; double quotes would expand `$` and are
//   not used;
// - a command in which a variable was substituted (an unquoted `${kernel_addr_r}` in any
//   of its words) is put together again and parsed a second time (run_pipe_real:
//   make_string, parse_string_outer with FLAG_REPARSING): each quoted word wrapped in single
//   quotes once more, `;` and `$` then plain, but quotes and backslashes read again. Its
//   values are quoted for both passes.
// Control characters cannot be typed at the prompt at all (Tab completes, Ctrl-C cancels,
// Enter runs the line).

/** Characters hush passes on as they are, outside quotes. */
const HUSH_PLAIN = /^[A-Za-z0-9_./:,+@%=-]+$/;
/** A word hush substitutes a variable in: the command is parsed a second time. */
const HUSH_SUBSTITUTES = /\$[A-Za-z{?]/;

/** What goes between single quotes for hush to read `text` back: backslashes doubled, each
 * `'` closed, escaped and reopened. */
const insideQuotes = (text: string) => text.replace(/\\/g, '\\\\').replace(/'/g, "'\\''");

/**
 * `value` written as one argument of a U-Boot command, so that the command receives it
 * byte for byte (blanks, quotes, `$`, `;`, `#`, backslashes): as it is when hush passes it
 * on unchanged, else in single quotes. `reparsed`: the command substitutes a variable
 * elsewhere and hush parses it twice (see hushCommand()). A value with a control character
 * (a newline, a tab) cannot be typed at the prompt: a configuration error.
 */
export function hushQuote(value: string, opts: { reparsed?: boolean } = {}): string {
  const bad = /[\x00-\x1f\x7f]/.exec(value);
  if (bad)
    throw new ConfigError(
      `${JSON.stringify(value)} cannot be typed at U-Boot's prompt: it holds the control character ${JSON.stringify(bad[0])} (a newline, a tab...); write it without one`,
    );
  if (HUSH_PLAIN.test(value)) return value;
  return `'${opts.reparsed ? insideQuotes(insideQuotes(value)) : insideQuotes(value)}'`;
}

/** A value that hushCommand() quotes: one argument, whatever it holds. */
export interface HushArg {
  readonly value: string;
}
export const arg = (value: string): HushArg => ({ value });

/**
 * A U-Boot command line from its words: strings as they are (the command, an address such
 * as `${kernel_addr_r}`, a device such as `virtio 0:1`), arg()s quoted so that each arrives
 * as one argument, unchanged; quoted for two passes when a word substitutes a variable.
 */
export function hushCommand(...words: (string | HushArg)[]): string {
  const reparsed = words.some((w) => typeof w === 'string' && HUSH_SUBSTITUTES.test(w));
  return words.map((w) => (typeof w === 'string' ? w : hushQuote(w.value, { reparsed }))).join(' ');
}

/** The first line of a fresh boot: U-Boot's banner (its SPL's, on boards that have one). */
const BANNER = /^U-Boot (?:SPL |TPL )?\d{4}\.\d{2}/;

export class UBoot {
  /** The board's prompt, anchored to a whole (unfinished) line. */
  readonly prompt: RegExp;
  private autoboot: RustRegex;
  /** The line that hands the console over to the guest. */
  readonly handoff: RustRegex;

  /** `signal` gives the signal of the action now running (its timeout, Ctrl-C). */
  constructor(
    private console: Console,
    private board: Board,
    private signalOf: () => AbortSignal | undefined = () => undefined,
    /** Restarts the board (its power driver's reset), for a countdown that was missed. */
    private resetBoard?: () => Promise<void>,
  ) {
    const u = board.uboot;
    this.prompt = literal(u.prompt, 'whole');
    this.autoboot = RustRegex.compile(u.autoboot, `${board.file}: uboot.autoboot`);
    this.handoff = RustRegex.compile(u.handoff, `${board.file}: uboot.handoff`);
  }

  private get signal(): AbortSignal | undefined {
    return this.signalOf();
  }

  private get t() {
    return this.board.timeouts;
  }

  private get errors(): Pattern[] {
    return this.board.ubootErrors;
  }

  private timeout(phase: string, seconds: number, what: string, verdict: 'error' | 'timeout' = 'error') {
    return () => new PhaseTimeout(phase, seconds, verdict, what, this.console.lines.recent());
  }

  /**
   * Waits for one of `patterns`; U-Boot's own error lines end the wait as a lab error.
   * `partialOk` lists the patterns that may match a line still being printed (the prompt,
   * the countdown); every other pattern waits for the whole line.
   */
  async expect(
    patterns: readonly LineMatcher[],
    phase: string,
    seconds: number,
    what: string,
    partialOk: readonly LineMatcher[] = [],
    errors = true,
  ): Promise<ExpectMatch> {
    const m = await this.console.expect(errors ? [...patterns, ...this.errors] : patterns, {
      timeoutMs: seconds * 1000,
      partial: partialOk,
      signal: this.signal,
      onTimeout: this.timeout(phase, seconds, what),
    });
    if (m.index >= patterns.length) {
      throw new LabError(
        phase,
        `U-Boot reported "${m.line.trim()}" (pattern ${this.errors[m.index - patterns.length].source})`,
      );
    }
    return m;
  }

  /**
   * From power-on to a prompt we can type at. "key" waits for the countdown and presses a
   * key; "ctrl-c" sends Ctrl-C every 100 ms until a prompt shows, so a silent or very
   * short bootdelay is no race. Either way the line is then resynchronised with a marker.
   */
  async interrupt(): Promise<void> {
    const u = this.board.uboot;
    for (let attempt = 1; ; attempt++) {
      const missed = await this.reachPrompt(attempt > 1);
      if (!missed) break;
      if (attempt >= u.attempts || !this.resetBoard) throw missed;
      // LAVA's and labgrid's trap: the countdown went by (the console attached late, a key
      // was lost), and the board booted on. A fresh boot gets a fresh countdown.
      this.console.transcript.note(
        `no usable U-Boot prompt (${missed.message}); resetting the board and interrupting again (attempt ${attempt + 1} of ${u.attempts})`,
      );
      this.console.lines.discard();
      await this.resetBoard();
    }
    this.console.lines.discard();
    await this.run('echo hil-sync', { phase: 'uboot' });
  }

  /** One power-on's try for the prompt: null when at the prompt, or why not (the board went
   * on to boot a kernel, or showed no prompt in time). After a reset, what the old boot
   * still had in flight (its autoboot failing, seen on a loaded lab host) arrives first:
   * its error and hand-off lines count only once the new boot's banner has shown. */
  private async reachPrompt(afterReset = false): Promise<Error | null> {
    const u = this.board.uboot;
    const secs = this.board.timeouts.uboot;
    const what = `no U-Boot prompt "${u.prompt.trim()}" (is the board powered, the console on the right port and baud, autoboot text "${u.autoboot}" right?)`;
    const booted = () =>
      new LabError('uboot', `the board went on to boot ("${u.handoff}") before the countdown was stopped`);
    // U-Boot's own error lines before its prompt are its autoboot failing (a distro boot's
    // TFTP error): the countdown went by; they are the board's trouble only at the prompt.
    const autobooting = (line: string) =>
      new LabError('uboot', `U-Boot went on with its own boot before the countdown was stopped ("${line.trim()}")`);
    let fresh = !afterReset;
    const wait = async (patterns: LineMatcher[], partial: LineMatcher[]) => {
      try {
        while (!fresh) {
          const m = await this.expect([...patterns, BANNER], 'uboot', secs, what, partial, false);
          if (m.index < patterns.length) return m;
          fresh = true;
        }
        const m = await this.expect([...patterns, this.handoff, ...this.errors], 'uboot', secs, what, partial, false);
        if (m.index === patterns.length) return booted();
        return m.index > patterns.length ? autobooting(m.line) : m;
      } catch (e) {
        // Out of time with no prompt: another power-on may do better; anything else may not.
        if (e instanceof PhaseTimeout && !this.signal?.aborted) return e;
        throw e;
      }
    };
    if (u.interrupt === 'key') {
      const m = await wait([this.autoboot, this.prompt], [this.autoboot, this.prompt]);
      if (m instanceof Error) return m;
      if (m.index === 0) {
        this.console.transcript.note(`autoboot countdown seen: pressing ${JSON.stringify(u.interrupt_key)}`);
        await this.console.write(u.interrupt_key);
        const p = await wait([this.prompt], [this.prompt]);
        if (p instanceof Error) return p;
      }
      return null;
    }
    this.console.transcript.note('sending Ctrl-C until a prompt appears');
    const ticker = setInterval(() => void this.console.write('\x03').catch(() => undefined), u.interrupt_every_ms);
    try {
      await this.console.write('\x03');
      const p = await wait([this.prompt], [this.prompt]);
      if (p instanceof Error) return p;
    } finally {
      clearInterval(ticker);
    }
    // Ctrl-Cs still in flight print more prompts; let them land, then forget them.
    await this.console.settle(50, 500);
    return null;
  }

  /**
   * Types a command and presses Enter, for commands that take the console over (loady,
   * the boot command): no completion marker; the caller waits for what comes next.
   */
  async enter(cmd: string, phase: string): Promise<void> {
    this.console.transcript.note(`enter: ${cmd}`);
    await this.typeLine(cmd, phase);
    await this.console.write('\r');
  }

  async waitPrompt(phase: string, seconds = this.t.prompt): Promise<void> {
    await this.expect([this.prompt], phase, seconds, 'no U-Boot prompt', [this.prompt]);
  }

  /** Back to a clean prompt after a command failed or hung: Ctrl-C, wait, resynchronise. */
  async recover(phase: string): Promise<void> {
    this.console.transcript.note('recovering the U-Boot prompt with Ctrl-C');
    for (let i = 0; i < 3; i++) {
      await this.console.write('\x03');
      try {
        await this.console.expect([this.prompt], {
          timeoutMs: this.t.prompt * 1000,
          partial: true,
          signal: this.signal,
          onTimeout: () => new Error('no prompt'),
        });
        break;
      } catch (e) {
        if (i === 2 || this.signal?.aborted)
          throw e instanceof Error && e.message === 'no prompt'
            ? new LabError(phase, 'U-Boot did not come back to its prompt after Ctrl-C')
            : e;
      }
    }
    await this.console.settle(50, 500);
    this.console.lines.discard();
    await this.run('echo hil-sync', { phase });
  }

  /** Types a line at the prompt, retrying with Ctrl-C when the echo comes back wrong. */
  private async typeLine(text: string, phase: string): Promise<void> {
    const u = this.board.uboot;
    for (let attempt = 1; attempt <= 3; attempt++) {
      if (await this.console.typeChecked(text, u.type_delay_ms, this.t.echo * 1000, this.signal)) return;
      this.console.transcript.note(
        `echo of "${text}" did not come back intact (attempt ${attempt}); Ctrl-C and retype`,
      );
      await this.console.write('\x03');
      await this.expect([this.prompt], phase, this.t.prompt, 'no prompt after Ctrl-C', [this.prompt]);
      await this.console.settle(30, 300);
      this.console.lines.discard();
    }
    throw new LabError(
      phase,
      `U-Boot did not echo "${text}" intact after 3 attempts: characters are lost on the serial line (raise uboot.type_delay_ms in the board file)`,
    );
  }

  /**
   * Runs a command and returns its output and exit status. A non-zero status is a lab
   * error unless `allowFail`; a command U-Boot lacks is always one.
   */
  async run(
    cmd: string,
    opts: { phase?: string; timeoutS?: number; allowFail?: boolean; errorsExpected?: boolean } = {},
  ): Promise<CommandResult> {
    const phase = opts.phase ?? 'uboot';
    const secs = opts.timeoutS ?? this.board.timeouts.command;
    const { line, done } = withMarker(cmd);
    this.console.transcript.note(`run: ${cmd}`);
    await this.typeLine(line, phase);
    await this.console.write('\r');
    const m = await this.expect([done], phase, secs, `"${cmd}" did not finish`, [], !opts.errorsExpected);
    await this.expect([this.prompt], phase, this.t.prompt, `no prompt after "${cmd}"`, [this.prompt]);
    const output = outputOf(m.before, line);
    const status = Number(m.match![1]);
    const unknown = output.map((l) => UNKNOWN_COMMAND.exec(l)).find(Boolean);
    if (unknown) {
      throw new LabError(
        phase,
        `this U-Boot has no command "${unknown[1]}": enable it in U-Boot's configuration, or change the board file / case (uboot_cmd) not to need it`,
      );
    }
    if (status !== 0 && !opts.allowFail) {
      const said = output
        .filter((l) => l.trim())
        .pop()
        ?.trim();
      throw new LabError(phase, `U-Boot command "${cmd}" failed (exit ${status})${said ? `: ${said}` : ''}`);
    }
    return { output, status };
  }

  /** A U-Boot environment variable's value, or undefined when it is not set. */
  async env(name: string): Promise<string | undefined> {
    // "## Error: "x" not defined" is printenv's answer here, not U-Boot in trouble.
    const r = await this.run(hushCommand('printenv', arg(name)), { allowFail: true, errorsExpected: true });
    const line = r.output.map((l) => l.trim()).find((l) => l.startsWith(`${name}=`));
    return r.status === 0 && line ? line.slice(name.length + 1) : undefined;
  }

  /** A number, or a U-Boot variable (`${kernel_addr_r}`, `kernel_addr_r`) holding one. */
  async address(expr: string): Promise<number | undefined> {
    const v = /^\$\{(\w+)\}$/.exec(expr.trim())?.[1] ?? (/^[A-Za-z_]\w*$/.test(expr.trim()) ? expr.trim() : undefined);
    const text = v ? await this.env(v) : expr.trim();
    if (text === undefined) return undefined;
    const n = /^0x[0-9a-f]+$/i.test(text)
      ? parseInt(text, 16)
      : /^[0-9a-f]+$/i.test(text) && v
        ? parseInt(text, 16)
        : /^\d+$/.test(text)
          ? Number(text)
          : NaN;
    return Number.isFinite(n) ? n : undefined;
  }

  /** Sets a variable to `value` exactly (blanks, quotes, `$` and all: hushQuote()). */
  async setenv(name: string, value: string): Promise<void> {
    await this.run(hushCommand('setenv', arg(name), arg(value)));
  }

  /**
   * Types the boot command and waits for the hand-off line ("Starting kernel ..."). A
   * prompt coming back instead means U-Boot refused to boot: a lab error with its words.
   */
  async boot(cmd: string): Promise<void> {
    const secs = this.board.timeouts.first_output;
    await this.enter(cmd, 'boot');
    // The hand-off must be a whole line: matched on its first half, the rest of it would
    // reach the guest watch as the guest's first output.
    const m = await this.expect(
      [this.handoff, this.prompt],
      'boot',
      secs,
      `no hand-off line matching "${this.board.uboot.handoff}" after "${cmd}"`,
      [this.prompt],
    );
    if (m.index === 1) {
      const unknown = m.before.map((l) => UNKNOWN_COMMAND.exec(l)).find(Boolean);
      if (unknown)
        throw new LabError(
          'boot',
          `this U-Boot has no command "${unknown[1]}": enable it in U-Boot's configuration, or change boot_cmd / uboot_cmd not to need it`,
        );
      const said = m.before.filter((l) => l.trim() && !l.endsWith(cmd)).pop() ?? 'nothing';
      throw new LabError('boot', `U-Boot did not boot: "${cmd}" returned to the prompt after "${said.trim()}"`);
    }
  }
}
