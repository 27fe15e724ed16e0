// What preflight finds: one finding per misalignment, naming the file and the key, and
// saying what to do. Errors stop the run before the board is powered (exit 3); warnings
// are printed and kept in results.json.
import type { z } from 'zod';
import { shown } from '../config/paths.js';
import { readToml } from '../config/toml.js';
export interface Finding {
  /** error: stops the run; warning: printed and kept; note: what preflight could not check
   * or the lab must provide (printed by `hil preflight`, kept, not counted). */
  level: 'error' | 'warning' | 'note';
  /** The file the finding is about, as shown to the user. */
  file: string;
  /** The key inside it (`kernel.entry_point`, `vm_configs[1]`), or '' for the whole file. */
  key: string;
  message: string;
}

export const formatFinding = (f: Finding) => `${f.level}: ${f.file}${f.key ? `: ${f.key}` : ''}: ${f.message}`;

/** Collects findings for one file. */
export class FindingList {
  readonly all: Finding[] = [];

  error(file: string, key: string, message: string): void {
    this.all.push({ level: 'error', file, key, message });
  }

  warn(file: string, key: string, message: string): void {
    this.all.push({ level: 'warning', file, key, message });
  }

  note(file: string, key: string, message: string): void {
    this.all.push({ level: 'note', file, key, message });
  }

  get errors(): Finding[] {
    return this.all.filter((f) => f.level === 'error');
  }
}

/** A config error's message without the file name it starts with (the finding names it). */
const stripFile = (message: string, file: string) =>
  message.startsWith(file) ? message.slice(file.length).replace(/^:\s*/, '') : message;

/**
 * Reads a TOML file and validates it; every problem becomes an error finding on that file
 * (`describe` words a schema issue) and the result is undefined.
 */
export function readTomlChecked<S extends z.ZodTypeAny>(
  file: string,
  schema: S,
  findings: FindingList,
  describe: (issue: z.ZodIssue) => string = (i) => i.message,
): z.infer<S> | undefined {
  const where = shown(file);
  let doc: unknown;
  try {
    doc = readToml(file);
  } catch (e) {
    findings.error(where, '', stripFile((e as Error).message, file));
    return undefined;
  }
  const res = schema.safeParse(doc);
  if (res.success) return res.data;
  for (const issue of res.error.issues) findings.error(where, issue.path.join('.'), describe(issue));
  return undefined;
}
