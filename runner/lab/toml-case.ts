// One TGOSKits-format case on a board: (build,) start, (deploy,) load, boot, watch,
// decide. Throws the error that names the verdict (GuestFailure, LabError, PhaseTimeout);
// returns on a pass.
import type { TomlCase } from '../config/case.js';
import { watchGuest } from '../guest/watch.js';
import { VmWatch } from '../guest/vms.js';
import { afterHandoff } from '../guest/handoff.js';
import type { RunContext } from '../suite/context.js';
import { hostImage } from '../transfer/image.js';
import { deployFile, writeRaw, type DeployTools, type DeployFigures } from '../transfer/deploy.js';
import { checkBaseline, summary } from '../baseline/check.js';
import type { TimedLine } from '../baseline/compare.js';
import type { Console } from '../console/console.js';
import { GuestFailure, PhaseTimeout } from '../errors.js';
import { runBuild } from '../axvisor/build.js';
import type { CasePreflight } from './preflight.js';

/** Records the guest's lines with their time since the hand-off line. */
function guestLines(con: Console, handoff: RegExp): TimedLine[] {
  const lines: TimedLine[] = [];
  afterHandoff(con, handoff, (text, t) => lines.push({ t, text }));
  return lines;
}

/** What is written to the board's storage before booting: raw images, then every "fs"
 * guest image (and DTB) at the path its VM config names. The images' checksums are taken
 * now, before power-on: not on the board's clock. */
function deploySteps(c: TomlCase, pre?: CasePreflight): ((t: DeployTools) => Promise<DeployFigures>)[] {
  const steps = c.storageWrites.map((w) => {
    const img = hostImage('raw', w.image);
    return (t: DeployTools) => writeRaw(t, img, w.offset);
  });
  const plan = pre?.plan;
  if (!plan?.settings.deploy) return steps;
  for (const vm of plan.vms.filter((v) => v.config.imageLocation === 'fs')) {
    const label = `VM[${vm.config.id}] ${vm.config.name}`;
    const files: [string | undefined, string | undefined, 'guest' | 'dtb'][] = [[vm.kernel, vm.config.kernelPath, 'guest'], [vm.dtb, vm.config.dtbPath, 'dtb']];
    for (const [host, boardPath, role] of files) {
      if (!host || !boardPath) continue;
      const img = hostImage(role, host);
      steps.push((t) => deployFile(t, img, boardPath, label));
    }
  }
  return steps;
}

export async function runTomlCase(ctx: RunContext, c: TomlCase, pre?: CasePreflight): Promise<void> {
  const rec = ctx.current!;
  const plan = pre?.plan;
  let images = c.images;
  if (plan?.settings.build) {
    // The build runs before the board is powered, on its own clock (not the case's).
    const t0 = performance.now();
    try {
      const built = await runBuild(plan, ctx.caseDir(rec), ctx.outDir, (m) => ctx.log(`  [${c.name}] ${m}`), ctx.signal, (b) => { rec.build = b; });
      images = { ...images, kernel: built.output ?? images?.kernel ?? '' };
    } finally {
      rec.phases.build = (performance.now() - t0) / 1000;
    }
  }
  const s = ctx.openSession(c.timeout ?? ctx.board.timeouts.case);
  let vms: VmWatch | undefined;
  try {
    // Checksums of the images are taken before power-on: not on the board's clock.
    const steps = deploySteps(c, pre);
    if (images) for (const [role, p] of Object.entries(images)) if (p) hostImage(role as 'kernel', p);
    await s.start();
    await s.deploy(steps, c.loadMethods);
    const bootCmd = images?.kernel ? await s.load(images, c.loadMethods) : undefined;
    const guest = c.baseline ? guestLines(s.console, s.uboot.handoff) : [];
    if (plan?.settings.expect_vms && plan.vms.length) vms = new VmWatch(s.console, s.uboot.handoff, plan.vms);
    await s.boot(c.ubootCmd ?? [bootCmd!]);
    const outcome = await s.phase('guest', async () => {
      // A VM that fails ends the watch at once, whatever the case's own patterns say.
      const vmFailed = new AbortController();
      vms?.onFailure((e) => vmFailed.abort(e));
      const signal = AbortSignal.any([s.signal, vmFailed.signal]);
      const o = await watchGuest(s.console, c, { firstOutputS: ctx.board.timeouts.first_output, typeDelayMs: ctx.board.uboot.type_delay_ms, signal });
      await vms?.allUp(signal);
      return o;
    }).catch((e: unknown) => {
      // A case that ran out of time while VMs were missing says which and why.
      const missing = vms?.pending() ?? [];
      if (e instanceof PhaseTimeout && missing.length) throw new PhaseTimeout(e.phase, e.seconds, e.verdict, missing.join('; '), e.lastLines);
      throw e;
    });
    rec.matched = { pattern: outcome.pattern, line: outcome.line.trim() };
    ctx.log(`  [${c.name}] pass: ${JSON.stringify(outcome.pattern)} matched "${outcome.line.trim()}"${vms ? `; VMs up: ${vms.results().map((v) => `${v.id} ${v.name}`).join(', ')}` : ''}`);
    if (c.baseline) {
      const report = checkBaseline(c.baseline, guest, s.opts.outDir, ctx.baselineDir);
      rec.baseline = report;
      ctx.log(`  [${c.name}] ${summary(report)}`);
      if (report.status === 'differs' && report.mode === 'require') throw new GuestFailure(summary(report));
    }
  } finally {
    if (vms) {
      vms.stop();
      rec.vms = vms.results();
    }
    rec.deploys = s.deploys;
    await ctx.closeSession();
  }
}

