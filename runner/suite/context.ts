// The run a suite belongs to, shared by the runner and by TypeScript specs (which import
// it through runner/suite/api.ts): which board, where output goes, the Ctrl-C signal, and
// the record of the case now running.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Board } from '../config/board.js';
import { PhaseTimeout } from '../errors.js';
import { BoardSession } from '../lab/session.js';
import type { CaseResult } from '../report/results.js';
import { defaultBaselineDir } from '../baseline/store.js';

export interface CaseRecord extends Omit<CaseResult, 'verdict' | 'reason'> {
  session?: BoardSession;
  t0: number;
  deadline?: NodeJS.Timeout;
  /** Set once the case has its verdict (a failing hook must not record it twice). */
  done?: boolean;
}

const slug = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 80) || 'case';

export class RunContext {
  current: CaseRecord | null = null;

  constructor(
    readonly board: Board,
    readonly outDir: string,
    readonly signal: AbortSignal,
    readonly log: (msg: string) => void,
    /** Where QEMU baselines are read from. */
    readonly baselineDir = defaultBaselineDir(),
  ) {}

  begin(name: string, file: string, kind: CaseResult['kind'], warnings: string[] = []): CaseRecord {
    this.current = { name, file, kind, phases: { total: 0 }, transfers: [], last_lines: [], started: new Date().toISOString(), warnings, t0: performance.now() };
    return this.current;
  }

  /** The current case's output folder (transcript, build.log, ...). */
  caseDir(rec = this.current!): string {
    const dir = path.join(this.outDir, slug(rec.name));
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /**
   * Opens the board session of the current case. The case's time limit (seconds, 0 = none)
   * starts now and, when it runs out, ends whatever the case is waiting for as a timeout.
   */
  openSession(timeoutS: number): BoardSession {
    const rec = this.current;
    if (!rec) throw new Error('openSession outside a case');
    if (rec.session) return rec.session;
    const deadline = new AbortController();
    const dir = this.caseDir(rec);
    const session = new BoardSession(this.board, {
      outDir: dir,
      signal: AbortSignal.any([this.signal, deadline.signal]),
      log: (m) => this.log(`  [${rec.name}] ${m}`),
    });
    if (timeoutS > 0) {
      rec.deadline = setTimeout(() => {
        const recent = session.consoleOpen ? session.console.lines.recent() : [];
        deadline.abort(new PhaseTimeout('case', timeoutS, 'timeout', 'no verdict (the case timeout ran out)', recent));
      }, timeoutS * 1000);
    }
    rec.session = session;
    rec.transcript = path.relative(this.outDir, dir);
    return session;
  }

  /** Ends the current case's session: the board is powered off before the verdict is told. */
  async closeSession(rec = this.current): Promise<void> {
    if (!rec?.session) return;
    clearTimeout(rec.deadline);
    rec.last_lines = rec.session.consoleOpen ? rec.session.console.lines.recent(15) : [];
    rec.phases = { ...rec.phases, ...rec.session.phases, total: rec.phases.total };
    rec.transfers = rec.session.transfers;
    await rec.session.close();
  }
}

let active: RunContext | null = null;

export function setRunContext(ctx: RunContext | null): void {
  active = ctx;
}

export function runContext(): RunContext {
  if (!active) throw new Error('no run is active: specs run through `hil run --board B --suite S`');
  return active;
}
