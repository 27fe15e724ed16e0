// `hil console -b BOARD [--power-on] [--wait 10m] [--log FILE]`: the board's console on
// this terminal, with the board held as a run holds it (runner/lifecycle/attach.ts). What is
// wrong with the flags or the board file is told before the board is touched (exit 3).
import { statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBoard } from '../drivers/board.js';
import { redact } from '../config/env.js';
import { makeDirs, shown } from '../config/paths.js';
import { ConfigError } from '../errors.js';
import { attachConsole } from '../lifecycle/attach.js';
import { waitSeconds } from './run.js';

interface ConsoleFlags {
  board: string;
  powerOn?: boolean;
  wait?: string;
  log?: string;
}

const tell = (msg: string) => process.stderr.write(`hil console: ${redact(msg)}\n`);

export async function consoleCmd(o: ConsoleFlags): Promise<number> {
  const waitS = waitSeconds(o.wait);
  const board = loadBoard(o.board);
  if (board.power.kind === 'qemu' && !o.powerOn)
    throw new ConfigError(
      `board ${board.name} is a QEMU board: its console exists only while its QEMU runs, which power-on starts: give --power-on`,
    );
  const logFile = o.log === undefined ? undefined : logFileOf(o.log);
  return attachConsole(board, {
    powerOn: Boolean(o.powerOn),
    waitS,
    logFile,
    holder: `hil console by ${userName()}`,
    input: process.stdin,
    output: process.stdout,
    tell,
  });
}

/** --log: a file (its folder made if missing), never a folder. */
function logFileOf(given: string): string {
  const file = path.resolve(given);
  let isDir = false;
  try {
    isDir = statSync(file).isDirectory();
  } catch {
    // a new file
  }
  if (isDir) throw new ConfigError(`--log ${shown(file)} is a folder: give a file for the transcript`);
  try {
    makeDirs(path.dirname(file));
  } catch (e) {
    throw new ConfigError(
      `--log ${shown(file)}: cannot make its folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  return file;
}

function userName(): string {
  try {
    return os.userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? '?'}`;
  }
}
