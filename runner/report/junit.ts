// JUnit XML for CI dashboards. Lab errors are <error>, failures and timeouts <failure>,
// so a dashboard keeps "the lab broke" apart from "the hypervisor broke", as KernelCI does.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RunResult } from './results.js';

const esc = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!)
    // XML 1.0 forbids most control characters; consoles print them.
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

export function toJUnit(run: RunResult): string {
  const suiteName = `${run.board}.${run.suite}`;
  const failures = run.counts.fail + run.counts.timeout;
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="hil" tests="${run.cases.length}" failures="${failures}" errors="${run.counts.error}" time="${run.duration_s.toFixed(3)}">`,
    `  <testsuite name="${esc(suiteName)}" tests="${run.cases.length}" failures="${failures}" errors="${run.counts.error}" skipped="0" time="${run.duration_s.toFixed(3)}" timestamp="${run.started}">`,
  ];
  for (const c of run.cases) {
    out.push(`    <testcase classname="${esc(suiteName)}" name="${esc(c.name)}" file="${esc(c.file)}" time="${c.phases.total.toFixed(3)}">`);
    if (c.verdict === 'error') out.push(`      <error type="lab-error" message="${esc(c.reason)}"/>`);
    else if (c.verdict !== 'pass') out.push(`      <failure type="${c.verdict}" message="${esc(c.reason)}"/>`);
    const body = [
      `verdict: ${c.verdict}${c.reason ? ` (${c.reason})` : ''}`,
      `phases: ${Object.entries(c.phases).map(([k, v]) => `${k} ${v!.toFixed(2)} s`).join(', ')}`,
      ...(c.transcript ? [`transcript: ${c.transcript}/console.log`] : []),
      ...(c.verdict !== 'pass' && c.last_lines.length ? ['last console lines:', ...c.last_lines] : []),
    ];
    out.push(`      <system-out>${esc(body.join('\n'))}</system-out>`, '    </testcase>');
  }
  out.push('  </testsuite>', '</testsuites>', '');
  return out.join('\n');
}

export function writeJUnit(outDir: string, run: RunResult): string {
  const file = path.join(outDir, 'junit.xml');
  writeFileSync(file, toJUnit(run));
  return file;
}
