// junit.xml as CI dashboards read it: the counts are those of the <testcase> elements
// written (each by the outcome element it carries), the build under test is the suite's
// <properties>, and whatever a console or a build name holds stays well-formed XML.
import assert from 'node:assert/strict';
import type { Verdict } from '../../runner/errors.js';
import type { GuestRecord } from '../../runner/guest/records.js';
import { toJUnit } from '../../runner/model/junit.js';
import { newRun, settle, type CaseResult, type RunResult } from '../../runner/model/results.js';

interface XmlNode {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Character data as XML 1.0 allows it: no raw control characters, no bare '&' or '<'. */
function chars(s: string, where: string): string {
  const bad =
    /[\x00-\x08\x0b\x0c\x0e-\x1f\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]|&(?!(?:amp|lt|gt|quot|apos);)|</.exec(
      s,
    );
  if (bad) throw new Error(`not well-formed: ${JSON.stringify(bad[0])} in ${where}`);
  return s.replace(/&(amp|lt|gt|quot|apos);/g, (_, e: string) => ENTITIES[e]);
}

/** A minimal XML reader for what toJUnit writes: elements, attributes in double quotes,
 * text; throws on anything not well-formed (unbalanced tags, stray '<' or '&', control
 * characters). */
function parseXml(xml: string): XmlNode {
  const body = xml.replace(/^<\?xml [^?]*\?>\s*/, '');
  const token = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[A-Za-z_][\w.-]*="[^"]*")*)\s*(\/?)>|([^<]+)/y;
  const top: XmlNode = { name: '#document', attrs: {}, children: [], text: '' };
  const stack = [top];
  let m: RegExpExecArray | null;
  let at = 0;
  for (token.lastIndex = 0; at < body.length; at = token.lastIndex) {
    m = token.exec(body);
    if (!m) throw new Error(`not well-formed at ${at}: ${JSON.stringify(body.slice(at, at + 40))}`);
    const [, close, name, attrText, selfClose, text] = m;
    const parent = stack[stack.length - 1];
    if (text !== undefined) {
      parent.text += chars(text, parent.name);
      continue;
    }
    if (close) {
      if (parent.name !== name) throw new Error(`</${name}> closes <${parent.name}>`);
      stack.pop();
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of attrText.matchAll(/([A-Za-z_][\w.-]*)="([^"]*)"/g)) {
      if (a[1] in attrs) throw new Error(`attribute ${a[1]} twice on <${name}>`);
      attrs[a[1]] = chars(a[2], `${name}@${a[1]}`);
    }
    const node: XmlNode = { name, attrs, children: [], text: '' };
    parent.children.push(node);
    if (!selfClose) stack.push(node);
  }
  assert.equal(stack.length, 1, `unclosed <${stack[stack.length - 1].name}>`);
  const roots = top.children;
  assert.equal(roots.length, 1, 'one root element');
  assert.equal(top.text.trim(), '', 'no text outside the root');
  return roots[0];
}

const OUTCOMES = ['failure', 'error', 'skipped'] as const;

/** The suite, its testcases with the outcome element each carries, and its properties. */
function read(xml: string) {
  const root = parseXml(xml);
  assert.equal(root.name, 'testsuites');
  assert.equal(root.children.length, 1);
  const suite = root.children[0];
  assert.equal(suite.name, 'testsuite');
  const cases = suite.children.filter((c) => c.name === 'testcase');
  const outcomes = cases.map((c) => {
    const o = c.children.filter((x) => (OUTCOMES as readonly string[]).includes(x.name));
    assert.ok(o.length <= 1, `testcase ${c.attrs.name} carries ${o.length} outcome elements`);
    return o[0]?.name as (typeof OUTCOMES)[number] | undefined;
  });
  const count = (o: string) => outcomes.filter((x) => x === o).length;
  const props = suite.children.filter((c) => c.name === 'properties');
  assert.ok(props.length <= 1, 'one <properties>');
  if (props.length) assert.equal(suite.children[0], props[0], '<properties> comes before the testcases');
  const properties = Object.fromEntries((props[0]?.children ?? []).map((p) => [p.attrs.name, p.attrs.value]));
  return { root, suite, cases, outcomes, count, properties };
}

const record = (case_id: string, status: GuestRecord['status'], message?: string, details?: unknown): GuestRecord => ({
  case_id,
  status,
  message,
  details,
  at_s: 0.5,
});

function kase(name: string, verdict: Verdict, extra: Partial<CaseResult> = {}): CaseResult {
  return {
    name,
    file: `suites/nightly/${name}.toml`,
    kind: 'toml',
    verdict,
    reason: verdict === 'pass' ? '' : `${name} ended ${verdict}`,
    phase: verdict === 'pass' ? undefined : 'guest',
    phases: { power: 0.2, uboot: 1, guest: 2, total: 3.2 },
    transfers: [],
    last_lines: verdict === 'pass' ? [] : ['last line'],
    started: new Date().toISOString(),
    warnings: [],
    ...extra,
  };
}

