// The verdicts (docs/results.md) and the errors that produce them. Every failure in the runner
// is one of these classes, so the verdict (and the exit code) is decided by the error's
// type in one place (verdictOf), never by string matching at the top.
//
// A bug in the runner is none of pass/fail/error/timeout: it is `internal`, with its own
// exit code, so a broken runner never hides as a flaky lab (the regression report keeps
// lab errors apart and "decides nothing" from them) or as a failing hypervisor.

export type Verdict = 'pass' | 'fail' | 'error' | 'timeout' | 'internal';
export const VERDICTS: readonly Verdict[] = ['pass', 'fail', 'error', 'timeout', 'internal'];

/**
 * Errors are recognised by a brand, not by `instanceof`: a spec loaded through tsx may
 * bring a second copy of these classes, and its errors must still mean what they say.
 */
const BRAND = Symbol.for('axvisor-hil.error');
type Kind = 'config' | 'lab' | 'guest' | 'timeout' | 'interrupted' | 'internal';
const brand = (e: Error, kind: Kind) => Object.defineProperty(e, BRAND, { value: kind, enumerable: false });
export const kindOf = (e: unknown): Kind | undefined =>
  e && typeof e === 'object' ? (e as Record<symbol, Kind>)[BRAND] : undefined;

/** Bad usage or configuration, found before any hardware is touched. Exit code 3. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(message: string) {
    super(message);
    brand(this, 'config');
  }
}

/** The lab failed, not the software under test: no port, no prompt, a failed load. */
export class LabError extends Error {
  override name = 'LabError';
  constructor(
    readonly phase: string,
    message: string,
  ) {
    super(message);
    brand(this, 'lab');
  }
}

/** The system under test misbehaved: a failure pattern, a wrong shell answer. */
export class GuestFailure extends Error {
  override name = 'GuestFailure';
  constructor(message: string) {
    super(message);
    brand(this, 'guest');
  }
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
    brand(this, 'timeout');
  }
}

/** The user (or the CI job) stopped the run: Ctrl-C, SIGTERM. */
export class Interrupted extends Error {
  override name = 'Interrupted';
  constructor(readonly signal: string) {
    super(`interrupted by ${signal}`);
    brand(this, 'interrupted');
  }
}

/** A bug in the runner: an exception no domain code meant to throw. */
export class InternalError extends Error {
  override name = 'InternalError';
  constructor(readonly original: unknown) {
    const e = original instanceof Error ? original : new Error(String(original));
    const where =
      e.stack
        ?.split('\n')
        .find((l) => /^\s+at /.test(l))
        ?.trim() ?? '';
    super(
      `runner bug: ${e.name}: ${e.message}${where ? ` (${where})` : ''}; please report it with the run's results.json`,
    );
    this.stack = `${this.message}\n${e.stack ?? ''}`;
    brand(this, 'internal');
  }
}

/** Whether an error is one the runner's own domain code raises on purpose. */
export const isDomainError = (e: unknown) => {
  const k = kindOf(e);
  return k !== undefined && k !== 'internal';
};

export function verdictOf(err: unknown): Verdict {
  switch (kindOf(err)) {
    case 'guest':
      return 'fail';
    case 'timeout':
      return (err as PhaseTimeout).verdict;
    case 'lab':
    case 'config':
    case 'interrupted':
      return 'error';
    default:
      return 'internal';
  }
}

/** Exit codes of `hil run`: 0 pass, 1 fail or timeout, 2 lab error, 3 bad usage or
 * configuration, 4 a runner bug, 130 interrupted. */
export const EXIT = { pass: 0, fail: 1, timeout: 1, error: 2, config: 3, internal: 4, interrupted: 130 } as const;

const RANK: Record<Verdict, number> = { pass: 0, fail: 1, timeout: 2, error: 3, internal: 4 };

/** The worst verdict wins: a runner bug outranks an untrustworthy run (error), which
 * outranks a failing one. */
export function worstVerdict(verdicts: Verdict[]): Verdict {
  return verdicts.reduce<Verdict>((worst, v) => (RANK[v] > RANK[worst] ? v : worst), 'pass');
}
