// Health, by LAVA's rule: a board is checked before it gets work when nobody knows
// whether it is well. `hil lab check` powers a board, reaches U-Boot, reads its version and
// environment, and powers it off; it is a run of its own (a `health-check` folder with the
// transcript and power.log). A board that fails its check is bad: `hil run` refuses it and
// `hil matrix` leaves it out, until a check passes again. A lab error in a normal run makes
// the board unknown, and the next `hil run` checks it before its cases.
//
// Health is kept for the boards that hold leases (those the lab wires; a virtual board that
// each run starts afresh has nothing to keep), one record per board where its lease is kept
// (lease.ts's LeaseStore): <lease folder>/<board>.health.json here, or in the lab host's
// lease_dir for a board with a [lab_host], so every machine that shares a board's lease
// shares what is known of its health. Written whole and renamed into place. A record that
// cannot be read (cut short, another shape) says nothing about the board: it is unknown,
// so the board is checked before its next run, and the record is kept aside
// (<board>.health.json.unreadable) when the check writes a new one. The check itself is
// runner/job/health-check.ts.
import { FolderStore, type LeaseStore } from './lease.js';

export type HealthState = 'good' | 'bad' | 'unknown';

export interface Health {
  board: string;
  state: HealthState;
  /** When it was last set. */
  at: string;
  /** Why it is bad or unknown. */
  reason?: string;
  /** From the last check that passed: U-Boot's version line and a few of its variables. */
  uboot_version?: string;
  env?: Record<string, string>;
  /** The run folder of the check, or of the run that made the board unknown. */
  run?: string;
}

/** What is wrong with a health record's content, or undefined when it is one. */
export function healthProblem(x: unknown): string | undefined {
  if (typeof x !== 'object' || x === null || Array.isArray(x))
    return `it holds ${Array.isArray(x) ? 'a list' : x === null ? 'null' : `a ${typeof x}`}, not a health record`;
  const h = x as Record<string, unknown>;
  const wrong: string[] = [];
  if (typeof h.board !== 'string') wrong.push(h.board === undefined ? 'no board' : 'board is not a string');
  if (!['good', 'bad', 'unknown'].includes(h.state as string))
    wrong.push(h.state === undefined ? 'no state' : `state ${JSON.stringify(h.state)} is none of good, bad, unknown`);
  if (typeof h.at !== 'string' || Number.isNaN(Date.parse(h.at)))
    wrong.push(h.at === undefined ? 'no at (when it was set)' : 'at is not a time');
  for (const k of ['reason', 'uboot_version', 'run'] as const)
    if (h[k] !== undefined && typeof h[k] !== 'string') wrong.push(`${k} is not a string`);
  if (h.env !== undefined && (typeof h.env !== 'object' || h.env === null || Array.isArray(h.env)))
    wrong.push('env is not a table');
  return wrong.length ? wrong.join('; ') : undefined;
}

/** Where health is kept: a store, or a folder of this machine's (the default: the lease folder). */
type HealthPlace = LeaseStore | string | undefined;
const storeOf = (place: HealthPlace): LeaseStore => (typeof place === 'object' ? place : new FolderStore(place));

/** A board's health: undefined when it was never checked; `unknown` (with `unreadable`
 * saying why) when its record cannot be read, which is not the same as never checked. */
export async function readHealth(
  board: string,
  place?: HealthPlace,
): Promise<(Health & { unreadable?: string }) | undefined> {
  const store = storeOf(place);
  const seen = await store.readRecord(board, 'health.json');
  if (!seen) return undefined; // never checked
  const where = `${store.recordName(board, 'health.json')}${store instanceof FolderStore ? '' : ` in ${store.where}`}`;
  if ('error' in seen) return unreadable(board, where, new Date().toISOString(), `cannot be read (${seen.error})`);
  let doc: unknown;
  try {
    doc = JSON.parse(seen.text);
  } catch (e) {
    return unreadable(
      board,
      where,
      seen.at,
      seen.text.trim() ? `is not JSON, cut short or damaged (${(e as Error).message})` : 'is empty',
    );
  }
  const problem = healthProblem(doc);
  return problem ? unreadable(board, where, seen.at, `is not a health record: ${problem}`) : (doc as Health);
}

const unreadable = (board: string, file: string, at: string, why: string): Health & { unreadable: string } => ({
  board,
  state: 'unknown',
  at,
  reason: `its health record ${file} ${why}; it is checked again before its next run`,
  unreadable: why,
});

export async function writeHealth(h: Health, place?: HealthPlace): Promise<void> {
  const store = storeOf(place);
  // An unreadable record is kept for whoever wants to know what it was, not overwritten.
  const keepAside = (await readHealth(h.board, store))?.unreadable !== undefined;
  await store.writeRecord(h.board, 'health.json', `${JSON.stringify(h, null, 1)}\n`, keepAside);
}

/** Every board's health record in the store (an unreadable one as unknown). */
export async function allHealth(place?: HealthPlace): Promise<Health[]> {
  const store = storeOf(place);
  const out: Health[] = [];
  for (const board of await store.listRecords('health.json')) {
    const h = await readHealth(board, store);
    if (h) out.push(h);
  }
  return out;
}

/** Every board's health from every place the lab keeps it (lease.ts's labStores()); a place
 * that cannot be read is told through `warn` and its boards left out. */
export async function healthEverywhere(warn: (m: string) => void): Promise<Health[]> {
  const { labStores } = await import('./lease.js');
  const out: Health[] = [];
  const stores = labStores();
  for (const store of stores) {
    try {
      out.push(...(await allHealth(store)));
    } catch (e) {
      warn(`health in ${store.where} cannot be read: ${(e as Error).message}`);
    }
  }
  // A lab host's connection would keep the process alive.
  if (stores.length > 1) (await import('../remote/lab-host.js')).LabHost.closeAll();
  return out;
}
