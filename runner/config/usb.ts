// A board file's [usb] table, read with the board (config/board.ts); runner/usb/ uses it.
import { z } from 'zod';

/** Rockchip's USB vendor id (a board in maskrom or loader mode). */
export const ROCKCHIP_VID = 0x2207;

/** A board file's [usb] table: where the board's USB is, and how to bring it up from maskrom. */
export const boardUsbSchema = z
  .object({
    vid: z.number().int().default(ROCKCHIP_VID),
    /** The chip's product id (RK3568 0x350a, RK3588 0x350b). */
    pid: z.number().int(),
    /** The USB port path (`1-2.3`, as in /sys/bus/usb/devices) when two boards match. */
    usb_path: z.string().optional(),
    /** The Rockchip loader file (rkbin's *_spl_loader_*.bin) for a board in maskrom. */
    loader: z.string().optional(),
    /** Storage to write (rkdeveloptool's cs numbers: 1 eMMC, 2 SD, 9 SPI NOR). */
    storage: z.number().int().optional(),
    /** Recovery: what to write when the board fails its health check (its U-Boot broken by a
     * bad build), before a run gives up on it; with `loader` for a board that falls back to
     * maskrom. */
    recover: z
      .array(z.object({ image: z.string().min(1), lba: z.number().int().nonnegative() }).strict())
      .min(1)
      .optional(),
    /** A shell command that puts the board into maskrom (a relay on its recovery key, then a
     * power cycle), run before recovery. */
    maskrom_cmd: z.string().min(1).optional(),
    /** Recovery also writes the loader itself at sector 64 as the boot ROM's ID block
     * (rkdeveloptool's `ul`), before the `recover` images. */
    write_loader: z.boolean().default(false),
  })
  .strict()
  .refine((u) => !u.write_loader || u.loader, {
    message: 'write_loader needs loader: the loader file to write',
    path: ['write_loader'],
  });
