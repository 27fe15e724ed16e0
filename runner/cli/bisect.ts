// `hil bisect -b BOARD -s CASE --good C1 --bad C2`: the first bad commit of a TGOSKits
// workspace for one case on one board (runner/build/bisect.ts does the work).
import path from 'node:path';
import { reportsDir, shown } from '../config/paths.js';
import { ConfigError, EXIT } from '../errors.js';
import { planJob } from '../job/00-plan.js';

const say = (msg: string) => process.stdout.write(`${msg}\n`);

export async function bisectCmd(o: {
  board: string;
  suite: string;
  good: string;
  bad: string;
  workspace?: string;
  confirm?: string;
  out?: string;
  history?: string | false;
}): Promise<number> {
  const confirm = o.confirm === undefined ? 1 : Number(o.confirm);
  if (!Number.isInteger(confirm) || confirm < 0 || confirm > 5)
    throw new ConfigError(`--confirm ${o.confirm}: give how many more runs confirm a verdict, 0 to 5`);
  const workspace = path.resolve(o.workspace ?? process.cwd());
  // The plan is checked before any checkout: one case, built from this workspace.
  const p = planJob({ board: o.board, suite: o.suite, workspace });
  if (p.plans.length !== 1 || p.specs.length)
    throw new ConfigError(
      `bisect runs one case, and ${o.suite} has ${p.plans.length + p.specs.length} for ${p.board.name}: give the case's file`,
    );
  if (p.plans[0].imageSource !== 'build' || path.resolve(p.plans[0].build!.cwd) !== workspace)
    throw new ConfigError(
      `${shown(p.plans[0].case.file)} does not build its image in ${shown(workspace)} (its image comes from ${p.plans[0].imageSource}): bisect needs a case the runner builds at each commit`,
    );
  if (o.history !== false) {
    const { historyLocation, checkWritable } = await import('../history/store.js');
    await checkWritable(historyLocation(o.history));
  }
  const out = path.resolve(
    o.out ??
      path.join(
        reportsDir(),
        `${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}-bisect-${p.board.name}-${p.plans[0].case.name}`.replace(
          /[^A-Za-z0-9._/-]+/g,
          '_',
        ),
      ),
  );
  const { bisect, writeBisect, bisectMarkdown, bisectExit, transcriptsOf } = await import('../build/bisect.js');
  const { interruptible } = await import('../lifecycle/interrupt.js');
  const ac = interruptible(say);
  try {
    say(
      `hil bisect: ${p.plans[0].case.name} on ${p.board.name}, good ${o.good}, bad ${o.bad}, in ${shown(workspace)}; runs in ${shown(out)}`,
    );
    const r = await bisect({
      board: o.board,
      boardName: p.board.name,
      suite: o.suite,
      good: o.good,
      bad: o.bad,
      workspace,
      confirm,
      out,
      history: o.history,
      signal: ac.signal,
      log: say,
    });
    writeBisect(out, r);
    if (o.history !== false) {
      const { withHistory } = await import('./report.js');
      await withHistory(
        o.history || undefined,
        (h) =>
          h.db.query(
            `insert into bisects (board, case_name, good, bad, first_bad, last_good, started, finished, outcome, detail) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
            [
              r.board,
              r.case ?? o.suite,
              r.good,
              r.bad,
              r.firstBad ?? null,
              r.lastGood ?? null,
              r.started,
              r.finished,
              r.outcome,
              JSON.stringify(r),
            ],
          ),
        { create: true },
      );
    }
    say('');
    say(bisectMarkdown(r).split('\n| commit')[0].trim());
    const t = transcriptsOf(r);
    if (t.firstBad)
      say(`transcripts: last good ${shown(path.join(t.lastGood ?? '', ''))}, first bad ${shown(t.firstBad)}`);
    say(`written: ${shown(path.join(out, 'bisect.md'))} and bisect.json`);
    return bisectExit(r);
  } catch (e) {
    if (ac.signal.aborted) return EXIT.interrupted;
    throw e;
  } finally {
    ac.release();
  }
}
