// The `[axvisor]` tables of a case and of a board (runner/axvisor/plan.ts reads what
// they name: the build config, the VM configs, the guest images).
import { z } from 'zod';

/** A TOML integer, as the VM configs write addresses and sizes (a bigint above 2^53). */
export const int = z.union([z.number().int().nonnegative(), z.bigint()]).transform(Number);

/** Where guest images come from: shared by the case's and the board's `[axvisor]`. */
export const guestImageKeys = {
  /** The board's path (a VM's kernel_path, dtb_path, ramdisk_path...) -> a host file. */
  guest_images: z.record(z.string().min(1)).default({}),
  /** Folders searched for a board path's file name (and for the path itself below them). */
  guest_image_dirs: z.array(z.string().min(1)).default([]),
};

export const boardAxvisorSchema = z.object(guestImageKeys).strict();

export const caseAxvisorSchema = z
  .object({
    build_config: z.string().min(1).optional(),
    workspace: z.string().min(1).optional(),
    ...guestImageKeys,
    /** Write `image_location = "fs"` guests to the board's FAT partition before booting.
     * Default: when the case or the board names where the guest images are. */
    deploy: z.boolean().optional(),
    /** Every VM of vm_configs must be created and boot (Axvisor's log says so by id and
     * name). Default: when the build logs at Info or finer (else those lines never print). */
    expect_vms: z.boolean().optional(),
    /** Identity-mapped ranges two VMs may both map on purpose: [[base, size], ...]. */
    shared_regions: z.array(z.tuple([int, int])).default([]),
    vms: z
      .record(
        z
          .object({
            success_regex: z.array(z.string()).default([]),
            fail_regex: z.array(z.string()).default([]),
          })
          .strict(),
      )
      .default({}),
  })
  .strict();

export type CaseAxvisor = z.infer<typeof caseAxvisorSchema>;
export type BoardAxvisor = z.infer<typeof boardAxvisorSchema>;
