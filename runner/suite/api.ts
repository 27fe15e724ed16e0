// The API a TypeScript mocha spec uses to drive the board of the current run, through
// the same session, U-Boot driver and console as TOML cases:
//
//   import { useBoard } from '../../runner/suite/api.js';
//   describe('linux guest', () => {
//     const board = useBoard();
//     it('answers uname', async () => {
//       await board.boot({ kernel: '...', initrd: '...' });
//       await board.expect(/init reached/);
//       const { output } = await board.shell('uname -m');
//     });
//   });
//
// Every test gets a freshly powered board; it is powered off after each test.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CaseImages } from '../config/case.js';
import { translateRustRegex } from '../config/regex.js';
import { PhaseTimeout } from '../errors.js';
import { shellCommand, type ShellResult } from '../guest/shell.js';
import type { BoardSession } from '../lab/session.js';
import type { UBoot } from '../uboot/driver.js';
import { runContext } from './context.js';

type PathLike = string | URL;
const toPath = (p: PathLike) => (p instanceof URL ? fileURLToPath(p) : path.resolve(p));

export class BoardHandle {
  private get session(): BoardSession {
    const ctx = runContext();
    return ctx.openSession(ctx.board.timeouts.case);
  }

  /** The board's name and settings. */
  get board() {
    return runContext().board;
  }

  /** Powers on and stops at the U-Boot prompt (for tests of U-Boot itself). */
  async uboot(): Promise<UBoot> {
    const s = this.session;
    return s.consoleOpen ? s.uboot : s.start();
  }

  /** Powers on, loads the images, boots, and returns once U-Boot hands over. */
  async boot(images: { kernel: PathLike; initrd?: PathLike; dtb?: PathLike }): Promise<void> {
    const s = this.session;
    if (!s.consoleOpen) await s.start();
    const paths: CaseImages = { kernel: toPath(images.kernel) };
    if (images.initrd) paths.initrd = toPath(images.initrd);
    if (images.dtb) paths.dtb = toPath(images.dtb);
    await s.boot([await s.load(paths)]);
  }

  /**
   * Waits for console output matching `pattern` (a RegExp, or a Rust-syntax string): a
   * whole line, or the line still being printed (so a shell prompt, which has no newline,
   * matches). Consumes the output through the match.
   */
  async expect(pattern: RegExp | string, timeoutS = 60): Promise<string> {
    const s = this.session;
    const re = typeof pattern === 'string' ? translateRustRegex(pattern, 'expect()').re : pattern;
    const m = await s.phase('guest', () =>
      s.console.expect([re], {
        timeoutMs: timeoutS * 1000,
        partial: true,
        signal: s.signal,
        onTimeout: () => new PhaseTimeout('guest', timeoutS, 'timeout', `no output matching ${re}`, s.console.lines.recent()),
      }),
    );
    return m.line;
  }

  /** Runs a command at the guest's shell; resolves with its output lines and exit status. */
  async shell(cmd: string, timeoutS = 30): Promise<ShellResult> {
    const s = this.session;
    return s.phase('guest', () => shellCommand(s.console, cmd, { timeoutS, typeDelayMs: s.board.uboot.type_delay_ms, signal: s.signal }));
  }
}

export function useBoard(): BoardHandle {
  const handle = new BoardHandle();
  afterEach(async () => {
    await runContext().closeSession();
  });
  return handle;
}
