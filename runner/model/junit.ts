// JUnit XML for CI dashboards, a view of the results model. Lab errors are <error>,
// failures and timeouts <failure>, so a dashboard keeps "the lab broke" apart from "the
// hypervisor broke", as KernelCI does; a runner bug is an <error> of its own type. Each of
// the guest's own test records (AXTEST_RESULT) is a testcase of its own, under its case.
// The counts (tests, failures, errors, skipped) are those of the <testcase> elements
// written, each counted once by the outcome element it carries: a case failed by its
// record's failure is one failure as a case and one as that record, as a dashboard that
// reads the elements counts them. The build under test, board and SoC are the suite's
// <properties>.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { redactDeep } from '../config/env.js';
import type { RunResult } from './results.js';

const esc = (s: string) =>
  s
    .replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!)
    // XML 1.0 forbids most control characters; consoles print them.
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    // ... and the non-characters and halves of a character a broken UTF-8 stream leaves.
    .replace(
      /[\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
    );

type Outcome = 'failure' | 'error' | 'skipped' | undefined;

/** One <testcase>: its opening tag, the outcome element it carries, and what follows. */
interface TestCase {
  open: string;
  outcome: Outcome;
  outcomeXml?: string;
  body: string[];
}

/** The suite's <properties>: the build (id, source, commit, dirty, describe), board, SoC. */
function properties(run: RunResult): [string, string | undefined][] {
  const b = run.build;
  return [
    ['build', b?.id],
    ['build.source', b?.source],
    ['build.commit', b?.commit],
    ['build.dirty', b?.dirty === undefined ? undefined : String(b.dirty)],
    ['build.describe', b?.describe],
    ['board', run.board],
    ['soc', run.soc],
    ['suite', run.suite],
  ];
}

function caseElements(run: RunResult, suiteName: string): TestCase[] {
  const out: TestCase[] = [];
  for (const c of run.cases) {
    const outcome: Outcome =
      c.verdict === 'pass' ? undefined : c.verdict === 'error' || c.verdict === 'internal' ? 'error' : 'failure';
    const type = c.verdict === 'error' ? 'lab-error' : c.verdict === 'internal' ? 'runner-bug' : c.verdict;
    const body = [
      `verdict: ${c.verdict}${c.reason ? ` (${c.reason})` : ''}`,
      `phases: ${Object.entries(c.phases)
        .map(([k, v]) => `${k} ${v!.toFixed(2)} s`)
        .join(', ')}`,
      ...(c.transcript ? [`transcript: ${c.transcript}/console.log`] : []),
      // A case that needed another run says so: a flaky lab is seen, not hidden.
      ...(c.attempts ?? []).map(
        (a) =>
          `attempt ${a.attempt ?? 1} of ${c.attempt}: ${a.verdict}${a.phase ? ` in ${a.phase}` : ''}: ${a.reason} (transcript ${a.transcript}/console.log)`,
      ),
      ...(c.verdict !== 'pass' && c.last_lines.length ? ['last console lines:', ...c.last_lines] : []),
    ];
    out.push({
      open: `<testcase classname="${esc(suiteName)}" name="${esc(c.name)}" file="${esc(c.file)}" time="${c.phases.total.toFixed(3)}">`,
      outcome,
      outcomeXml: outcome && `<${outcome} type="${esc(type)}" message="${esc(c.reason)}"/>`,
      body: [`<system-out>${esc(body.join('\n'))}</system-out>`],
    });
    for (const r of c.records ?? []) {
      const ro: Outcome =
        r.status === 'fail' ? 'failure' : r.status === 'error' ? 'error' : r.status === 'skip' ? 'skipped' : undefined;
      out.push({
        open: `<testcase classname="${esc(`${suiteName}.${c.name}`)}" name="${esc(r.case_id)}" time="0">`,
        outcome: ro,
        outcomeXml:
          ro === 'skipped'
            ? `<skipped message="${esc(r.message ?? 'skip')}"/>`
            : ro && `<${ro} type="guest-record" message="${esc(r.message ?? r.status)}"/>`,
        body: r.details !== undefined ? [`<system-out>${esc(JSON.stringify(r.details, null, 1))}</system-out>`] : [],
      });
    }
  }
  return out;
}

export function toJUnit(result: RunResult): string {
  // A secret the guest printed back (in a record's details, a reason) is masked here too.
  const run = redactDeep(result);
  const suiteName = `${run.board}.${run.suite}`;
  const cases = caseElements(run, suiteName);
  const count = (o: Outcome) => cases.filter((c) => c.outcome === o).length;
  const [tests, failures, errors, skipped] = [cases.length, count('failure'), count('error'), count('skipped')];
  const time = run.duration_s.toFixed(3);
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="hil" tests="${tests}" failures="${failures}" errors="${errors}" time="${time}">`,
    `  <testsuite name="${esc(suiteName)}" tests="${tests}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${time}" timestamp="${esc(run.started)}">`,
    '    <properties>',
    ...properties(run)
      .filter(([, value]) => value)
      .map(([name, value]) => `      <property name="${esc(name)}" value="${esc(value!)}"/>`),
    '    </properties>',
  ];
  for (const c of cases)
    out.push(
      `    ${c.open}`,
      ...(c.outcomeXml ? [`      ${c.outcomeXml}`] : []),
      ...c.body.map((b) => `      ${b}`),
      '    </testcase>',
    );
  out.push('  </testsuite>', '</testsuites>', '');
  return out.join('\n');
}

export function writeJUnit(outDir: string, run: RunResult): string {
  const file = path.join(outDir, 'junit.xml');
  writeFileSync(file, toJUnit(run));
  return file;
}
