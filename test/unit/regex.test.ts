import assert from 'node:assert/strict';
import { compileAll, PatternSet, RustRegex } from '../../runner/config/regex.js';
import { ConfigError } from '../../runner/errors.js';

const r = (s: string) => RustRegex.compile(s, 'case.toml: success_regex[0]');
const rejects = (s: string, why: RegExp) =>
  assert.throws(
    () => r(s),
    (e: unknown) =>
      e instanceof ConfigError &&
      /^case\.toml: success_regex\[0\]: pattern .* is not a valid Rust regex: /.test(e.message) &&
      why.test(e.message) &&
      !e.message.includes('\n'),
  );

describe('patterns: Rust regex semantics (the regex crate, as WebAssembly)', () => {
  it("means what the ecosystem's patterns mean", () => {
    assert.ok(r('(?i)\\bpanic(?:ked)?\\b').test("thread 'main' PANICKED at src/main.rs"));
    assert.ok(!r('(?i)\\bpanic(?:ked)?\\b').test('nopanic here'));
    assert.ok(r('(?m)^guest test pass!\\s*$').test('guest test pass!  '));
    assert.ok(!r('(?m)^guest test pass!\\s*$').test("/ # echo 'guest test pass!'"));
    assert.ok(r('^Phytium Pi').test('Phytium Pi Board') && !r('^Phytium Pi').test('a Phytium Pi'));
  });

  it('is Unicode-aware where Rust is: \\w \\d \\s \\b and case folding', () => {
    assert.ok(r('^\\w+$').test('héllo'), '\\w is Unicode');
    assert.ok(r('^\\d$').test('٣'), '\\d matches Arabic-Indic digits');
    assert.ok(r('a\\sb').test('a\u2003b'), '\\s matches an em space');
    assert.ok(!r('\\bé').test('xé'), '\\b knows é is a word character');
    assert.ok(r('(?i)segmentation fault').test('ſegmentation fault'), '(?i) folds U+017F to s');
    assert.ok(r('(?i)kelvin').test('\u212Aelvin'), '(?i) folds the Kelvin sign to k');
    assert.ok(r('(?-u:\\w)+').test('abc') && !r('^(?-u:\\w)+$').test('héllo'), '(?-u) is ASCII');
  });

  it('gives . its Rust meaning: anything but \\n', () => {
    assert.ok(
      r('a.b').test('a\rb') && r('a.b').test('a\u2028b') && !r('a.b').test('a\nb') && r('(?s)a.b').test('a\nb'),
    );
  });

  it('takes Rust spellings: (?P<n>), \\pL, \\x{41}, [[:digit:]], mid-pattern flags, (?x)', () => {
    for (const [p, s] of [
      ['(?P<n>\\d+) cpus', '4 cpus'],
      ['\\pL+', 'é'],
      ['\\x{41}', 'A'],
      ['^[[:digit:]]+$', '42'],
      ['a(?i)B', 'ab'],
      ['(?x) a b # comment', 'ab'],
      ['[a-z&&[^aeiou]]', 'b'],
    ]) {
      assert.ok(r(p).test(s), `${p} on ${s}`);
    }
    assert.ok(!r('[a-z&&[^aeiou]]').test('a'));
  });

  it("rejects what Rust rejects, with Rust's reason on one line", () => {
    rejects('(?<=x)a', /look-around/);
    rejects('(?=x)', /look-around/);
    rejects('(a)\\1', /backreferences are not supported/);
    rejects('\\Qab', /unrecognized escape/);
    rejects('a{,3}', /repetition|decimal/);
    rejects('(unclosed', /unclosed group/);
    rejects('[abc', /unclosed character class/);
  });

  it('runs in linear time: (a+)+$ against a long line cannot stall a run', () => {
    const re = r('(a+)+$');
    const t0 = performance.now();
    assert.equal(re.test(`${'a'.repeat(5000)}!`), false);
    assert.ok(performance.now() - t0 < 1000, 'a backtracking engine takes longer than the universe here');
  });

  it("replaces with the crate's $1 and ${name}", () => {
    assert.equal(r('(\\d+) cpus').replaceAll('4 cpus, 8 cpus', '<n> cpus ($1)'), '<n> cpus (4), <n> cpus (8)');
    assert.equal(r('(?P<v>vm\\d)').replaceAll('vm1 up', '${v}!'), 'vm1! up');
    assert.deepEqual(r('é+').find('xxééy'), { index: 2, text: 'éé' });
  });
});

describe('pattern sets', () => {
  const sources = [
    '(?i)\\bpanic(?:ked)?\\b',
    '(?m)^guest test pass!\\s*$',
    '^Phytium Pi',
    '(?i)kernel panic',
    'panicked at',
    '(?s)a.b',
    '(?P<vm>VM\\[\\d+\\]) booted',
    '(?i)(?P<vm>vm\\d) up',
    'x$',
    '\\Astart',
  ];
  const patterns = compileAll(sources, 'test');
  const set = new PatternSet(patterns);
  const naive = (line: string) => patterns.findIndex((p) => p.test(line));

  it('always agrees with testing each pattern in order, line by line and in bursts', () => {
    const lines = [
      'guest test pass!',
      ' guest test pass!',
      'PANICKED now',
      'nopanic',
      'Phytium Pi board',
      'a Phytium Pi',
      'start here',
      'not start',
      'aXb',
      'VM[1] booted',
      'VM3 up',
      'ends with x',
      '',
    ];
    let seed = 3;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const bits = [
      'pan',
      'ic',
      'guest ',
      'test ',
      'pass!',
      'Phytium',
      ' Pi',
      'VM[',
      '2] ',
      'booted',
      'a',
      '.',
      'b',
      'x',
      ' ',
      'start',
      'é',
    ];
    for (let i = 0; i < 2000; i++) {
      let l = '';
      for (let j = 0, n = Math.floor(rnd() * 8); j < n; j++) l += bits[Math.floor(rnd() * bits.length)];
      lines.push(l);
    }
    let hits = 0;
    for (const l of lines) {
      assert.equal(set.firstMatch(l), naive(l), JSON.stringify(l));
      if (naive(l) >= 0) hits++;
    }
    assert.ok(hits > 100, 'the random lines exercise matches too');
    // A burst may be cleared at once only when no line of it matches.
    for (let i = 0; i + 7 <= lines.length; i += 7) {
      const burst = lines.slice(i, i + 7);
      if (burst.some((l) => naive(l) >= 0)) assert.ok(set.mayMatchAny(burst), JSON.stringify(burst));
    }
    const quiet = new PatternSet(compileAll(['(?m)^done$', 'panic'], 't'));
    assert.equal(quiet.mayMatchAny(['not done', 'all fine', 'done later']), false);
    assert.equal(quiet.mayMatchAny(['not done', 'done']), true);
  });

  it('reports the first pattern in list order when several match', () => {
    assert.equal(set.firstMatch('panicked at: Kernel panic'), 0);
    assert.equal(new PatternSet(compileAll(['b', 'a'], 't')).firstMatch('ab'), 0);
  });
});
