// `hil console`: a person (or a script) at a board's console, reached as a run reaches it.
// The board's lease is taken first, as `hil run` takes it (a board another run holds is
// refused naming the holder, or waited for); the console is opened through the board's
// console driver (pty, serial, tcp, rfc2217, ostool-server: whatever the board file says)
// before the board is powered on, if it is asked to be, so no byte of its boot is missed;
// then the terminal is attached: stdin, in raw mode when it is a terminal, goes to the
// board as it is typed, the board's bytes go to stdout, and Ctrl-] (0x1d) leaves.
//
// Leaving, whatever the cause (Ctrl-], the end of stdin, the console going away, SIGTERM,
// SIGHUP, SIGINT): what was typed reaches the board, the console is closed, the board is
// powered off if this command powered it on (a board pool's session is always given back:
// the pool powers its board off), the lease is released and the terminal restored. Exit
// status: 0 for Ctrl-] or the end of stdin, 2 for a lost console (or a board that could
// not be reached), 130 for a signal. A second signal exits at once (the lease file goes
// with the process; QEMU runs under --pdeathsig).
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Board } from '../config/board.js';
import { redact } from '../config/env.js';
import { shown } from '../config/paths.js';
import { Console } from '../console/console.js';
import type { ConsolePort } from '../console/port.js';
import { Transcript } from '../console/transcript.js';
import { owner, sweepLeftovers } from '../drivers/leftovers.js';
import { driver, type Power } from '../drivers/registry.js';
import { EXIT, Interrupted, kindOf } from '../errors.js';

/** The key that leaves: Ctrl-], the escape of telnet and virsh console. */
export const LEAVE_KEY = 0x1d;

/** Stdin as `hil console` uses it: a terminal (raw mode) or a pipe. */
export type KeyInput = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };

export interface AttachOptions {
  /** Power the board on once the console listens (and off on leaving). */
  powerOn: boolean;
  /** How long to wait for a board another run holds (or for a free one of a pool), seconds. */
  waitS: number;
  /** Where the transcript goes: the console's bytes as they arrive, secrets masked. */
  logFile?: string;
  /** Who holds the lease, as `hil lab status` and a refused run say it. */
  holder: string;
  input: KeyInput;
  output: NodeJS.WritableStream;
  /** The command's own lines (stderr): never mixed into the board's bytes. */
  tell: (msg: string) => void;
}

/** The port, with every byte it reads also handed to `also` (the terminal). */
function tapped(port: ConsolePort, also: (chunk: Buffer) => void): ConsolePort {
  return {
    name: port.name,
    write: (data) => port.write(data),
    onData: (fn) =>
      port.onData((chunk) => {
        fn(chunk);
        also(chunk);
      }),
    onLost: (fn) => port.onLost(fn),
    onNote: port.onNote && ((fn) => port.onNote!(fn)),
    onAway: port.onAway && ((fn) => port.onAway!(fn)),
    close: () => port.close(),
    setBaud: port.setBaud && ((baud) => port.setBaud!(baud)),
  };
}

interface Ending {
  code: number;
  why: string;
}

/** Takes the board, attaches the terminal to its console until it is left; the exit status. */
export async function attachConsole(board: Board, o: AttachOptions): Promise<number> {
  const stop = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) {
      o.tell(`${sig} again: exiting now`);
      process.exit(EXIT.interrupted);
    }
    stop.abort(new Interrupted(sig));
  };
  const sigs = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const sig of sigs) process.on(sig, onSignal);
  try {
    const { isLabBoard } = await import('../drivers/board.js');
    let lease: import('../lab/lease.js').Lease | undefined;
    if (isLabBoard(board)) {
      const { Lease, leaseStoreOf } = await import('../lab/lease.js');
      try {
        lease = await Lease.acquire(board.name, {
          run: o.holder,
          waitS: o.waitS,
          log: o.tell,
          signal: stop.signal,
          store: leaseStoreOf(board),
        });
      } catch (e) {
        if (stop.signal.aborted) {
          o.tell(
            `${(stop.signal.reason as Error).message} while waiting for board ${board.name}; the board was not touched`,
          );
          return EXIT.interrupted;
        }
        const kind = kindOf(e);
        if (kind !== 'lab' && kind !== 'config') throw e;
        o.tell(`${kind === 'lab' ? 'lease: ' : ''}${(e as Error).message}; the board was not touched`);
        return kind === 'lab' ? EXIT.error : EXIT.config;
      }
    }
    try {
      return await attached(board, o, stop.signal);
    } finally {
      await lease?.release();
      if (board.lab_host) (await import('../remote/lab-host.js')).LabHost.closeAll();
    }
  } finally {
    for (const sig of sigs) process.off(sig, onSignal);
  }
}

