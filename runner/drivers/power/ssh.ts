// Power through the lab's commands run on the lab host the board is wired to (its relay
// script, its PDU client), over SSH: the board file's [lab_host] says how to get there.
// The same settings and rules as the local shell kind: output in power.log with secrets
// masked, a non-zero exit or a timeout a lab error naming the command and the host.
import { defineSwitch } from '../base.js';
import { commandsOnLabHost } from '../../remote/via.js';
import { ShellPower, shellSettings } from './shell.js';

export const sshPower = defineSwitch({
  kind: 'ssh',
  summary: "the lab's commands run on the [lab_host] over SSH: on, off, reset, state",
  notes: 'the same settings and rules as `shell`; `HIL_BOARD` is set there as here',
  settings: shellSettings,
  create: (s, ctx) => {
    // HIL_BOARD is set on the lab host as here (the session's environment, not sshd's).
    const { run, where } = commandsOnLabHost(ctx.board, 'power kind "ssh"');
    return new ShellPower(s, ctx, run, where);
  },
});
