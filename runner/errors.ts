// The four verdicts of design.md, and the errors that produce them. Every failure in the
// runner is one of these classes, so the verdict (and the exit code) is decided by the
// error's type in one place (verdictOf), never by string matching at the top.

export type Verdict = 'pass' | 'fail' | 'error' | 'timeout';

/** Bad usage or configuration, found before any hardware is touched. Exit code 3. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The lab failed, not the software under test: no port, no prompt, a failed load. */
export class LabError extends Error {
  override name = 'LabError';
  constructor(readonly phase: string, message: string) {
    super(message);
  }
}

/** The system under test misbehaved: a failure pattern, a wrong shell answer. */
export class GuestFailure extends Error {
  override name = 'GuestFailure';
}

/**
 * A phase ran out of time. Like LAVA, the reason names the phase that did; the verdict
 * depends on the phase: no U-Boot prompt is a lab error, a silent guest is a timeout.
 */
export class PhaseTimeout extends Error {
  override name = 'PhaseTimeout';
  constructor(
    readonly phase: string,
    readonly seconds: number,
    readonly verdict: 'timeout' | 'error',
    what: string,
    readonly lastLines: string[] = [],
  ) {
    super(`${phase}: ${what} within ${seconds} s`);
  }
}

/** The user (or the CI job) stopped the run: Ctrl-C, SIGTERM. */
export class Interrupted extends Error {
  override name = 'Interrupted';
  constructor(readonly signal: string) {
    super(`interrupted by ${signal}`);
  }
}

export function verdictOf(err: unknown): Verdict {
  if (err instanceof GuestFailure) return 'fail';
  if (err instanceof PhaseTimeout) return err.verdict;
  // An assertion in a TypeScript spec is the guest's answer being wrong.
  if (err instanceof Error && err.name === 'AssertionError') return 'fail';
  return 'error';
}

/** Exit codes of `hil run`: 0 pass, 1 fail or timeout, 2 lab error, 3 bad usage/config. */
export const EXIT = { pass: 0, fail: 1, timeout: 1, error: 2, config: 3, interrupted: 130 } as const;

/** The worst verdict wins: an untrustworthy run (error) outranks a failing one. */
export function worstVerdict(verdicts: Verdict[]): Verdict {
  const rank: Record<Verdict, number> = { pass: 0, fail: 1, timeout: 2, error: 3 };
  return verdicts.reduce<Verdict>((worst, v) => (rank[v] > rank[worst] ? v : worst), 'pass');
}
