// Completion markers (labgrid's trick): the command line carries `echo 'ab''cd'-$?`, the
// shell prints `abcd-0`. The echoed command never contains the joined marker, so only the
// real completion matches, and the exit status comes with it. Works in U-Boot's hush and
// in POSIX shells alike.
import { randomBytes } from 'node:crypto';

export interface Marker {
  /** The command line to type: the command followed by the marker echo. */
  line: string;
  /** Matches the marker line; group 1 is the exit status. */
  done: RegExp;
}

export function withMarker(cmd: string): Marker {
  const nonce = randomBytes(4).toString('hex');
  return {
    line: `${cmd}; echo '${nonce.slice(0, 4)}''${nonce.slice(4)}'-$?`,
    done: new RegExp(`^${nonce}-(\\d+)\\s*$`),
  };
}

/** The output lines of a marked command: what came before the marker, minus the echo. */
export function outputOf(before: string[], line: string): string[] {
  const echo = before.findIndex((l) => l.endsWith(line));
  if (echo >= 0) return before.slice(echo + 1);
  // The echo was taken as it was typed (the line was checked before Enter): what is left
  // of that line when it completes is empty, and is no output.
  return before[0] === '' ? before.slice(1) : before;
}
