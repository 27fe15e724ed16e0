// The API a TypeScript mocha spec uses to drive the board of the current run, through the
// same pipeline actions, board session, U-Boot driver and console as TOML cases:
//
//   import { useBoard } from 'axvisor-hil/spec';
//   describe('linux guest', () => {
//     const board = useBoard();
//     it('answers uname', async () => {
//       await board.boot({ kernel: '...', initrd: '...' });
//       await board.expect(/init reached/);
//       const { output } = await board.shell('uname -m');
//     });
//   });
//
// Every test gets a freshly powered board; it is powered off after each test. An
// assertion that fails, or any exception of the spec's own, is that test's failure; lab
// trouble stays a lab error; an exception inside this API is a runner bug.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CaseImages } from '../config/case.js';
import { RustRegex } from '../config/regex.js';
import { InternalError, isDomainError, PhaseTimeout } from '../errors.js';
import { shellCommand, type ShellResult } from '../guest/shell.js';
import type { UBoot } from '../uboot/driver.js';
import type { CaseRun } from '../job/action.js';
import { runAction } from '../job/pipeline.js';
import { power } from '../job/20-power.js';
import { uboot } from '../job/30-uboot.js';
import { load } from '../job/50-load.js';
import { boot } from '../job/60-boot.js';

type PathLike = string | URL;
const toPath = (p: PathLike) => (p instanceof URL ? fileURLToPath(p) : path.resolve(p));

/** The spec runner (suite/specs.ts) puts the case run of the test now running here. A
 * global, not a module variable: a spec may load a second copy of this module. */
const ACTIVE = Symbol.for('axvisor-hil.active-case');
type Holder = { [ACTIVE]?: CaseRun };
export const setActiveRun = (run: CaseRun | undefined) => void ((globalThis as Holder)[ACTIVE] = run);

function active(): CaseRun {
  const run = (globalThis as Holder)[ACTIVE];
  if (!run) throw new Error('no board run is active: specs run through `hil run --board B --suite S`');
  return run;
}

/** Our own errors pass as they are; anything else thrown in here is a runner bug. */
async function guarded<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw isDomainError(e) || e instanceof InternalError ? e : new InternalError(e);
  }
}

export class BoardHandle {
  /** The board's name and settings. */
  get board() {
    return active().session.board;
  }

  private async started(run: CaseRun): Promise<void> {
    if (run.session.consoleOpen) return;
    await runAction(power, run);
    await runAction(uboot, run);
  }

  /** Powers on and stops at the U-Boot prompt (for tests of U-Boot itself). */
  uboot(): Promise<UBoot> {
    return guarded(async () => {
      const run = active();
      await this.started(run);
      return run.session.uboot;
    });
  }

  /** Powers on, loads the images, boots, and returns once U-Boot hands over. */
  boot(images: { kernel: PathLike; initrd?: PathLike; dtb?: PathLike }): Promise<void> {
    return guarded(async () => {
      const run = active();
      await this.started(run);
      const paths: CaseImages = { kernel: toPath(images.kernel) };
      if (images.initrd) paths.initrd = toPath(images.initrd);
      if (images.dtb) paths.dtb = toPath(images.dtb);
      run.state.images = paths;
      await runAction(load, run);
      await runAction(boot, run);
    });
  }

  /**
   * Waits for console output matching `pattern` (a RegExp, or a Rust-syntax string): a
   * whole line, or the line still being printed (so a shell prompt, which has no newline,
   * matches). Consumes the output through the match.
   */
  expect(pattern: RegExp | string, timeoutS = 60): Promise<string> {
    return guarded(async () => {
      const run = active();
      const s = run.session;
      const re = typeof pattern === 'string' ? RustRegex.compile(pattern, 'expect()') : pattern;
      const t0 = performance.now();
      try {
        const m = await s.console.expect([re], {
          timeoutMs: timeoutS * 1000,
          partial: true,
          signal: run.signal,
          onTimeout: () =>
            new PhaseTimeout('guest', timeoutS, 'timeout', `no output matching ${re.source}`, s.console.lines.recent()),
        });
        return m.line;
      } finally {
        run.rec.phase('guest', (performance.now() - t0) / 1000);
      }
    });
  }

  /** Runs a command at the guest's shell; resolves with its output lines and exit status. */
  shell(cmd: string, timeoutS = 30): Promise<ShellResult> {
    return guarded(async () => {
      const run = active();
      const s = run.session;
      const t0 = performance.now();
      try {
        return await shellCommand(s.console, cmd, {
          timeoutS,
          typeDelayMs: s.board.uboot.type_delay_ms,
          signal: run.signal,
        });
      } finally {
        run.rec.phase('guest', (performance.now() - t0) / 1000);
      }
    });
  }
}

export function useBoard(): BoardHandle {
  return new BoardHandle();
}
