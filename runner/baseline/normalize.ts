// Normalisation: what makes two runs of the same guest comparable. Each rule is data (a
// Rust-syntax pattern and its replacement, or a pattern of lines to set aside), so a suite
// can add its own; the defaults cover Linux, ArceOS and Axvisor output: timestamps,
// addresses and hex ids, dates, MAC addresses, and run-to-run noise such as memory totals.
import { RustRegex } from '../config/regex.js';

export { CPU_RULES, DEFAULT_RULES, type NormalizeRule } from '../config/normalize-rules.js';
import type { NormalizeRule } from '../config/normalize-rules.js';

/** The normalised line, or null when the line is set aside. */
export type Normalizer = (line: string) => string | null;

export function normalizer(rules: NormalizeRule[], where: string): Normalizer {
  const compiled = rules.map((r, i) => ({ re: RustRegex.compile(r.match, `${where}[${i}]`), replace: r.replace }));
  return (line) => {
    let out = line.trimEnd();
    for (const r of compiled) {
      if (!r.re.test(out)) continue;
      if (r.replace === undefined) return null;
      out = r.re.replaceAll(out, r.replace);
    }
    return out.length ? out : null;
  };
}
