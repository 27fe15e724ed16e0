// Power through the lab's commands run on the lab host the board is wired to (its relay
// script, its PDU client), over SSH: the board file's [lab_host] says how to get there.
// The same settings and rules as the local shell kind: output in power.log with secrets
// masked, a non-zero exit or a timeout a lab error naming the command and the host.
import { kindOf, LabError } from '../../errors.js';
import { labHostOf, shq } from '../../lab/lab-host.js';
import { definePower } from '../registry.js';
import { ShellPower, shellSettings } from './shell.js';

export const sshPower = definePower({
  kind: 'ssh',
  summary: "the lab's commands run on the [lab_host] over SSH: on, off, reset",
  settings: shellSettings,
  create: (s, ctx) => {
    const host = labHostOf(ctx.board, 'power kind "ssh"');
    // HIL_BOARD is set on the lab host as here (the session's environment, not sshd's).
    return new ShellPower(
      s,
      ctx,
      async (cmd, timeoutS, env) => {
        const prefix = Object.entries(env)
          .map(([k, v]) => `${k}=${shq(v)}`)
          .join(' ');
        return host.exec(`${prefix ? `export ${prefix}; ` : ''}${cmd}`, timeoutS).catch((e: Error) => {
          throw kindOf(e) ? e : new LabError('power', `${host}: ${e.message}`);
        });
      },
      ` on ${host}`,
    );
  },
});
