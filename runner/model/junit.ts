// JUnit XML for CI dashboards, a view of the results model. Lab errors are <error>,
// failures and timeouts <failure>, so a dashboard keeps "the lab broke" apart from "the
// hypervisor broke", as KernelCI does; a runner bug is an <error> of its own type. Each of
// the guest's own test records (AXTEST_RESULT) is a testcase of its own, under its case.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RunResult } from './results.js';

const esc = (s: string) =>
  s
    .replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!)
    // XML 1.0 forbids most control characters; consoles print them.
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
    // ... and the non-characters and halves of a character a broken UTF-8 stream leaves.
    .replace(/[\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

export function toJUnit(run: RunResult): string {
  const suiteName = `${run.board}.${run.suite}`;
  const records = run.cases.flatMap((c) => c.records ?? []);
  const failures = run.counts.fail + run.counts.timeout + records.filter((r) => r.status === 'fail').length;
  const errors = run.counts.error + (run.counts.internal ?? 0) + records.filter((r) => r.status === 'error').length;
  const skipped = records.filter((r) => r.status === 'skip').length;
  const tests = run.cases.length + records.length;
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="hil" tests="${tests}" failures="${failures}" errors="${errors}" time="${run.duration_s.toFixed(3)}">`,
    `  <testsuite name="${esc(suiteName)}" tests="${tests}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${run.duration_s.toFixed(3)}" timestamp="${run.started}">`,
  ];
  for (const c of run.cases) {
    out.push(`    <testcase classname="${esc(suiteName)}" name="${esc(c.name)}" file="${esc(c.file)}" time="${c.phases.total.toFixed(3)}">`);
    if (c.verdict === 'error') out.push(`      <error type="lab-error" message="${esc(c.reason)}"/>`);
    else if (c.verdict === 'internal') out.push(`      <error type="runner-bug" message="${esc(c.reason)}"/>`);
    else if (c.verdict !== 'pass') out.push(`      <failure type="${c.verdict}" message="${esc(c.reason)}"/>`);
    const body = [
      `verdict: ${c.verdict}${c.reason ? ` (${c.reason})` : ''}`,
      `phases: ${Object.entries(c.phases)
        .map(([k, v]) => `${k} ${v!.toFixed(2)} s`)
        .join(', ')}`,
      ...(c.transcript ? [`transcript: ${c.transcript}/console.log`] : []),
      // A case that needed another run says so: a flaky lab is seen, not hidden.
      ...(c.attempts ?? []).map(
        (a) => `attempt ${a.attempt} of ${c.attempt}: ${a.verdict}${a.phase ? ` in ${a.phase}` : ''}: ${a.reason} (transcript ${a.transcript}/console.log)`,
      ),
      ...(c.verdict !== 'pass' && c.last_lines.length ? ['last console lines:', ...c.last_lines] : []),
    ];
    out.push(`      <system-out>${esc(body.join('\n'))}</system-out>`, '    </testcase>');
    for (const r of c.records ?? []) {
      out.push(`    <testcase classname="${esc(`${suiteName}.${c.name}`)}" name="${esc(r.case_id)}" time="0">`);
      if (r.status === 'fail') out.push(`      <failure type="guest-record" message="${esc(r.message ?? 'fail')}"/>`);
      else if (r.status === 'error') out.push(`      <error type="guest-record" message="${esc(r.message ?? 'error')}"/>`);
      else if (r.status === 'skip') out.push(`      <skipped message="${esc(r.message ?? 'skip')}"/>`);
      if (r.details !== undefined) out.push(`      <system-out>${esc(JSON.stringify(r.details, null, 1))}</system-out>`);
      out.push('    </testcase>');
    }
  }
  out.push('  </testsuite>', '</testsuites>', '');
  return out.join('\n');
}

export function writeJUnit(outDir: string, run: RunResult): string {
  const file = path.join(outDir, 'junit.xml');
  writeFileSync(file, toJUnit(run));
  return file;
}
