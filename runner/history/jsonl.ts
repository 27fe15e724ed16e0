// JSON lines, one history record a line: the history's exchange format. `hil history
// import` reads the JSON-lines store of earlier runners (and any file of records: two
// labs' exports, a hand-made fixture); a line that is not a record is told with its file
// and line number and skipped, never fatal. `hil history export` writes every record back
// out, in the order they were recorded.
import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { ConfigError } from '../errors.js';
import { shown } from '../config/paths.js';
import { checkRecord, MAX_RECORD_BYTES, type HistoryRecord } from '../model/history.js';
import type { History, Warn } from './store.js';

/** Records per transaction: a year of records goes in as a few hundred commits. */
const BATCH = 2000;
/** Bad lines told one by one; past this, only counted. */
const TOLD = 20;

export async function importJsonl(
  h: History,
  file: string,
  warn: Warn,
): Promise<{ lines: number; added: number; known: number; bad: number }> {
  if (!existsSync(file) || !statSync(file).isFile())
    throw new ConfigError(`${shown(file)} is not a file: give a JSON-lines history (one record a line)`);
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  let n = 0;
  let added = 0;
  let known = 0;
  let bad = 0;
  let batch: HistoryRecord[] = [];
  const flush = async () => {
    const k = await h.add(batch);
    added += k;
    known += batch.length - k;
    batch = [];
  };
  for await (const line of lines) {
    n++;
    if (!line.trim()) continue;
    let why: string;
    if (line.length > MAX_RECORD_BYTES) why = `a record of ${line.length} bytes (at most ${MAX_RECORD_BYTES})`;
    else {
      let raw: unknown;
      try {
        raw = JSON.parse(line);
      } catch {
        raw = undefined;
      }
      const r = raw === undefined ? { error: 'not JSON (cut short, or edited by hand)' } : checkRecord(raw);
      if ('record' in r) {
        batch.push(r.record);
        if (batch.length >= BATCH) await flush();
        continue;
      }
      why = r.error;
    }
    bad++;
    if (bad <= TOLD) warn(`${shown(file)}:${n}: skipped: ${why}`);
  }
  await flush();
  if (added >= BATCH) await h.analyze();
  if (bad > TOLD) warn(`${shown(file)}: ${bad - TOLD} more bad line(s) skipped`);
  return { lines: n, added, known, bad };
}

/** Writes every record to `file` (stdout when undefined); returns how many. */
export async function exportJsonl(h: History, file?: string): Promise<number> {
  const out = file ? createWriteStream(file, { flags: 'wx' }) : process.stdout;
  if (file) {
    const opened = once(out, 'open');
    const failed = once(out, 'error').then(([e]) => {
      throw new ConfigError(
        `cannot write ${shown(file)}: ${(e as NodeJS.ErrnoException).code === 'EEXIST' ? 'it exists (nothing was overwritten): give a new file' : (e as Error).message}`,
      );
    });
    await Promise.race([opened, failed]);
    failed.catch(() => {}); // a later error is the write's own, thrown there
  }
  let n = 0;
  let buf = '';
  for await (const r of h.records()) {
    buf += `${JSON.stringify(r)}\n`;
    n++;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  if (file) {
    const w = out as ReturnType<typeof createWriteStream>;
    w.end(buf);
    await once(w, 'finish');
  } else if (buf && !out.write(buf)) await once(out, 'drain');
  return n;
}
