import assert from 'node:assert/strict';
import { translateAll } from '../../runner/config/regex.js';
import { PatternSet } from '../../runner/console/patterns.js';

describe('pattern sets', () => {
  const sources = [
    '(?i)\\bpanic(?:ked)?\\b', '(?m)^guest test pass!\\s*$', '^Phytium Pi', '(?i)kernel panic', 'panicked at',
    '(?s)a.b', '(\\w)\\1 twice', '(?P<vm>VM\\[\\d+\\]) booted', '(?i)(?P<vm>vm\\d) up', 'x$',
  ];
  const patterns = translateAll(sources, 'test');
  const set = new PatternSet(patterns);
  const naive = (line: string) => patterns.findIndex((p) => p.re.test(line));

  it('always agrees with testing each pattern in order', () => {
    const lines = [
      'guest test pass!', ' guest test pass!', 'guest test pass!  ', 'PANICKED now', 'nopanic', 'Phytium Pi board', 'a Phytium Pi',
      "[ 1.0] Kernel panic - not syncing", "thread 'main' panicked at", 'aXb', 'a\u2028b', 'oo twice', 'xy twice', 'VM[1] booted',
      'VM3 up', 'ends with x', 'x at start', '', '=> ', 'panicked at guest test pass!',
    ];
    let seed = 3;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const bits = ['pan', 'ic', 'guest ', 'test ', 'pass!', 'Phytium', ' Pi', 'VM[', '2] ', 'booted', 'a', '.', 'b', 'x', ' ', 'oo'];
    for (let i = 0; i < 3000; i++) {
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
  });

  it('reports the first pattern in list order when several match', () => {
    assert.equal(set.firstMatch("panicked at: Kernel panic"), 0);
    assert.equal(new PatternSet(translateAll(['b', 'a'], 't')).firstMatch('ab'), 0);
  });
});
