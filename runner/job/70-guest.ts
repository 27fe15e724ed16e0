// 7. Guest: watch what the guest prints and decide (guest/watch.ts has ostool's rules):
//    failure patterns, success patterns, the shell prompt and its command, every VM of the
//    VM configs (guest/vms.ts) and the guest's own test records (guest/records.ts). The
//    case's `timeout` counts from the boot command, as ostool counts it; its
//    `boot_silence` ends a board gone silent after the hand-off sooner.
import { PhaseTimeout } from '../errors.js';
import { watchGuest } from '../guest/watch.js';
import type { Action, CaseRun } from './action.js';

/** The case's time limit from the boot command (0: none), and what is left of it now. */
export function caseLimit(run: CaseRun): { limit: number; left: number } {
  const limit = run.plan?.case.timeout ?? run.session.board.timeouts.case;
  const used = run.state.bootStart === undefined ? 0 : (performance.now() - run.state.bootStart) / 1000;
  return { limit, left: limit > 0 ? Math.max(0.001, limit - used) : 0 };
}

export const guest: Action = {
  name: 'guest',
  description: 'guest checks',
  onTimeout: 'timeout',
  waitingFor: 'no verdict (the case timeout, counted from the boot command, ran out)',
  applies: (run) => Boolean(run.plan),
  timeoutS: (run) => caseLimit(run).left,
  reportS: (run) => caseLimit(run).limit,
  async run(run) {
    const s = run.session;
    const c = run.plan!.case;
    const { vms, records } = run.state;
    // A VM that fails, or a failing test record, ends the watch at once.
    const failed = new AbortController();
    vms?.onFailure((e) => failed.abort(e));
    records?.onFailure((e) => failed.abort(e));
    const signal = AbortSignal.any([run.signal, failed.signal]);
    try {
      const t = s.board.timeouts;
      run.state.outcome = await watchGuest(s.console, c, {
        firstOutputS: t.first_output,
        silenceS: c.bootSilence,
        typeDelayMs: s.board.uboot.type_delay_ms,
        shellInitDelayS: t.shell_init_delay,
        signal,
      });
      await vms?.allUp(signal);
    } catch (e) {
      // A case that ran out of time while VMs were missing says which and why.
      const missing = vms?.pending() ?? [];
      if (e instanceof PhaseTimeout && missing.length)
        throw new PhaseTimeout(e.phase, e.seconds, e.verdict, missing.join('; '), e.lastLines);
      throw e;
    } finally {
      if (vms) {
        vms.stop();
        run.rec.set('vms', vms.results());
      }
      records?.stop();
    }
    const o = run.state.outcome;
    run.rec.set('matched', { pattern: o.pattern, line: o.line.trim() });
    s.log(
      `pass: ${JSON.stringify(o.pattern)} matched "${o.line.trim()}"${
        vms
          ? `; VMs up: ${vms
              .results()
              .map((v) => `${v.id} ${v.name}`)
              .join(', ')}`
          : ''
      }`,
    );
  },
};
