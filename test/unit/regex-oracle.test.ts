// The runner's patterns against Rust's own regex crate, run natively (dist/hil-regex-oracle,
// built by scripts/build-regex from Debian's librust-regex-dev): every distinct pattern of
// the real TGOSKits and Axvisor files, ostool's defaults, and constructs whose meaning
// differs between engines, on probe lines made from the patterns themselves, ASCII and
// not. The runner's answer goes the way a console line goes: bytes into the line engine,
// the line it hands out, then the pattern.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { RustRegex } from '../../runner/config/regex.js';
import { LineEngine } from '../../runner/console/expect.js';
import { OSTOOL_FAIL_PATTERNS } from '../../runner/config/case.js';
import { realPatterns } from '../corpus/corpus.js';
import { root } from '../helpers.js';

const EXTRA = [
  '^\\w+$',
  '\\d+',
  'a\\sb',
  '\\bé',
  '(?i)segmentation fault',
  '(?i)kelvin',
  '(?i)straße',
  '[[:alpha:]]+',
  '\\pL\\pN',
  '(?x) a b',
  'a(?i)b',
  '(?s)a.b',
  'a.b',
  '^$',
  '\\Aab\\z',
  '(?m)^b$',
  '[^a]',
  '\\x{212A}',
  '\\u{41}',
  '(?-u:\\w)',
  'é{2}',
  '(?i)ǅ',
  '\\W',
  '\\D',
  '\\S',
  '\\B',
  // Rust rejects these: the runner must too.
  '(?<=x)a',
  '(?=x)',
  '(a)\\1',
  '\\Qab\\E',
  'a{,3}',
  '[a-z--b]',
  '(?U)a+?',
];

/** Probe lines for a pattern: its literal text, cut and changed, ASCII and not. */
function probes(p: string): string[] {
  const literal = p
    .replace(/\(\?[a-zA-Z-]+\)|\(\?:|\(\?P<\w+>|[()^$]|\\[sSdDwWbBAz]|[*+?]|\{\d*,?\d*\}/g, '')
    .replace(/\\(.)/g, '$1')
    .replace(/\[[^\]]*\]/g, 'x');
  const out = new Set([
    literal,
    ` ${literal} `,
    literal.toUpperCase(),
    literal.toLowerCase(),
    literal.slice(0, Math.ceil(literal.length / 2)),
    `${literal}x`,
    `x${literal}`,
  ]);
  for (const l of [...out]) {
    out.add(l.replace(/s/g, 'ſ').replace(/k/gi, '\u212A'));
    out.add(l.replace(/ /g, '\u2003'));
    out.add(l.replace(/\d/g, (d) => String.fromCharCode(0x0660 + Number(d))));
    out.add(`é${l}ü`);
  }
  return [...out].filter((l) => !l.includes('\n') && !l.includes('\r'));
}

const GENERAL = [
  '',
  'a',
  'ab',
  'a b',
  'a\u2003b',
  'héllo',
  'ſegmentation fault',
  '\u212Aelvin',
  'STRASSE',
  '٣',
  'x\ty',
  'ǅ',
  'a\u2028b',
  '=> ',
  'guest test pass!',
  'Kernel panic - not syncing',
  'login: ',
  'Ab',
];

describe("patterns agree with Rust's regex crate, run natively", function () {
  this.timeout(120_000);
  const patterns = [...new Set([...realPatterns(), ...OSTOOL_FAIL_PATTERNS, ...EXTRA])];
  const lines = [...new Set([...GENERAL, ...patterns.flatMap(probes)])];
  const oracle = path.join(root, 'dist', 'hil-regex-oracle');
  const answers = JSON.parse(
    execFileSync(oracle, { input: `${JSON.stringify({ patterns, lines })}\n`, maxBuffer: 1 << 28 }).toString(),
  ) as (number[] | { error: string })[];

  it(`on ${lines.length} probe lines, through the console's line engine`, () => {
    // What the runner sees of each probe line once it arrived on the console.
    const engine = new LineEngine();
    const seen: string[] = [];
    engine.observe((l) => seen.push(l));
    for (const l of lines) engine.feed(Buffer.from(`${l}\r\n`));
    assert.deepEqual(seen, lines, 'the console hands out the lines as they were printed');
    let agreeing = 0;
    let hits = 0;
    patterns.forEach((p, i) => {
      const want = answers[i];
      let re: RustRegex | undefined;
      try {
        re = RustRegex.compile(p, 'oracle');
      } catch (e) {
        assert.ok(!Array.isArray(want), `${p}: the runner rejects it (${(e as Error).message}), Rust accepts it`);
        agreeing++;
        return;
      }
      assert.ok(
        Array.isArray(want),
        `${p}: the runner accepts it, Rust rejects it: ${(want as { error: string }).error}`,
      );
      const got = seen.map((l, n) => (re!.test(l) ? n : -1)).filter((n) => n >= 0);
      assert.deepEqual(got, want, `${p}: matches differ`);
      hits += got.length;
      agreeing++;
    });
    assert.equal(agreeing, patterns.length);
    assert.ok(hits > patterns.length, 'the probes hit the patterns, not only miss them');
    assert.ok(realPatterns().length >= 100, 'the corpus carries its real patterns');
  });
});

describe("patterns that ostool's regex 1.12 reads and Debian's regex 1.7 does not", () => {
  it('(?<name>...) is the named group (?P<name>...), as regex 1.9 and later read it', () => {
    const oracle = path.join(root, 'dist', 'hil-regex-oracle');
    const lines = ['x', 'ax', 'a', 'é x'];
    const [want] = JSON.parse(
      execFileSync(oracle, { input: `${JSON.stringify({ patterns: ['a(?P<n>x)|(?P<m>é) '], lines })}\n` }).toString(),
    );
    const re = RustRegex.compile('a(?<n>x)|(?<m>é) ', 'oracle');
    assert.deepEqual(
      lines.map((l, i) => (re.test(l) ? i : -1)).filter((i) => i >= 0),
      want,
    );
    assert.deepEqual(re.find('zax'), { index: 1, text: 'ax' });
    assert.equal(RustRegex.compile('[(?<n>]', 'oracle').test('<'), true, 'inside a class it is not a group');
  });

  it('the word-boundary assertions of regex 1.10 are refused, saying why, not misread', () => {
    for (const p of ['\\b{start}x', 'x\\b{end}', '\\<x', 'x\\>']) {
      assert.throws(
        () => RustRegex.compile(p, 'case.toml: success_regex[0]'),
        /^ConfigError: case\.toml: success_regex\[0\]: pattern .* uses a word-boundary assertion of regex 1\.10 .*Debian's regex 1\.7\) lacks: write \\b$/,
      );
    }
    assert.equal(RustRegex.compile('[<>]x\\b', 'oracle').test('<x'), true, 'a < in a class and \\b are what they were');
  });
});
