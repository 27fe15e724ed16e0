// What preflight finds: one finding per misalignment, naming the file and the key, and
// saying what to do. Errors stop the run before the board is powered (exit 3); warnings
// are printed and kept in results.json.
export interface Finding {
  level: 'error' | 'warning';
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

  get errors(): Finding[] {
    return this.all.filter((f) => f.level === 'error');
  }
}

/** A config error's message without the file name it starts with (the finding names it). */
export const stripFile = (message: string, file: string) => (message.startsWith(file) ? message.slice(file.length).replace(/^:\s*/, '') : message);
