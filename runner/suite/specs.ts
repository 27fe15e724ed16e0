// TypeScript specs of a suite, run through mocha: each test is one case of the run, with a
// freshly powered board (suite/api.ts drives it) and one CaseResult. This module, mocha
// and tsx are loaded only when a suite has specs.
//
// A spec imports the API as `axvisor-hil/spec` wherever it lives (a lab's own repository):
// a resolve hook maps that name to this runner's own module, so specs and runner share one
// copy of it.
import { register } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { projectRoot } from '../config/paths.js';
import path from 'node:path';
import { GuestFailure, Interrupted, isDomainError, kindOf } from '../errors.js';
import type { SpecCase } from '../config/case.js';
import type { JobPlan } from '../job/00-plan.js';
import type { CaseRun } from '../job/action.js';
import { setActiveRun } from './api.js';

let hooked = false;

async function hookImports(): Promise<void> {
  if (hooked) return;
  hooked = true;
  // Built, this code sits in a shared chunk of dist/; from source (the runner's own unit
  // tests), in runner/suite/. The API and the hook are entry points of their own in both.
  const built = fileURLToPath(import.meta.url).endsWith('.js');
  const at = (name: string) =>
    pathToFileURL(
      built
        ? path.join(projectRoot, 'dist', 'suite', `${name}.js`)
        : path.join(projectRoot, 'runner', 'suite', `${name}.ts`),
    ).href;
  register(at('resolve-hook'), { data: { api: at('api') } });
  // TypeScript specs: tsx compiles them as they load.
  const tsx = await import('tsx/esm/api');
  tsx.register();
}

/** A spec's own exception is its failure; ours keep their meaning. */
function meaning(err: unknown, title: string): unknown {
  if (isDomainError(err) || kindOf(err) === 'internal') return err;
  const e = err instanceof Error ? err : new Error(String(err));
  return new GuestFailure(
    `${title}: ${e.name === 'AssertionError' ? e.message.split('\n')[0] : `the spec threw ${e.name}: ${e.message}`}`,
  );
}

/** What the specs need of the job running them (runner/job/job.ts): its plan, its options,
 * and a case run opened and closed. Said here, so the job and the specs do not import each
 * other. */
export interface SpecHost {
  readonly plan: JobPlan;
  readonly o: { reporter?: string; signal: AbortSignal };
  open(name: string, file: string, kind: 'spec'): CaseRun;
  close(run: CaseRun, err: unknown): unknown;
}

export async function runSpecs(job: SpecHost, specs: SpecCase[]): Promise<void> {
  await hookImports();
  const { default: Mocha } = await import('mocha');
  const mocha = new Mocha({ timeout: 0, reporter: job.o.reporter ?? 'spec', color: process.stdout.isTTY });
  mocha.suite.title = `${job.plan.board.name} / ${job.plan.suite.name}`;
  const byFile = new Map(specs.map((s) => [s.file, s]));
  for (const s of specs) mocha.addFile(s.file);
  try {
    await mocha.loadFilesAsync();
  } catch (e) {
    // A spec that does not even load fails as a whole, with what the loader said.
    for (const s of specs)
      job.close(
        job.open(s.name, s.file, 'spec'),
        new GuestFailure(`the spec did not load: ${(e as Error).message.split('\n')[0]}`),
      );
    return;
  }
  let current: CaseRun | undefined;
  const pending: Promise<void>[] = [];
  // The board of one test is off before the next test powers it on.
  mocha.suite.beforeEach(async () => {
    await Promise.all(pending);
  });
  const finish = (err: unknown) => {
    const run = current;
    if (!run || run.rec.done) return;
    current = undefined;
    setActiveRun(undefined);
    pending.push(run.session.close().then(() => void job.close(run, err)));
  };
  await new Promise<void>((resolve) => {
    const runner = mocha.run(() => resolve());
    job.o.signal.addEventListener('abort', () => runner.abort(), { once: true });
    runner.on('test', (t) => {
      const spec = byFile.get(t.file ?? '');
      const name = `${spec?.name ?? path.basename(t.file ?? 'spec')}: ${t.title}`;
      current = job.open(name, t.file ?? '', 'spec');
      setActiveRun(current);
    });
    runner.on('pass', () => finish(null));
    runner.on('fail', (t, err) => {
      const aborted = job.o.signal.aborted && !(err instanceof Interrupted);
      finish(aborted ? job.o.signal.reason : meaning(err, t.title));
    });
  });
  await Promise.all(pending);
}
