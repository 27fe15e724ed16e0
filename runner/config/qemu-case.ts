// A QEMU case in the TGOSKits format (test-suit/axvisor/normal/qemu/smoke/*.toml): the QEMU
// arguments (which may contain ${workspace}) and the same patterns as a board case. Here it
// is how a guest's QEMU baseline is taken.
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { expandEnvDeep } from './env.js';
import { projectRoot, shown } from './paths.js';
import { translateAll, type Pattern } from './regex.js';
import { readToml, validate } from './toml.js';

const schema = z.object({
  args: z.array(z.string()).min(1, 'give the QEMU arguments'),
  /** The emulator; TGOSKits' files leave it to the target (aarch64 here). */
  qemu: z.string().default('qemu-system-aarch64'),
  success_regex: z.array(z.string()).min(1),
  fail_regex: z.array(z.string()).default([]),
  shell_prefix: z.string().min(1).optional(),
  shell_init_cmd: z.string().min(1).optional(),
  timeout: z.number().nonnegative().default(120),
}).passthrough();

export interface QemuCase {
  file: string;
  qemu: string;
  args: string[];
  success: Pattern[];
  fail: Pattern[];
  shellPrefix?: string;
  shellInitCmd?: string;
  timeout: number;
  /** Files the arguments name (kernel, initrd, dtb...): their digests go into the baseline. */
  images: string[];
}

/** Whether a parsed TOML is a QEMU case (it has QEMU arguments) rather than a board case. */
export const isQemuCaseDoc = (doc: Record<string, unknown>) => Array.isArray(doc.args);

export function loadQemuCase(file: string, env: NodeJS.ProcessEnv = process.env): QemuCase {
  const where = shown(file);
  const workspace = env.HIL_WORKSPACE ?? projectRoot;
  const doc = expandEnvDeep(readToml(file), where, env);
  const c = validate(schema, doc, where);
  const args = c.args.map((a) => a.replaceAll('${workspace}', workspace));
  const images = args.filter((a, i) => ['-kernel', '-initrd', '-dtb', '-bios'].includes(args[i - 1] ?? '')).map((a) => path.resolve(path.dirname(file), a));
  if (args.includes('-daemonize')) throw new ConfigError(`${where}: args: -daemonize would detach QEMU from the runner`);
  return {
    file, qemu: c.qemu, args, timeout: c.timeout, images,
    success: translateAll(c.success_regex, `${where}: success_regex`),
    fail: translateAll(c.fail_regex, `${where}: fail_regex`),
    shellPrefix: c.shell_prefix, shellInitCmd: c.shell_init_cmd,
  };
}
