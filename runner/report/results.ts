// results.json: what a run decided and why, per case, with phase times and transfer
// figures. Written after every case, so an interrupted run still leaves its results.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Verdict } from '../errors.js';
import type { Phase } from '../lab/session.js';
import type { TransferFigures } from '../transfer/image.js';
import type { BaselineReport } from '../baseline/check.js';
import type { Finding } from '../axvisor/findings.js';
import type { VmResult } from '../guest/vms.js';
import type { DeployFigures } from '../transfer/deploy.js';
import type { BuildResult } from '../axvisor/build.js';

export interface CaseResult {
  name: string;
  file: string;
  kind: 'toml' | 'spec';
  verdict: Verdict;
  reason: string;
  /** The phase in which a non-pass verdict was decided (power, uboot, load, boot, guest, case). */
  phase?: string;
  /** Seconds per phase, and the whole case. */
  phases: Partial<Record<Phase, number>> & { total: number };
  transfers: TransferFigures[];
  /** The success pattern and line that decided a pass. */
  matched?: { pattern: string; line: string };
  /** The last console lines, for a failure read without opening the transcript. */
  last_lines: string[];
  /** Folder of this case's console.log, console.timed.log and power.log (relative to the run). */
  transcript?: string;
  started: string;
  warnings: string[];
  /** The comparison with the case's QEMU baseline, when it has one. */
  baseline?: BaselineReport;
  /** What preflight found about this case (warnings; errors stop the run before it starts). */
  preflight?: Finding[];
  /** The case's build step, when it has one. */
  build?: BuildResult;
  /** Images written to the board's storage, with their figures. */
  deploys?: DeployFigures[];
  /** Each VM of the case's VM configs, with its own verdict. */
  vms?: VmResult[];
  /** What was booted: the guest's name (from the TGOSKits file name board-<board>-<guest>,
   * the VM names, or the case name). */
  guest?: string;
  /** Digest of the case's configuration files (case, build config, VM configs). */
  config?: string;
  /** Every image the case loaded or deployed, with its SHA-256. */
  images?: { role: string; file: string; sha256: string }[];
}

export interface RunResult {
  verdict: Verdict;
  exit_code: number;
  board: string;
  soc?: string;
  suite: string;
  /** The hypervisor's commit or version (hil run --hypervisor, HIL_HYPERVISOR, or the
   * Axvisor workspace's git commit). */
  hypervisor?: string;
  started: string;
  finished?: string;
  duration_s: number;
  counts: Record<Verdict, number>;
  cases: CaseResult[];
  /** Set when preflight stopped the run before the board was powered (exit 3). */
  preflight_errors?: Finding[];
  reason?: string;
}

export function writeResults(outDir: string, run: RunResult): string {
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, 'results.json');
  // Write-then-rename: a reader (or a crash) never sees half a file.
  writeFileSync(`${file}.tmp`, JSON.stringify(run, null, 2) + '\n');
  renameSync(`${file}.tmp`, file);
  return file;
}
