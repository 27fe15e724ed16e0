// `hil baseline record`: run QEMU cases and store each passing run as the baseline that
// board runs of the same guest are compared with.
import path from 'node:path';
import { loadQemuCase } from '../config/qemu-case.js';
import { loadSuite } from '../config/suite.js';
import { reportsDir, shown } from '../config/paths.js';
import { ConfigError, EXIT } from '../errors.js';
import { recordBaseline } from '../baseline/record.js';
import { baselinePath, defaultBaselineDir, writeBaseline } from '../baseline/store.js';

const say = (msg: string) => process.stdout.write(`${msg}\n`);
const stamp = () => new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);

export async function recordBaselines(o: { suite?: string; qemuCase?: string; baselines?: string; image?: string; workspace?: string }): Promise<number> {
  const dir = path.resolve(o.baselines ?? defaultBaselineDir());
  const targets: { name: string; file: string }[] = [];
  if (o.qemuCase) targets.push({ name: path.basename(o.qemuCase, '.toml'), file: path.resolve(o.qemuCase) });
  if (o.suite) {
    for (const c of loadSuite(o.suite).cases) if (c.kind === 'toml' && c.baseline) targets.push({ name: c.name, file: c.baseline.qemuCase });
    if (!targets.length) throw new ConfigError(`suite ${o.suite} has no case with a qemu_case: nothing to record (or give --qemu-case FILE)`);
  }
  if (!targets.length) throw new ConfigError('say what to record: --suite S (the qemu_case of each of its cases) or --qemu-case FILE');
  const image = o.image ?? process.env.HIL_IMAGE;
  const started = stamp();
  let failed = 0;
  for (const t of targets) {
    const qc = loadQemuCase(t.file, { workspace: o.workspace && path.resolve(o.workspace) });
    const file = baselinePath(dir, qc.file);
    const out = path.join(reportsDir(), `${started}-baseline`, t.name.replace(/[^A-Za-z0-9._-]+/g, '_'));
    try {
      const b = await recordBaseline(qc, out, { image: image && path.resolve(image) });
      writeBaseline(file, b);
      say(`${t.name}: recorded ${b.lines.length} lines from ${shown(qc.file)} into ${shown(file)}`);
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      failed++;
      say(`${t.name}: not recorded: ${(e as Error).message} (transcript in ${shown(out)})`);
    }
  }
  return failed ? EXIT.error : 0;
}
