// The pipeline: one case's actions, in the order of a run, each under its own timeout.
//
//   00-plan      resolve and validate everything (before any of this runs)
//   10-build     build the image (TGOSKits' own build), unless one was given
//   20-power     power on, the console listening
//   30-uboot     reach the U-Boot prompt; init commands and the case's uboot_cmd
//   35-guard     the board's guarded storage checked against its golden images, restored
//   40-deploy    write fs guests and raw images to the board's storage, checked
//   50-load      load the images into RAM, checked (a FIT, ostool's way, or raw)
//   60-boot      the boot command, to U-Boot's hand-off
//   70-guest     watch the guest and decide (its VMs, its test records)
//   -- the board is switched off: the verdict never waits on it --
//   80-baseline  compare with the guest's QEMU baseline
//   90-report    results.json, JUnit, Allure, the history (once per run, job.ts)
//
// A timeout aborts the running action's signal with a PhaseTimeout that names the action
// and what it waited for; whatever it was waiting on (an expect, a transfer, a build)
// ends with that error, so the verdict names the phase that ran out. After the hand-off it
// also says what the board printed last and how long before.
//
// A console lost for good (it went away and did not come back within the board's [console]
// reattach_timeout) aborts the running board action the same way, whatever it waits on
// (U-Boot, a transfer, the guest watch): the case ends at once as a lab error naming the
// console and the phase, the board is switched off, and the job runs it again where the
// case's `retries` allow.
import { lastOutput } from '../console/console.js';
import { InternalError, isDomainError, LabError, PhaseTimeout } from '../errors.js';
import { hostImage } from '../transfer/image.js';
import type { Action, CaseRun } from './action.js';
import { build } from './10-build.js';
import { power } from './20-power.js';
import { uboot } from './30-uboot.js';
import { guard } from './35-guard.js';
import { deploy } from './40-deploy.js';
import { load } from './50-load.js';
import { boot } from './60-boot.js';
import { guest } from './70-guest.js';
import { baseline } from './80-baseline.js';

/** The actions on the board, in run order. */
export const BOARD_ACTIONS: Action[] = [build, power, uboot, guard, deploy, load, boot, guest];
/** The actions after the board is off. */
export const AFTER_ACTIONS: Action[] = [baseline];
export const ACTIONS: Action[] = [...BOARD_ACTIONS, ...AFTER_ACTIONS];

/** setTimeout takes at most 2^31-1 ms (24.8 days); a longer limit is no limit here. */
const MAX_TIMER_S = (2 ** 31 - 1) / 1000;

/** Runs one action under its timeout, timing it into the case's record. */
export async function runAction(a: Action, run: CaseRun): Promise<void> {
  const secs = a.timeoutS(run);
  const reported = a.reportS?.(run) ?? secs;
  const limit = new AbortController();
  const timer =
    secs > 0 && secs < MAX_TIMER_S
      ? setTimeout(() => {
          const con = run.session.consoleOpen ? run.session.console : undefined;
          const t = new PhaseTimeout(
            a.name,
            Math.round(reported * 10) / 10,
            a.onTimeout,
            a.waitingFor,
            con?.lines.recent() ?? [],
          );
          // A board gone silent after the hand-off: what it printed last, and when.
          if (con && (a.name === 'boot' || a.name === 'guest')) t.message += `; ${lastOutput(con)}`;
          limit.abort(t);
        }, secs * 1000)
      : undefined;
  const onBoard = BOARD_ACTIONS.includes(a);
  const lost = run.session.consoleLost;
  run.signal = AbortSignal.any([run.job.signal, limit.signal, ...(onBoard ? [lost] : [])]);
  run.rec.enter(a.name);
  run.session.transcript.note(`phase ${a.name}${secs > 0 ? ` (limit ${secs.toFixed(1)} s)` : ''}`);
  const t0 = performance.now();
  try {
    if (onBoard && lost.aborted) throw lost.reason;
    await a.run(run);
  } catch (e) {
    // A console lost for good is the cause of whatever the wait it ended threw (an expect,
    // a failed write, a transfer cut short): the case says so, with the phase it was lost in.
    if (onBoard && lost.aborted && !run.job.signal.aborted)
      throw new LabError(a.name, `${a.name}: ${(lost.reason as Error).message}`);
    // What ran out of time reports the timeout, not the abort it caused somewhere inside;
    // an action that explained its own timeout better (which VM never came) keeps that.
    const own = e instanceof PhaseTimeout && e.phase === a.name;
    if (limit.signal.aborted && !run.job.signal.aborted && !own) throw limit.signal.reason;
    throw e;
  } finally {
    clearTimeout(timer);
    run.rec.phase(a.name, (performance.now() - t0) / 1000);
    run.signal = run.job.signal;
  }
}

/** Runs a TOML case's actions; throws the error that names its verdict, or returns on a pass. */
export async function runPipeline(run: CaseRun): Promise<void> {
  const plan = run.plan!;
  // A case that is built gets its kernel from the build action.
  run.state.images = plan.images ? { ...plan.images } : undefined;
  try {
    for (const a of BOARD_ACTIONS) {
      if (a.applies(run)) await runAction(a, run);
      // The images' checksums (35 ms for a 28 MB kernel) are taken while U-Boot starts: its
      // banner waits in the console's buffer and its countdown is a second away, so they
      // cost neither the process's time nor the board's.
      if (a === power)
        for (const [role, p] of Object.entries(run.state.images ?? {})) if (p) hostImage(role as 'kernel', p);
    }
  } catch (e) {
    throw isDomainError(e) ? e : new InternalError(e);
  } finally {
    run.rec.lastLines = () => (run.session.consoleOpen ? run.session.console.lines.recent(15) : []);
    const lines = run.rec.lastLines();
    run.rec.lastLines = () => lines;
    await run.session.close();
  }
  try {
    for (const a of AFTER_ACTIONS) if (a.applies(run)) await runAction(a, run);
  } catch (e) {
    throw isDomainError(e) ? e : new InternalError(e);
  }
}
