// 1. Build: the users' own build of the image the case boots (build/tgoskits.ts), before
//    the board is powered and on its own clock. Skipped when the case brings its image
//    ([images]) or the run was given one (--image).
import path from 'node:path';
import { shown } from '../config/paths.js';
import { LabError } from '../errors.js';
import { runBuild, type BuildResult } from '../build/tgoskits.js';
import type { Action } from './action.js';

export const build: Action = {
  name: 'build',
  description: "build the image the case boots, in the users' workspace",
  onTimeout: 'error',
  waitingFor: 'the build did not finish',
  applies: (run) => Boolean(run.plan?.build && run.plan.imageSource === 'build'),
  timeoutS: (run) => run.plan!.build!.timeoutS,
  async run(run) {
    const spec = run.plan!.build!;
    const key = `${spec.cwd}\0${spec.command}\0${spec.args.join('\0')}`;
    let pending = run.job.builds.get(key);
    const first = !pending;
    if (!pending) {
      pending = runBuild(spec, path.join(run.dir, 'build.log'), run.job.outDir, (m) => run.session.log(m), run.signal);
      run.job.builds.set(key, pending);
    }
    let result: BuildResult;
    try {
      result = await pending;
    } catch (e) {
      const r = (e as { result?: BuildResult }).result;
      if (r) run.rec.set('build', r);
      throw e;
    }
    run.rec.set('build', first ? result : { ...result, seconds: 0 });
    if (!first) run.session.log(`build: reusing this run's build of ${shown(spec.config)} (${shown(result.output!)})`);
    if (!result.output) throw new LabError('build', 'the build wrote no image');
    run.state.images = { ...run.state.images, kernel: result.output };
  },
};