/** A night of five cases, each kind of verdict, with guest records of each status. */
function night(build: RunResult['build'], soc?: string): RunResult {
  const run = newRun({ board: 'roc-rk3568-pc', soc, suite: 'nightly', build });
  run.cases.push(
    kase('boots', 'pass', { records: [record('t-pass', 'pass'), record('t-skip', 'skip', 'no network here')] }),
    // Failed by its own guest record: the case fails, and the record is a failure too.
    kase('records-fail', 'fail', {
      reason: 'the guest\'s test t-bad reported fail: expected <1> & got "2"',
      records: [
        record('t-ok', 'pass', undefined, { n: 1 }),
        record('t-bad', 'fail', 'expected <1> & got "2"\x07 \uD800'),
      ],
    }),
    kase('lab', 'error', { phase: 'uboot', reason: 'uboot: no U-Boot prompt' }),
    kase('bug', 'internal', { reason: 'TypeError: x is undefined' }),
    kase('slow', 'timeout', { records: [record('t-err', 'error', "the guest's test record is not JSON")] }),
  );
  return settle(run);
}

describe('JUnit XML', () => {
  it('counts each <testcase> element once, by the outcome element it carries', () => {
    const x = read(toJUnit(night({ id: 'b1', source: 'option' })));
    // 5 cases and 5 records; failures: the failed and timed-out cases and the failing record;
    // errors: the lab error, the runner bug and the record in error.
    assert.equal(x.cases.length, 10);
    assert.deepEqual(
      { tests: x.cases.length, failures: x.count('failure'), errors: x.count('error'), skipped: x.count('skipped') },
      { tests: 10, failures: 3, errors: 3, skipped: 1 },
    );
    for (const node of [x.suite, x.root]) {
      assert.equal(Number(node.attrs.tests), x.cases.length, `${node.name} tests`);
      assert.equal(Number(node.attrs.failures), x.count('failure'), `${node.name} failures`);
      assert.equal(Number(node.attrs.errors), x.count('error'), `${node.name} errors`);
    }
    assert.equal(Number(x.suite.attrs.skipped), x.count('skipped'));
    // The case its record failed, and that record: two elements, one failure each.
    const at = (name: string) => x.cases.findIndex((c) => c.attrs.name === name);
    assert.equal(x.outcomes[at('records-fail')], 'failure');
    assert.equal(x.outcomes[at('t-bad')], 'failure');
    assert.equal(x.outcomes[at('t-ok')], undefined);
    assert.equal(
      x.cases[at('t-bad')].attrs.classname,
      'roc-rk3568-pc.nightly.records-fail',
      'a record is filed under its case',
    );
    // Lab errors and runner bugs are errors of their own types; the rest keep theirs.
    const typeOf = (name: string) =>
      x.cases[at(name)].children.find((c) => c.name === x.outcomes[at(name)])?.attrs.type;
    assert.deepEqual(['lab', 'bug', 'slow', 'records-fail', 't-err'].map(typeOf), [
      'lab-error',
      'runner-bug',
      'timeout',
      'fail',
      'guest-record',
    ]);
  });

  it('names the build, board and SoC in the suite properties, escaped', () => {
    const build = {
      id: `nightly <&> "7" 'x'`,
      source: 'git' as const,
      commit: '0123456789abcdef0123456789abcdef01234567',
      dirty: true,
      describe: 'v0.3.0-4-g0123456789ab',
    };
    const x = read(toJUnit(night(build, 'Rockchip RK3568 & "friends"')));
    assert.deepEqual(x.properties, {
      build: build.id,
      'build.source': 'git',
      'build.commit': build.commit,
      'build.dirty': 'true',
      'build.describe': build.describe,
      board: 'roc-rk3568-pc',
      soc: 'Rockchip RK3568 & "friends"',
      suite: 'nightly',
    });
    // The failure message and the record's, escaped: they read back as written (the control
    // character and the half of a character shown, not written raw).
    const bad = x.cases.find((c) => c.attrs.name === 't-bad')!;
    assert.equal(bad.children.find((c) => c.name === 'failure')?.attrs.message, 'expected <1> & got "2"\\x07 \\ud800');
    const failed = x.cases.find((c) => c.attrs.name === 'records-fail')!;
    assert.equal(
      failed.children.find((c) => c.name === 'failure')?.attrs.message,
      'the guest\'s test t-bad reported fail: expected <1> & got "2"',
    );
    assert.equal(
      x.cases.find((c) => c.attrs.name === 't-ok')!.children.find((c) => c.name === 'system-out')?.text,
      JSON.stringify({ n: 1 }, null, 1),
    );
  });

  it('a run with no build named and no SoC: only what is known', () => {
    const run = night(undefined);
    assert.equal(run.build, undefined, 'no images, so settle names no build either');
    const x = read(toJUnit(run));
    assert.deepEqual(x.properties, { board: 'roc-rk3568-pc', suite: 'nightly' });
    // A build from the images: id and source only.
    const y = read(toJUnit(night({ id: 'images:0123456789ab', source: 'images' })));
    assert.deepEqual(y.properties, {
      build: 'images:0123456789ab',
      'build.source': 'images',
      board: 'roc-rk3568-pc',
      suite: 'nightly',
    });
  });

  it('the reader used here refuses XML that is not well-formed', () => {
    assert.throws(() => parseXml('<a x="1 & 2"/>'), /not well-formed/);
    assert.throws(() => parseXml('<a>\x07</a>'), /not well-formed/);
    assert.throws(() => parseXml('<a><b></a>'), /closes/);
    assert.throws(() => parseXml('<a>1 < 2</a>'), /not well-formed/);
  });
});
