// Preloaded into a benchmarked `hil` process (node --import): prints the process's peak
// resident memory on stderr as it exits, so the bench reads what the process itself used.
import { writeSync } from 'node:fs';

process.on('exit', () => writeSync(2, `maxrss ${process.resourceUsage().maxRSS}\n`));
