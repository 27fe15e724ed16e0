// Values quoted for U-Boot's shell (runner/uboot/driver.ts: hushQuote, hushCommand), read
// back by a model of U-Boot 2023.01's hush as common/cli_hush.c reads a typed line: its word
// splitting, single quotes, backslashes (removed from every word by done_word, inside quotes
// too), `$` substitution, and the second parse of a command that substituted a variable
// (run_pipe_real: make_string, then parse_string_outer with FLAG_REPARSING). The same
// values go through the real U-Boot of the virtual board in test/e2e/uboot-quote.test.ts.
import assert from 'node:assert/strict';
import { kindOf } from '../../runner/errors.js';
import { arg, hushCommand, hushQuote } from '../../runner/uboot/driver.js';

interface Word {
  data: string;
  /** Quotes were seen: an empty word is still a word (`''`), and make_string quotes it again. */
  nonnull: boolean;
}

const VAR = '\x03'; // SPECIAL_VAR_SYMBOL

/** One pass of parse_stream over a single command (`;`, `&&`, `||` end it: refused here,
 * as a value must never end its command). */
function parsePass(line: string, reparsing: boolean): { words: Word[]; substitutes: boolean } {
  const words: Word[] = [];
  let cur = '';
  let nonnull = false;
  let substitutes = false;
  const done = () => {
    if (cur.length === 0 && !nonnull) return;
    // done_word: a backslash is dropped and keeps the character after it.
    let out = '';
    for (let i = 0; i < cur.length; i++) out += cur[i] === '\\' ? (cur[++i] ?? '') : cur[i];
    words.push({ data: out, nonnull });
    cur = '';
    nonnull = false;
  };
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === ' ' || ch === '\t') done();
    else if (ch === "'") {
      nonnull = true;
      const close = line.indexOf("'", i + 1);
      if (close < 0) throw new Error(`syntax error: unterminated ' in ${JSON.stringify(line)}`);
      cur += line.slice(i + 1, close);
      i = close;
    } else if (ch === '\\') {
      if (i + 1 >= line.length) throw new Error('syntax error: a trailing backslash');
      cur += ch + line[++i];
    } else if (ch === '$' && !reparsing) {
      const next = line[i + 1] ?? '';
      if (/[A-Za-z]/.test(next)) {
        const name = /^[A-Za-z][A-Za-z0-9_]*/.exec(line.slice(i + 1))![0];
        cur += `${VAR}${name}${VAR}`;
        i += name.length;
        substitutes = true;
      } else if (next === '{') {
        const close = line.indexOf('}', i);
        if (close < 0) throw new Error('syntax error: ${ without }');
        cur += `${VAR}${line.slice(i + 2, close)}${VAR}`;
        i = close;
        substitutes = true;
      } else if (next === '?') {
        cur += `${VAR}$?${VAR}`;
        i++;
        substitutes = true;
      } else cur += '$';
    } else if ('"'.includes(ch)) throw new Error('double quotes are not modelled');
    else if (';&|'.includes(ch) && !reparsing)
      throw new Error(`the command ends at ${JSON.stringify(ch)} in ${JSON.stringify(line)}`);
    else if (ch === '#' && cur.length === 0 && !nonnull)
      break; // a comment
    else cur += ch;
  }
  done();
  return { words, substitutes };
}

/** The arguments the command receives, with U-Boot's variables `env`. */
function hushArgv(line: string, env: Record<string, string> = {}): string[] {
  const first = parsePass(line, false);
  if (!first.substitutes) return first.words.map((w) => w.data);
  const again = first.words
    .map((w) => {
      const value = w.data.replace(new RegExp(`${VAR}([^${VAR}]*)${VAR}`, 'g'), (_, name: string) => env[name] ?? '');
      return w.nonnull ? `'${value}'` : value;
    })
    .join(' ');
  return parsePass(again, true).words.map((w) => w.data);
}

const SPECIALS = [
  ' ',
  "'",
  '"',
  '$',
  ';',
  '\\',
  '#',
  '&',
  '|',
  '&&',
  '||',
  '{',
  '}',
  '(',
  ')',
  '<',
  '>',
  '*',
  '?',
  '[',
  ']',
  '~',
  '!',
  '`',
  '=',
  '%',
  '^',
  '${x}',
  '$?',
  "\\'",
  "'\\''",
];

