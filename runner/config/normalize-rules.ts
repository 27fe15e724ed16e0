// The rules that make two runs of the same guest comparable, as data a case or suite can
// add to (runner/baseline/normalize.ts applies them). Kept in config/ because a case's
// settings name them: the defaults cover Linux, ArceOS and Axvisor output (timestamps,
// addresses and hex ids, dates, MAC addresses, and run-to-run noise such as memory totals).
export interface NormalizeRule {
  /** Rust-syntax pattern. */
  match: string;
  /** Replacement (`$1`, `${name}` for groups, as Rust's regex crate has them); omitted:
   * the line is set aside. */
  replace?: string;
}

export const DEFAULT_RULES: NormalizeRule[] = [
  // Linux "[    1.234567] " and ArceOS/Axvisor "[  0.123456 0:2 axvisor::vmm] " prefixes.
  { match: '^\\[\\s*\\d+\\.\\d+(?:\\s+\\d+:\\d+)?\\s*[^\\]]*\\]\\s?', replace: '' },
  { match: '\\b\\d{4}-\\d{2}-\\d{2}[ T]\\d{2}:\\d{2}:\\d{2}(?:\\.\\d+)?Z?', replace: '<date>' },
  { match: '(?i)\\b(?:[0-9a-f]{2}:){5}[0-9a-f]{2}\\b', replace: '<mac>' },
  { match: '(?i)0x[0-9a-f]+', replace: '0x<hex>' },
  {
    match: '(?i)\\b[0-9a-f]*\\d[0-9a-f]*[a-f][0-9a-f]*\\b|\\b[0-9a-f]*[a-f][0-9a-f]*\\d[0-9a-f]*\\b',
    replace: '<hex>',
  },
  { match: '\\b\\d{6,}\\b', replace: '<n>' },
  // QEMU's own word when it is ended (older baselines recorded it).
  { match: 'qemu-system-[\\w-]+: terminating on signal \\d+' },
  // Lines whose numbers differ between any two boots.
  {
    match:
      '(?i)^(?:Memory:|random:|BogoMIPS|Calibrating delay|sched_clock:|clocksource:|Console: colour|printk: console)',
  },
  // x86's TSC calibration under emulation: "tsc: Fast TSC calibration failed" on a busy host.
  { match: '^tsc: ' },
];

/** Rules a case can switch on: CPU counts that may differ between QEMU and the board. */
export const CPU_RULES: NormalizeRule[] = [
  { match: '(?i)\\b\\d+ (cpus?|cores?|processors?)\\b', replace: '<n> $1' },
  { match: '(?i)\\b(cpu|cpus?)[ #]?\\d+\\b', replace: '$1<n>' },
];
