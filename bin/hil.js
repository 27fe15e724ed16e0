#!/usr/bin/env node
// The `hil` command: the runner as compiled JavaScript (dist/, built by `npm run build`,
// which scripts/setup runs). TypeScript specs are compiled as they load, by tsx, and only
// when a suite has them.
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('hil: the runner is not built (dist/ is missing): run `npm run build`, or scripts/setup\n');
  process.exit(3);
}
await import(main.href);
