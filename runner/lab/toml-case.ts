// One TGOSKits-format case on a board: start, load, boot, watch, decide. Throws the error
// that names the verdict (GuestFailure, LabError, PhaseTimeout); returns on a pass.
import type { TomlCase } from '../config/case.js';
import { watchGuest } from '../guest/watch.js';
import type { RunContext } from '../suite/context.js';
import { hostImage } from '../transfer/image.js';
import { checkBaseline, summary } from '../baseline/check.js';
import type { TimedLine } from '../baseline/compare.js';
import type { Console } from '../console/console.js';
import { GuestFailure } from '../errors.js';

/**
 * Records the guest's lines with their time since the hand-off line. Attached before the
 * boot command, so a line that arrives in the same read as the hand-off is not missed.
 */
function guestLines(con: Console, handoff: RegExp): TimedLine[] {
  const lines: TimedLine[] = [];
  let t0 = -1;
  con.lines.observe((text) => {
    if (t0 >= 0) lines.push({ t: (performance.now() - t0) / 1000, text });
    else if (handoff.test(text)) t0 = performance.now();
  });
  return lines;
}

export async function runTomlCase(ctx: RunContext, c: TomlCase): Promise<void> {
  const rec = ctx.current!;
  // Checksums of the images are taken before power-on: not on the board's clock.
  if (c.images) for (const [role, p] of Object.entries(c.images)) if (p) hostImage(role as 'kernel', p);
  const s = ctx.openSession(c.timeout ?? ctx.board.timeouts.case);
  try {
    await s.start();
    const bootCmd = c.images ? await s.load(c.images, c.loadMethods) : undefined;
    const guest = c.baseline ? guestLines(s.console, s.uboot.handoff) : [];
    await s.boot(c.ubootCmd ?? [bootCmd!]);
    const outcome = await s.phase('guest', () =>
      watchGuest(s.console, c, { firstOutputS: ctx.board.timeouts.first_output, typeDelayMs: ctx.board.uboot.type_delay_ms, signal: s.signal }),
    );
    rec.matched = { pattern: outcome.pattern, line: outcome.line.trim() };
    ctx.log(`  [${c.name}] pass: ${JSON.stringify(outcome.pattern)} matched "${outcome.line.trim()}"`);
    if (c.baseline) {
      const report = checkBaseline(c.baseline, guest, s.opts.outDir, ctx.baselineDir);
      rec.baseline = report;
      ctx.log(`  [${c.name}] ${summary(report)}`);
      if (report.status === 'differs' && report.mode === 'require') throw new GuestFailure(summary(report));
    }
  } finally {
    await ctx.closeSession();
  }
}