/** The console session itself, with the board held. */
async function attached(board: Board, o: AttachOptions, stopped: AbortSignal): Promise<number> {
  // The drivers' own files (power.log, the virtual board's SD card and TFTP folder) go to a
  // folder of this session's, removed on leaving (a killed console's, by the next one); when
  // the board could not be reached, what power.log says is told first.
  for (const name of sweepLeftovers(os.tmpdir(), 'hil-console-'))
    o.tell(`removed ${name}: the folder of a console that was killed`);
  const work = mkdtempSync(path.join(os.tmpdir(), `hil-console-${owner()}-`));
  // The transcript is written as it arrives, as every transcript is (runner/console/
  // transcript.ts masks secrets); its raw bytes go to --log through a link in that folder.
  if (o.logFile) symlinkSync(o.logFile, path.join(work, 'console.log'));
  const transcript = new Transcript(work);
  // What the drivers wait on: Ctrl-C while starting; nothing may cut the way out short.
  let phase = stopped;
  const ctx = { board, log: o.tell, signal: () => phase, outDir: work };
  const powerKind = driver('power', board.power.kind)!;
  const power: Power = powerKind.create(board.power.settings as never, {
    ...ctx,
    logFile: path.join(work, 'power.log'),
    vars: {},
    pool: { waitS: o.waitS },
  });
  // With --power-on the board is switched off on every way out, even when power-on failed
  // half way (as a run does); a pool's session is given back whatever happened.
  const offAtEnd = o.powerOn || Boolean(powerKind.arbitrates);
  let notOurs = false;
  let con: Console | undefined;
  let raw = false;
  const restore = () => {
    if (raw) o.input.setRawMode?.(false);
    raw = false;
  };
  process.on('exit', restore);

  let end!: (e: Ending) => void;
  const ended = new Promise<Ending>((resolve) => (end = resolve));
  const onStop = () => end({ code: EXIT.interrupted, why: (stopped.reason as Error)?.message ?? 'interrupted' });
  stopped.addEventListener('abort', onStop, { once: true });

  // What was typed goes to the board in order; a write that fails is the console lost.
  let typing: Promise<void> = Promise.resolve();
  const keys = (chunk: Buffer | string) => {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const at = b.indexOf(LEAVE_KEY);
    const send = at >= 0 ? b.subarray(0, at) : b;
    if (send.length && con) {
      const c = con;
      typing = typing
        .then(() => c.write(send))
        .catch((e: Error) => end({ code: EXIT.error, why: `writing to the console ${c.name} failed: ${e.message}` }));
    }
    if (at >= 0) end({ code: EXIT.pass, why: 'Ctrl-]' });
  };
  const inputEnded = () => end({ code: EXIT.pass, why: 'the end of the input' });
  const outputGone = () => end({ code: EXIT.pass, why: 'the output was closed' });

  let result: Ending | undefined;
  let reached = false;
  /** The last byte the board printed: on a terminal, our last line starts on a line of its own. */
  let lastByte = 0x0a;
  try {
    try {
      stopped.throwIfAborted();
      const at = await power.attach();
      transcript.note(`console ${board.console.kind}${at.consolePath ? ` ${at.consolePath}` : ''}`);
      const port = await driver('console', board.console.kind)!
        .open(board.console.settings as never, { ...ctx, consolePath: at.consolePath })
        .catch((e: unknown) => {
          // A console someone else has open: the board is theirs, never switched off.
          if ((e as { busy?: boolean }).busy) notOurs = true;
          throw e;
        });
      o.output.on('error', outputGone);
      con = new Console(
        tapped(port, (chunk) => {
          if (chunk.length) lastByte = chunk[chunk.length - 1];
          o.output.write(chunk);
        }),
        transcript,
      );
      const c = con;
      c.lostSignal.addEventListener(
        'abort',
        () => end({ code: EXIT.error, why: (c.lostSignal.reason as Error).message }),
        { once: true },
      );
      o.tell(
        `${board.name}: console ${c.name}${at.pids?.length ? ` (processes ${at.pids.join(' ')})` : ''}` +
          `${o.powerOn ? '; powering on' : ''}; Ctrl-] leaves` +
          `${o.logFile ? `; transcript in ${shown(o.logFile)}` : ''}`,
      );
      if (o.powerOn) {
        transcript.note('power on');
        await power.on();
      }
      reached = true;
      if (o.input.isTTY && o.input.setRawMode) {
        o.input.setRawMode(true);
        raw = true;
      }
      o.input.on('data', keys);
      o.input.once('end', inputEnded);
      o.input.resume();
      result = await ended;
    } catch (e) {
      if (stopped.aborted)
        result = { code: EXIT.interrupted, why: (stopped.reason as Error)?.message ?? 'interrupted' };
      else if (kindOf(e) === 'lab' || kindOf(e) === 'config')
        result = { code: kindOf(e) === 'lab' ? EXIT.error : EXIT.config, why: redact((e as Error).message) };
      else throw e;
    }
  } finally {
    // The way out: nothing below is cut short by the signal that ended the session.
    phase = new AbortController().signal;
    stopped.removeEventListener('abort', onStop);
    o.input.off('data', keys);
    o.input.off('end', inputEnded);
    o.input.pause();
    restore();
    process.off('exit', restore);
    await typing;
    const step = async (what: string, fn: () => Promise<unknown> | undefined) => {
      try {
        await fn();
        if (what === 'power off') transcript.note(what);
      } catch (e) {
        const msg = redact((e as Error).message);
        transcript.note(`${what} failed: ${msg}`);
        o.tell(`warning: ${what} failed: ${msg}`);
      }
    };
    await step('console close', () => con?.close());
    if ((o.output as { isTTY?: boolean }).isTTY && lastByte !== 0x0a) o.output.write('\n');
    if (offAtEnd && !notOurs) await step('power off', () => power.off());
    o.output.off('error', outputGone);
    transcript.close();
    if (result && !reached && result.code !== EXIT.interrupted) {
      let said = '';
      try {
        said = readFileSync(path.join(work, 'power.log'), 'utf8').trimEnd().split('\n').slice(-20).join('\n');
      } catch {
        // nothing was switched
      }
      if (said) o.tell(`power.log:\n${said}`);
    }
    rmSync(work, { recursive: true, force: true });
  }
  const powerSaid =
    offAtEnd && !notOurs
      ? powerKind.arbitrates
        ? 'its pool session given back'
        : 'board powered off'
      : 'power untouched';
  o.tell(`${result.code === EXIT.pass ? 'left' : reached ? 'ended' : 'not attached'}: ${result.why}; ${powerSaid}`);
  return result.code;
}
