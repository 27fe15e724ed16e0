// One TGOSKits-format case on a board: start, load, boot, watch, decide. Throws the error
// that names the verdict (GuestFailure, LabError, PhaseTimeout); returns on a pass.
import type { TomlCase } from '../config/case.js';
import { watchGuest } from '../guest/watch.js';
import type { RunContext } from '../suite/context.js';
import { hostImage } from '../transfer/image.js';

export async function runTomlCase(ctx: RunContext, c: TomlCase): Promise<void> {
  const rec = ctx.current!;
  // Checksums of the images are taken before power-on: not on the board's clock.
  if (c.images) for (const [role, p] of Object.entries(c.images)) if (p) hostImage(role as 'kernel', p);
  const s = ctx.openSession(c.timeout ?? ctx.board.timeouts.case);
  try {
    await s.start();
    const bootCmd = c.images ? await s.load(c.images, c.loadMethods) : undefined;
    await s.boot(c.ubootCmd ?? [bootCmd!]);
    const outcome = await s.phase('guest', () =>
      watchGuest(s.console, c, { firstOutputS: ctx.board.timeouts.first_output, typeDelayMs: ctx.board.uboot.type_delay_ms, signal: s.signal }),
    );
    rec.matched = { pattern: outcome.pattern, line: outcome.line.trim() };
    ctx.log(`  [${c.name}] pass: ${JSON.stringify(outcome.pattern)} matched "${outcome.line.trim()}"`);
  } finally {
    await ctx.closeSession();
  }
}
