// A history record: one case run, as the history keeps it (runner/history/ stores them in a
// database; JSON lines, one record a line, are the exchange format of `hil history import`
// and `export`). A record from a file is checked before it is stored: a history that takes
// "yesterday" as a date, or a record with no board, misleads every report after it.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Verdict } from '../errors.js';
import { VERDICTS } from '../errors.js';
import { BOOT_PHASES, type CaseResult, type RunResult } from './results.js';

export interface HistoryRecord {
  /** `<board>/<suite>/<started>`: a run records each case once. */
  run_id: string;
  started: string;
  board: string;
  soc?: string;
  suite: string;
  case: string;
  guest: string;
  /** Digest of the case's configuration (case file, build config, VM configs): a
   * regression is only a regression against the same configuration. */
  config: string;
  /** The images the run used, by role, with their SHA-256. */
  images: { role: string; file: string; sha256: string }[];
  /** The build under test (runner/build/identity.ts): what the release gate, compare and
   * bisect ask about. */
  build?: string;
  /** Older records' name for the build; read as `build` when that is missing. */
  hypervisor?: string;
  verdict: Verdict;
  reason: string;
  phase?: string;
  phases: Record<string, number>;
  /** Power-on to the hand-off to the guest, seconds. */
  boot_s?: number;
  transfers: { role: string; method: string; bytes: number; seconds: number; bytes_per_s: number }[];
  vms?: { id: number; name: string; verdict: Verdict }[];
  /** The guest's own test records: case_id and status. */
  records?: { case_id: string; status: string }[];
  /** The guest's metric lines, as name -> number (the last value when printed twice). */
  metrics?: Record<string, number>;
  /** The run's folder, when it still exists where it was written. */
  run_dir?: string;
  /** The case's folder inside the run's folder (its console.log). */
  transcript?: string;
  /** The n-th run of the case in this run, when lab errors made it run again. */
  attempt?: number;
  /** On the last run of a case: how many earlier runs ended as lab errors. */
  retried?: number;
}

export function recordOf(run: RunResult, c: CaseResult, runDir?: string): HistoryRecord {
  const booted = c.phases.boot !== undefined;
  return {
    run_id: `${run.board}/${run.suite}/${run.started}`,
    started: c.started,
    board: run.board,
    soc: run.soc,
    suite: run.suite,
    case: c.name,
    guest: c.guest ?? c.name,
    config: c.config ?? '',
    images: c.images ?? [],
    // Results written before builds were first-class said `hypervisor`.
    build: run.build?.id ?? (run as { hypervisor?: string }).hypervisor,
    verdict: c.verdict,
    reason: c.reason,
    phase: c.phase,
    phases: c.phases as Record<string, number>,
    boot_s: booted ? Math.round(BOOT_PHASES.reduce((s, p) => s + (c.phases[p] ?? 0), 0) * 1000) / 1000 : undefined,
    transfers: c.transfers.map((t) => ({
      role: t.role,
      method: t.method,
      bytes: t.bytes,
      seconds: t.seconds,
      bytes_per_s: t.bytes_per_s,
    })),
    vms: c.vms?.map((v) => ({ id: v.id, name: v.name, verdict: v.verdict })),
    records: c.records?.map((r) => ({ case_id: r.case_id, status: r.status })),
    metrics: c.metrics?.length ? Object.fromEntries(c.metrics.map((m) => [m.name, m.value])) : undefined,
    run_dir: runDir,
    transcript: c.transcript,
    attempt: c.attempt && c.attempt > 1 ? c.attempt : undefined,
    retried: c.attempts?.length || undefined,
  };
}

/** The digest of a configuration made of these files (missing files count as empty). */
export function configDigest(files: string[]): string {
  const h = createHash('sha256');
  for (const f of files) h.update(existsSync(f) ? readFileSync(f) : '').update('\0');
  return h.digest('hex').slice(0, 12);
}

/** A record larger than this is refused: one 8 MB record made a 39 MB report page. */
export const MAX_RECORD_BYTES = 64 * 1024;
/** A reason longer than this is cut (a whole console pasted into an error). */
const MAX_REASON = 2000;

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/;

/** An ISO 8601 time with its zone, that exists on the calendar, and is not in the future. */
function isoTime(s: string, ctx: z.RefinementCtx): string {
  const m = ISO.exec(s);
  const t = Date.parse(s);
  const [, y, mo, d, h, mi, sec] = m ?? [];
  const real =
    m &&
    !Number.isNaN(t) &&
    Number(mo) >= 1 &&
    Number(mo) <= 12 &&
    Number(d) >= 1 &&
    Number(d) <= new Date(Date.UTC(Number(y), Number(mo), 0)).getUTCDate() &&
    Number(h) < 24 &&
    Number(mi) < 60 &&
    Number(sec ?? 0) < 60;
  if (!real) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: `"${s.slice(0, 40)}" is not a time (give ISO 8601 with its zone: 2026-11-01T02:00:00Z)`,
    });
    return z.NEVER;
  }
  if (t > Date.now() + 86_400_000) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${s} is in the future` });
    return z.NEVER;
  }
  return new Date(t).toISOString();
}

const name = z.string().trim().min(1).max(200);
const recordSchema = z
  .object({
    run_id: z.string().min(1).max(500),
    started: z.string().transform(isoTime),
    board: name,
    soc: z.string().max(200).optional(),
    suite: z.string().max(500).default(''),
    case: z.string().trim().min(1).max(500),
    guest: z.string().max(200).optional(),
    config: z.string().max(200).default(''),
    images: z.array(z.object({ role: z.string(), file: z.string(), sha256: z.string() }).passthrough()).default([]),
    build: z.string().trim().min(1).max(200).optional(),
    hypervisor: z.string().max(200).optional(),
    verdict: z.enum(VERDICTS as unknown as [Verdict, ...Verdict[]]),
    reason: z
      .string()
      .default('')
      .transform((r) =>
        r.length > MAX_REASON ? `${r.slice(0, MAX_REASON)}... (${r.length - MAX_REASON} more characters)` : r,
      ),
    phase: z.string().max(100).optional(),
    phases: z.record(z.number()).default({}),
    boot_s: z.number().finite().nonnegative().optional(),
    transfers: z.array(z.object({}).passthrough()).default([]),
    vms: z.array(z.object({ id: z.number(), name: z.string(), verdict: z.string() }).passthrough()).optional(),
    records: z.array(z.object({ case_id: z.string(), status: z.string() }).passthrough()).optional(),
    metrics: z.record(z.number().finite()).optional(),
    run_dir: z.string().optional(),
    transcript: z.string().optional(),
    attempt: z.number().int().positive().optional(),
    retried: z.number().int().nonnegative().optional(),
  })
  .passthrough();

/** A record read from a file or a run folder, checked: the record as stored, or why not. */
export function checkRecord(raw: unknown): { record: HistoryRecord } | { error: string } {
  const bytes = JSON.stringify(raw)?.length ?? 0;
  if (bytes > MAX_RECORD_BYTES) return { error: `a record of ${bytes} bytes (at most ${MAX_RECORD_BYTES})` };
  const r = recordSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    return { error: `${i.path.join('.') || 'record'}: ${i.message}` };
  }
  const rec = r.data as unknown as HistoryRecord;
  rec.guest ??= rec.case;
  rec.build ??= rec.hypervisor || undefined;
  delete rec.hypervisor;
  return { record: rec };
}
