// A shell command run here (runner/remote/command.ts): its output is read to the end, even
// when the process's exit is seen before the last of it (a driver reading a device's state
// from half of its report decides wrong: uhubctl's "Port 2: 0100 power" cut off read as off).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runCommand } from '../../runner/remote/command.js';
import { tmpDir, until } from '../helpers.js';

describe('a shell command run here', () => {
  it('its whole output, every time: the last 60 kB written just before exit are never lost', async () => {
    // The pipe holds up to 64 KiB, so all of it is still in the pipe as the process exits;
    // before the fix about one run in twenty came back short.
    const short: number[] = [];
    for (let i = 0; i < 60; i++) {
      const r = await runCommand("head -c 60000 /dev/zero | tr '\\0' x", 10, {});
      assert.equal(r.code, 0);
      if (r.output.length !== 60000) short.push(r.output.length);
    }
    assert.deepEqual(short, [], 'runs whose output came back short');
  });

  it('a daemon that left the group with the output still open does not hold the command (its end is not waited for)', async () => {
    const pidFile = path.join(tmpDir('hil-cmd-'), 'daemon.pid');
    try {
      // If the command waited for the daemon's end, this would run into mocha's timeout.
      const r = await runCommand(`setsid sh -c 'echo $$ > ${pidFile}; exec sleep 1000' & echo done`, 10, {});
      assert.equal(r.code, 0);
      assert.equal(r.output.trim(), 'done');
    } finally {
      await until(
        () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '',
        'the daemon writing its pid',
      );
      process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    }
  });
});
