// 6. Boot: the boot command, and U-Boot's hand-off line ("Starting kernel ..."). A prompt
//    coming back instead means U-Boot refused to boot: a lab error with its words. The
//    watchers of what the guest prints (the baseline's timed lines, each VM, the guest's
//    test records and metrics) are attached before it, so no line is missed.
//    What the baseline comparison keeps is bounded (a guest flooding its console must not
//    fill the runner's memory): the first lines, then only the marker lines.
import { PatternSet } from '../config/regex.js';
import { afterHandoff } from '../guest/handoff.js';
import { RecordWatch } from '../guest/records.js';
import { VmWatch } from '../guest/vms.js';
import type { Action, CaseRun } from './action.js';

/** The guest's lines kept whole for the baseline comparison: this many, of at most... */
export const BASELINE_LINES = 50_000;
/** ...this many characters in all. Past either, only the lines of its markers are kept. */
export const BASELINE_CHARS = 8 * 1024 * 1024;

/** Keeps the guest's timed lines for the baseline comparison, within the bounds above. */
function keepForBaseline(run: CaseRun, markers: PatternSet): (text: string, t: number) => void {
  const lines = run.state.guestLines;
  let chars = 0;
  let full = false;
  return (text, t) => {
    if (!full && lines.length < BASELINE_LINES && chars + text.length <= BASELINE_CHARS) {
      chars += text.length;
      lines.push({ t, text });
      return;
    }
    if (!full) {
      full = true;
      run.rec.warn(
        `the guest printed more than ${BASELINE_LINES} lines or ${BASELINE_CHARS / 1024 / 1024} MiB: the QEMU ` +
          `baseline comparison sees its first ${lines.length} lines and, after them, only its marker lines`,
      );
    }
    if (markers.firstMatch(text) >= 0) lines.push({ t, text: text.length > 4096 ? text.slice(0, 4096) : text });
  };
}

export const boot: Action = {
  name: 'boot',
  description: 'boot: hand-off to the guest',
  onTimeout: 'error',
  waitingFor: 'U-Boot did not hand over to the guest',
  applies: (run) => Boolean(run.state.bootCmds?.length || run.plan?.imageSource === 'board-storage'),
  timeoutS: (run) =>
    run.session.board.timeouts.first_output + (run.state.bootCmds?.length ?? 1) * run.session.board.timeouts.command,
  async run(run) {
    const s = run.session;
    const plan = run.plan;
    const cmds = run.state.bootCmds ?? plan?.case.ubootCmd?.slice(-1) ?? [];
    const handoff = s.uboot.handoff;
    if (plan?.case.baseline)
      afterHandoff(s.console, handoff, keepForBaseline(run, new PatternSet(plan.case.baseline.markers)));
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
