// The virtual board's console: the pty QEMU reports when it starts (its PL011 UART). A pty
// has no line speed and no modem lines, so the speed is only recorded.
import { z } from 'zod';
import { LabError } from '../../errors.js';
import { defineConsole } from '../registry.js';
import { openSerial } from './serial.js';

export const ptyConsole = defineConsole({
  kind: 'pty',
  summary: "the pty a power driver reports (the virtual board's QEMU)",
  settings: z.object({ baud: z.number().int().positive().default(115200) }).strict(),
  // async: a missing path is a rejected promise like every other failure to open.
  open: async (s, ctx) => {
    if (!ctx.consolePath)
      throw new LabError(
        'console',
        `console kind "pty" needs a power driver that reports a pty (power.kind = "qemu"); board ${ctx.board.name} has ${ctx.board.power.kind}`,
      );
    return openSerial(ctx.consolePath, s.baud, {
      appearS: 1,
      reappearS: ctx.board.console.reattach_timeout ?? 0,
      signal: ctx.signal(),
    });
  },
});
