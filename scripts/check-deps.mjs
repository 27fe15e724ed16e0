#!/usr/bin/env node
// `npm run deps`: dependency-cruiser's verdict on the rules in .dependency-cruiser.cjs (no
// import cycle between files; config/ loading no driver, lab or USB code), and one rule it
// cannot say: no cycle between the folders of runner/ either. Folders are the rooms a
// newcomer reads (config reads files, remote reaches lab hosts, drivers use remote, lab
// keeps leases and health, job runs the actions, lifecycle runs a job on a leased board,
// cli prints); a folder that imports, however indirectly, a folder that imports it has no
// place in that order. Reads depcruise's JSON on stdin.
import { readFileSync } from 'node:fs';

const cruise = JSON.parse(readFileSync(0, 'utf8'));
const out = [];
for (const v of cruise.summary.violations) out.push(`${v.rule.name}: ${v.from} -> ${v.to}${v.cycle ? ` (cycle: ${v.cycle.map((c) => c.name ?? c).join(' -> ')})` : ''}`);

const folderOf = (f) => /^runner\/([^/]+)\//.exec(f)?.[1];
const edges = new Map(); // folder -> Map(folder -> first file pair seen)
for (const m of cruise.modules) {
  const a = folderOf(m.source);
  if (!a) continue;
  for (const d of m.dependencies) {
    const b = folderOf(d.resolved);
    if (!b || a === b) continue;
    if (!edges.has(a)) edges.set(a, new Map());
    if (!edges.get(a).has(b)) edges.get(a).set(b, `${m.source} -> ${d.resolved}`);
  }
}
const reaches = (from, to) => {
  const seen = new Set([from]);
  const todo = [from];
  while (todo.length) {
    for (const next of edges.get(todo.pop())?.keys() ?? []) {
      if (next === to) return true;
      if (!seen.has(next)) todo.push(seen.add(next) && next);
    }
  }
  return false;
};
for (const [a, tos] of [...edges].sort()) {
  for (const [b, why] of [...tos].sort()) if (reaches(b, a)) out.push(`folder-cycle: runner/${a}/ imports runner/${b}/ (${why}), and runner/${b}/ reaches back to runner/${a}/`);
}
if (out.length) {
  for (const l of out) process.stderr.write(`deps: ${l}\n`);
  process.stderr.write(`deps: ${out.length} import rule(s) broken: move the shared part to the folder both may import (docs/architecture.md lists the folders in order)\n`);
  process.exit(1);
}
process.stdout.write(`deps: no import cycle between files or folders, config/ loads no driver (${cruise.summary.totalCruised} modules, ${edges.size} folders)\n`);