describe('U-Boot argument quoting (hush)', () => {
  it('leaves a value hush passes on unchanged as it is, and quotes the rest in single quotes', () => {
    assert.equal(hushQuote('10.0.2.15'), '10.0.2.15');
    assert.equal(hushQuote('/guest/arceos-aarch64.bin'), '/guest/arceos-aarch64.bin');
    assert.equal(hushQuote('0x40 0x7c0'), "'0x40 0x7c0'");
    assert.equal(hushQuote('a b'), "'a b'");
    assert.equal(hushQuote('$HOME'), "'$HOME'");
    assert.equal(hushQuote('${kernel_addr_r}'), "'${kernel_addr_r}'");
    assert.equal(hushQuote('a;reset'), "'a;reset'");
    assert.equal(hushQuote('#x'), "'#x'");
    assert.equal(hushQuote('say "hi"'), `'say "hi"'`);
    assert.equal(hushQuote("it's"), "'it'\\''s'");
    assert.equal(hushQuote('a\\b'), "'a\\\\b'", 'done_word drops one backslash, even inside quotes');
    assert.equal(hushQuote(''), "''", 'an empty value is still an argument');
  });

  it('quotes for the second parse of a command that substitutes a variable', () => {
    assert.equal(hushQuote('a b', { reparsed: true }), "'a b'");
    assert.equal(hushQuote('a\\b', { reparsed: true }), "'a\\\\\\\\b'");
    assert.equal(hushQuote("it's", { reparsed: true }), "'it'\\''\\\\'\\'''\\''s'");
    assert.equal(
      hushCommand('fatwrite', 'virtio 0:1', '${kernel_addr_r}', arg("my guest's.bin"), '0x10'),
      "fatwrite virtio 0:1 ${kernel_addr_r} 'my guest'\\''\\\\'\\'''\\''s.bin' 0x10",
    );
    assert.equal(
      hushCommand('fatload', 'virtio 0:1', '0x40200000', arg("my guest's.bin")),
      "fatload virtio 0:1 0x40200000 'my guest'\\''s.bin'",
      'no variable: one pass',
    );
  });

  for (const c of SPECIALS) {
    it(`${JSON.stringify(c)} reaches the command as it is, in one pass and in two`, () => {
      // Inside a value, alone, and at either end of it.
      for (const v of [`a${c}b`, c, `${c}b`, `a${c}`]) {
        assert.deepEqual(
          hushArgv(hushCommand('setenv', arg('hil_x'), arg(v))),
          ['setenv', 'hil_x', v],
          JSON.stringify(v),
        );
        assert.deepEqual(
          hushArgv(hushCommand('fatwrite', 'virtio 0:1', '${kernel_addr_r}', arg(v), '0x10'), {
            kernel_addr_r: '0x40400000',
          }),
          ['fatwrite', 'virtio', '0:1', '0x40400000', v, '0x10'],
          JSON.stringify(v),
        );
      }
    });
  }

  it('keeps every printable ASCII string whole, in one pass and in two', () => {
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 2000; i++) {
      const value = Array.from({ length: rand(12) }, () => String.fromCharCode(32 + rand(95))).join('');
      assert.deepEqual(
        hushArgv(hushCommand('setenv', arg('v'), arg(value))),
        ['setenv', 'v', value],
        JSON.stringify(value),
      );
      assert.deepEqual(
        hushArgv(hushCommand('setenv', arg('v'), '${p}', arg(value)), { p: 'pre' }),
        ['setenv', 'v', 'pre', value],
        JSON.stringify(value),
      );
    }
  });

  it('refuses a value with a control character, which cannot be typed at the prompt (a configuration error)', () => {
    for (const v of ['a\nb', 'a\tb', 'a\rb', '\x03', '\x7f'])
      assert.throws(
        () => hushQuote(v),
        (e: Error) =>
          kindOf(e) === 'config' &&
          /cannot be typed at U-Boot's prompt: it holds the control character/.test(e.message),
      );
  });
});
