// 6. Boot: the boot command, and U-Boot's hand-off line ("Starting kernel ..."). A prompt
//    coming back instead means U-Boot refused to boot: a lab error with its words. The
//    watchers of what the guest prints (the baseline's timed lines, each VM, the guest's
//    test records and metrics) are attached before it, so no line is missed.
import { afterHandoff } from '../guest/handoff.js';
import { RecordWatch } from '../guest/records.js';
import { VmWatch } from '../guest/vms.js';
import type { Action } from './action.js';

export const boot: Action = {
  name: 'boot',
  description: 'boot: hand-off to the guest',
  onTimeout: 'error',
  waitingFor: 'U-Boot did not hand over to the guest',
  applies: (run) => Boolean(run.state.bootCmds?.length || run.plan?.imageSource === 'board-storage'),
  timeoutS: (run) => run.session.board.timeouts.first_output + (run.state.bootCmds?.length ?? 1) * run.session.board.timeouts.command,
  async run(run) {
    const s = run.session;
    const plan = run.plan;
    const cmds = run.state.bootCmds ?? plan?.case.ubootCmd?.slice(-1) ?? [];
    const handoff = s.uboot.handoff;
    if (plan?.case.baseline) afterHandoff(s.console, handoff, (text, t) => run.state.guestLines.push({ t, text }));
    const ax = plan?.axvisor;
    if (ax?.expectVms && ax.vms.length) run.state.vms = new VmWatch(s.console, handoff, ax.vms);
    run.state.records = new RecordWatch(
      s.console,
      handoff,
      {
        record: (r) => run.rec.record(r),
        metric: (m) => run.rec.metric(m),
        warn: (t) => run.rec.warn(t),
      },
      plan?.case.metrics ?? [],
    );
    run.state.bootStart = performance.now();
    for (const cmd of cmds.slice(0, -1)) await s.uboot.run(cmd, { phase: 'boot' });
    await s.uboot.boot(cmds[cmds.length - 1]);
  },
};
