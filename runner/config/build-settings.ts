// A case's `[build]` table (runner/build/tgoskits.ts runs it).
import { z } from 'zod';

/** A case's own `[build]` table: what to run instead of TGOSKits' default. */
export const buildSchema = z
  .object({
    command: z.string().min(1).default('cargo'),
    /** `{config}` is the build config, relative to the workspace. */
    args: z.array(z.string()).optional(),
    /** The image the build writes, relative to the workspace. */
    output: z.string().min(1).optional(),
    timeout: z.number().positive().default(1800),
  })
  .strict();

export type BuildSettings = z.infer<typeof buildSchema>;
