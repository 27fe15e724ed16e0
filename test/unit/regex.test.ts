import assert from 'node:assert/strict';
import { translateRustRegex } from '../../runner/config/regex.js';
import { ConfigError } from '../../runner/errors.js';

const t = (s: string) => translateRustRegex(s, 'case.toml: success_regex[0]').re;
const rejects = (s: string, why: RegExp) =>
  assert.throws(() => t(s), (e: unknown) => e instanceof ConfigError && /^case\.toml: success_regex\[0\]: pattern /.test(e.message) && why.test(e.message));

describe('Rust regex translation', () => {
  it('turns leading inline flags into JavaScript flags', () => {
    const re = t('(?i)\\bpanic(?:ked)?\\b');
    assert.equal(re.flags, 'i');
    assert.ok(re.test('thread main PANICKED at src/main.rs'));
    assert.ok(!re.test('nopanic here'));
    assert.equal(t('(?i)(?m)x').flags, 'i');
  });

  it('gives . and (?m) their Rust meaning on a console line', () => {
    assert.ok(!t('a.b').test('a\nb') && t('(?s)a.b').test('a\nb'));
    assert.ok(t('a.b').test('a\rb') && t('a.b').test('a\u2028b'), 'only \\n stops . in Rust');
    assert.ok(!t('(?m)^b').test('a\u2028b'), 'U+2028 starts no line in Rust');
    assert.ok(t('[.]').test('.') && !t('[.]').test('x'), 'a dot in a class stays a dot');
    assert.ok(t('\\.').test('.') && !t('\\.').test('x'));
  });

  it('keeps the ecosystem examples meaning what they mean in Rust', () => {
    assert.ok(t('(?m)^guest test pass!\\s*$').test('guest test pass!  '));
    assert.ok(!t('(?m)^guest test pass!\\s*$').test("/ # echo 'guest test pass!'"));
    assert.ok(t('(?i)kernel panic').test('[ 1.0] Kernel panic - not syncing'));
    assert.ok(t('(?m)^phytiumpi login:').test('phytiumpi login: '));
    assert.ok(t('^Phytium Pi').test('Phytium Pi Board'));
    assert.ok(!t('^Phytium Pi').test('a Phytium Pi'));
    assert.ok(t('panicked at').test("panicked at 'oops'"));
  });

  it('translates spellings JavaScript lacks', () => {
    assert.equal(t('(?P<n>\\d+) cpus').exec('4 cpus')!.groups!.n, '4');
    assert.ok(t('\\pL+').test('é'));
    assert.ok(t('\\x{41}').test('A'));
    assert.ok(t('[[:digit:]]+').test('42') && !t('^[[:digit:]]+$').test('4a'));
    assert.ok(t('a\\-b\\#c').test('a-b#c'));
    assert.ok(t('\\Astart').test('start here') && !t('\\Astart').test('not start'));
    assert.ok(t('[]x]').test(']'));
  });

  it('rejects what has no faithful translation, naming the construct', () => {
    rejects('a(?i)b', /only supported at the start/);
    rejects('(?i:a)b', /only supported at the start/);
    rejects('(?x) a b', /inline flag "x"/);
    rejects('(?U)a+', /inline flag "U"/);
    rejects('[a-z&&[^aeiou]]', /nested|set operation/);
    rejects('[[:nope:]]', /unknown POSIX class/);
    rejects('\\<word', /word-boundary/);
    rejects('(unclosed', /not a valid pattern/);
    rejects('[abc', /unterminated/);
  });
});
