// 8. Baseline: after the board is off, the guest's lines (timed from the hand-off) are
//    compared with the same guest's recorded QEMU run (baseline/). A missing or stale
//    baseline is told as such; a difference fails the case only under `baseline = "require"`.
import { loadQemuCase } from '../config/qemu-case.js';
import { checkBaseline, summary } from '../baseline/check.js';
import { GuestFailure } from '../errors.js';
import { shown } from '../config/paths.js';
import type { FindingList } from '../axvisor/findings.js';
import type { Action, CasePlan } from './action.js';

export const baseline: Action = {
  name: 'baseline',
  description: 'compare with the QEMU baseline',
  onTimeout: 'error',
  waitingFor: 'the comparison did not finish',
  validate(plan: CasePlan, f: FindingList) {
    const b = plan.case.baseline;
    if (!b) return;
    try {
      loadQemuCase(b.qemuCase);
    } catch (e) {
      f.error(shown(plan.case.file), 'qemu_case', (e as Error).message);
    }
  },
  applies: (run) => Boolean(run.plan?.case.baseline && run.state.outcome),
  timeoutS: () => 0,
  async run(run) {
    const cb = run.plan!.case.baseline!;
    const report = checkBaseline(cb, run.state.guestLines, run.dir, run.job.baselineDir);
    run.rec.set('baseline', report);
    run.session.log(summary(report));
    if (report.status === 'differs' && report.mode === 'require') throw new GuestFailure(summary(report));
  },
};
