// 2. Power: the power driver attaches (the virtual board's QEMU starts paused), the console
//    driver opens the port with the transcript streaming to disk, then the board is
//    switched on: not one byte of the banner or the autoboot countdown is missed.
import type { Action } from './action.js';

export const power: Action = {
  name: 'power',
  description: 'power the board on, its console listening',
  onTimeout: 'error',
  waitingFor: 'the board did not power on with its console open',
  applies: () => true,
  // The power command, and a USB-UART that reappears after power-on; and a board switched
  // off a moment ago (the last case) kept off for its cycle_delay first.
  timeoutS: (run) => {
    const b = run.session.board;
    return (
      b.timeouts.power +
      Number(b.console.settings.appear_timeout ?? 0) +
      b.timeouts.power +
      Number(b.power.settings.cycle_delay ?? 0)
    );
  },
  run: (run) => run.session.powerOn(),
};
