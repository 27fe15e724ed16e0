// `hil lab status`: who holds which board, since when, and whether the holder is alive.
import { leaseDir, leaseStates } from '../lab/lease.js';
import { shown } from '../config/paths.js';

const say = (msg: string) => process.stdout.write(`${msg}\n`);
const ago = (s: number) => (s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`);

export function status(): number {
  const states = leaseStates();
  if (!states.length) {
    say(`no board is held (leases in ${shown(leaseDir())})`);
    return 0;
  }
  for (const l of states) {
    const h = l.holder;
    const since = h ? Math.round((Date.now() - Date.parse(h.since)) / 1000) : undefined;
    const who = h
      ? `held by run ${h.run}, pid ${h.pid} on ${h.host}, since ${h.since.slice(0, 19).replace('T', ' ')}${since !== undefined ? ` (${ago(since)})` : ''}`
      : 'held (lease being written)';
    const state = l.gone ? `HOLDER GONE: ${l.gone}; the next run breaks the lease` : `alive, heartbeat ${ago(l.heartbeatAgeS)} ago`;
    say(`${l.board.padEnd(22)} ${who}; ${state}`);
  }
  say(`(leases in ${shown(leaseDir())})`);
  return 0;
}
