// A set of line patterns tested together. The guest watch tests every console line against
// every failure and success pattern; called one by one, 20 patterns cost 20 regex calls per
// line, which caps a console stream near 50 MB/s. Patterns with the same flags (after
// translation only i and u remain) are joined into one alternation: a prefilter that
// answers "none of these" in one call for nearly every line. Only on a hit are the patterns run one by one,
// in order, to say which matched first.
import type { Pattern } from '../config/regex.js';

// Joining renumbers groups: patterns with back-references or named groups stay apart.
const NOT_JOINABLE = /\\[1-9]|\\k<|\(\?<[A-Za-z_]/;

export class PatternSet {
  private prefilters: RegExp[] = [];

  constructor(readonly patterns: readonly Pattern[]) {
    const groups = new Map<string, string[]>();
    for (const { re } of patterns) {
      if (NOT_JOINABLE.test(re.source)) {
        this.prefilters.push(re);
        continue;
      }
      const flags = re.flags;
      const list = groups.get(flags) ?? [];
      list.push(`(?:${re.source})`);
      groups.set(flags, list);
    }
    for (const [flags, sources] of groups) this.prefilters.push(new RegExp(sources.join('|'), flags));
  }

  /** The index of the first pattern, in list order, that matches `line`; -1 if none. */
  firstMatch(line: string): number {
    let any = false;
    for (let i = 0; i < this.prefilters.length && !any; i++) any = this.prefilters[i].test(line);
    if (!any) return -1;
    for (let i = 0; i < this.patterns.length; i++) if (this.patterns[i].re.test(line)) return i;
    return -1;
  }
}
