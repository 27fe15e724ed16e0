// 3. U-Boot: interrupt the autoboot (the countdown key, or Ctrl-C from power-on until a
//    prompt shows, ostool's way), resynchronise with a marked command, then the board's
//    init commands and the case's uboot_cmd (ostool runs them right at the prompt, before
//    anything is loaded; with nothing to load, the last of them boots: see 60-boot.ts).
import type { Action } from './action.js';

/** The case's uboot_cmd that run here (all of them when an image is loaded afterwards). */
export const preBootCommands = (run: Parameters<Action['run']>[0]): string[] => {
  const cmds = run.plan?.case.ubootCmd ?? [];
  return run.plan?.imageSource === 'board-storage' ? cmds.slice(0, -1) : cmds;
};

export const uboot: Action = {
  name: 'uboot',
  description: 'reach the U-Boot prompt',
  onTimeout: 'error',
  waitingFor: 'no usable U-Boot prompt',
  applies: () => true,
  timeoutS: (run) => {
    const t = run.session.board.timeouts;
    const n = run.session.board.uboot.init_cmds.length + preBootCommands(run).length + 1;
    const u = run.session.board.uboot;
    return u.attempts * (t.uboot + t.power) + n * (t.command + t.prompt);
  },
  async run(run) {
    const u = run.session.uboot;
    await u.interrupt();
    for (const cmd of run.session.board.uboot.init_cmds) await u.run(cmd);
    for (const cmd of preBootCommands(run)) await u.run(cmd);
    run.session.log(`U-Boot prompt after ${run.session.transcript.elapsed().toFixed(2)} s`);
  },
};
