// `hil lab status`: who holds which board, since when, whether the holder is alive, and
// each board's health. `hil lab check`: the health check (runner/job/health-check.ts).
import path from 'node:path';
import { isLabBoard, listBoardNames, loadBoard, type Board } from '../drivers/board.js';
import { shown, shownTime } from '../config/paths.js';
import { EXIT, kindOf } from '../errors.js';
import { interruptible, markInterrupted } from '../lifecycle/interrupt.js';
import { allHealth } from '../lab/health.js';
import { checkBoard } from '../job/health-check.js';
import { labStores, Lease, leaseDir, type LeaseState, leaseStates, leaseStoreOf } from '../lab/lease.js';
import { newRun, settle, writeResults } from '../model/results.js';
import { LabHost } from '../remote/lab-host.js';
import { poolStatus } from '../drivers/pool/ostool-server.js';
import { outputFolder } from '../lifecycle/10-prepare.js';
import { waitSeconds } from './run.js';

const say = (msg: string) => process.stdout.write(`${msg}\n`);
const ago = (s: number) => (s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`);

export async function status(): Promise<number> {
  const states = await leaseStates();
  const health = await allHealth();
  if (!states.length) say(`no board is held (leases in ${shown(leaseDir())})`);
  const show = (l: LeaseState, where: string) => {
    const h = l.holder;
    const since = h ? Math.round((Date.now() - Date.parse(h.since)) / 1000) : undefined;
    const who = h
      ? `held by run ${h.run}, pid ${h.pid} on ${h.host}, since ${shownTime(h.since)}${since !== undefined ? ` (${ago(since)})` : ''}`
      : `held by a lease this runner cannot read (${l.board}.lease in ${where}: ${l.problem})`;
    const state = l.gone
      ? `HOLDER GONE: ${l.gone}; the next run breaks the lease`
      : h
        ? `alive, heartbeat ${ago(l.heartbeatAgeS)} ago`
        : `heartbeat ${ago(l.heartbeatAgeS)} ago: the next run waits for it, and breaks it once it is 30 s old; remove it if no run holds the board`;
    say(`${l.board.padEnd(22)} ${who}; ${state}`);
  };
  for (const l of states) show(l, shown(leaseDir()));
  if (states.length) say(`(leases in ${shown(leaseDir())})`);
  // Boards wired to lab hosts keep their leases and health there: asked once per host and folder.
  const remotes = labStores().slice(1);
  for (const store of remotes) {
    try {
      const remote = await leaseStates(store);
      for (const l of remote) show(l, store.where);
      say(`(leases in ${store.where}${remote.length ? '' : ': none held'})`);
      health.push(...(await allHealth(store)));
    } catch (e) {
      say(`leases and health in ${store.where}: cannot read them: ${(e as Error).message}`);
    }
  }
  if (remotes.length) LabHost.closeAll();
  for (const h of health) {
    say(
      `${h.board.padEnd(22)} health ${h.state.toUpperCase()} since ${shownTime(h.at)}${h.state === 'good' ? `: ${h.uboot_version ?? ''}` : `: ${h.reason}`}`,
    );
  }
  // Boards a pool hands out (ostool-server): the pool's free boards and the API it speaks.
  for (const line of await poolStatus()) say(line);
  return 0;
}

/** Checks each board (all the lab knows, or those named), one after the other, each in a
 * folder of its own: under reports/, or `--out` (itself for one board named, else a folder
 * per board in it). Every folder made gets its results.json, whatever happened. */
export async function check(o: { board?: string[]; wait?: string; out?: string }): Promise<number> {
  const waitS = waitSeconds(o.wait);
  const names = o.board?.length ? o.board : listBoardNames();
  const ac = interruptible(say);
  let bad = 0;
  let misconfigured = 0;
  for (const name of names) {
    let board: Board;
    try {
      board = loadBoard(name);
    } catch (e) {
      if (o.board?.length) throw e;
      say(`${name}: not checked: ${(e as Error).message}`);
      continue;
    }
    if (!isLabBoard(board)) {
      say(
        `${name}: not checked: ${
          board.power.kind === 'qemu'
            ? `each run starts a board of its own (power ${board.power.kind}), there is no health to keep`
            : `its boards are handed out by a pool (power ${board.power.kind}), which keeps them`
        }`,
      );
      continue;
    }
    if (ac.signal.aborted) break;
    const out = o.out === undefined ? undefined : names.length === 1 ? o.out : path.join(o.out, board.name);
    const outDir = outputFolder(out, { board, suite: { name: 'health-check' } });
    let lease: Lease;
    try {
      lease = await Lease.acquire(board.name, {
        run: shown(outDir),
        waitS,
        log: say,
        signal: ac.signal,
        store: leaseStoreOf(board),
      });
    } catch (e) {
      const stopped = ac.signal.aborted;
      const why = stopped
        ? `${(ac.signal.reason as Error)?.message ?? 'interrupted'} while waiting for it`
        : (e as Error).message;
      if (!stopped && kindOf(e) !== 'lab' && kindOf(e) !== 'config') throw e;
      notChecked(
        board,
        outDir,
        why,
        stopped ? EXIT.interrupted : kindOf(e) === 'config' ? EXIT.config : EXIT.error,
        stopped ? why : undefined,
      );
      process.stderr.write(
        `hil: ${board.name}: not checked: ${why} (results: ${shown(path.join(outDir, 'results.json'))})\n`,
      );
      if (stopped) break;
      if (kindOf(e) === 'config') misconfigured++;
      else bad++;
      continue;
    }
    try {
      const h = await checkBoard(board, { outDir, signal: ac.signal, log: say });
      if (ac.signal.aborted) {
        markInterrupted(outDir, (ac.signal.reason as Error)?.message ?? 'interrupted');
        say(`${board.name}: check stopped, its health unchanged (${shown(outDir)})`);
        break;
      }
      say(`${board.name}: ${h.state === 'good' ? `GOOD: ${h.uboot_version}` : `BAD: ${h.reason}`} (${shown(outDir)})`);
      if (h.state !== 'good') bad++;
    } finally {
      await lease.release();
    }
  }
  LabHost.closeAll();
  return ac.signal.aborted ? EXIT.interrupted : misconfigured ? EXIT.config : bad ? EXIT.error : EXIT.pass;
}

/** The results.json of a check that never reached the board. */
function notChecked(board: Board, outDir: string, reason: string, code: number, interrupted?: string): void {
  const r = newRun({ board: board.name, soc: board.soc, suite: 'health-check' });
  r.reason = `${reason}; the board was not checked`;
  r.interrupted = interrupted;
  settle(r);
  r.verdict = 'error';
  r.exit_code = code;
  writeResults(outDir, r);
}
