// Translation of the Rust `regex` crate syntax used in TGOSKits cases to JavaScript RegExp.
// Their patterns start with inline flags (`(?i)\bpanic(?:ked)?\b`), which JavaScript rejects,
// and use a few spellings JavaScript lacks (`(?P<name>)`, `\pL`, `\x{7F}`, `[[:alpha:]]`).
// What has no faithful translation (mid-pattern flags, verbose mode, class set operations)
// is rejected with a message naming the construct: a silently different pattern would
// turn a failing guest into a pass.
//
// Patterns are matched against one console line at a time. So (?m) needs no JavaScript
// flag (a line holds no newline: ^ and $ are its start and end, as Rust's (?m) has them),
// and `.` is spelt out as Rust means it: any character but \n ([\s\S] under (?s)).
// JavaScript's own `.` and multiline ^/$ also stop at \r, U+2028 and U+2029; Rust's do not.
import { ConfigError } from '../errors.js';

export interface Pattern {
  /** The pattern as written in the case file (Rust syntax). */
  readonly source: string;
  readonly re: RegExp;
}

const POSIX_CLASSES: Record<string, string> = {
  alnum: '0-9A-Za-z', alpha: 'A-Za-z', ascii: '\\x00-\\x7F', blank: '\\t ', cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9', graph: '!-~', lower: 'a-z', print: ' -~', punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ', upper: 'A-Z', word: '0-9A-Za-z_', xdigit: '0-9A-Fa-f',
};
// Characters JavaScript's unicode mode lets us escape as they are; other escaped
// punctuation (`\-`, `\#`, `\ `), legal in Rust, is rewritten as \xHH.
const JS_SYNTAX = new Set('^$\\.*+?()[]{}|/'.split(''));

export function translateRustRegex(source: string, where: string): Pattern {
  const fail = (what: string): never => {
    throw new ConfigError(`${where}: pattern ${JSON.stringify(source)}: ${what}`);
  };
  let i = 0;
  const flags = new Set<string>();
  // Leading inline flag groups: (?i) (?im) (?i)(?m) (?s-m) ...
  for (let m: RegExpExecArray | null; (m = /^\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?\)/.exec(source.slice(i))); i += m[0].length) {
    for (const f of m[1]) {
      if ('ims'.includes(f)) flags.add(f);
      else if (f !== 'u') fail(`inline flag "${f}" has no JavaScript equivalent (only i, m, s and u translate)`);
    }
    for (const f of m[2] ?? '') if (!'imsuU'.includes(f)) fail(`inline flag "-${f}" is not supported`);
  }

  let out = '';
  let inClass = false;
  // JavaScript's `u` flag is needed only for \p{..}, \u{..} and non-ASCII text; it is left
  // off otherwise because V8 takes a much slower path for \b and \w under /iu.
  let unicode = /[^\x00-\x7f]/.test(source);
  while (i < source.length) {
    const c = source[i];
    if (c === '\\') {
      const n = source[i + 1];
      if (n === undefined) fail('ends with a lone backslash');
      const rest = source.slice(i + 1);
      let m: RegExpExecArray | null;
      if (n === 'A' && !inClass) { out += '^'; i += 2; continue; }
      if (n === 'z' && !inClass) { out += '$'; i += 2; continue; }
      if (n === 'a') { out += '\\x07'; i += 2; continue; }
      if ((n === 'p' || n === 'P') && source[i + 2] !== '{') {
        if (!/[A-Za-z]/.test(source[i + 2] ?? '')) fail(`\\${n} needs a class name`);
        out += `\\${n}{${source[i + 2]}}`; i += 3; unicode = true; continue;
      }
      if ((m = /^x\{([0-9A-Fa-f]+)\}/.exec(rest)) || (m = /^U\{([0-9A-Fa-f]+)\}/.exec(rest)) || (m = /^U([0-9A-Fa-f]{8})/.exec(rest))) {
        out += `\\u{${m[1].replace(/^0+(?=.)/, '')}}`; i += 1 + m[0].length; unicode = true; continue;
      }
      if (n === 'b' && source[i + 2] === '{') fail('word-boundary assertions \\b{...} are not supported');
      if (n === '<' || n === '>') fail(`\\${n} word-boundary assertions are not supported; use \\b`);
      if (/[^A-Za-z0-9]/.test(n) && !JS_SYNTAX.has(n) && !(inClass && n === '-')) {
        out += `\\x${n.charCodeAt(0).toString(16).padStart(2, '0')}`; i += 2; continue;
      }
      if (n === 'p' || n === 'P') unicode = true;
      out += c + n; i += 2; continue;
    }
    if (inClass) {
      if (c === '[') {
        const m = /^\[:(\^?)([a-z]+):\]/.exec(source.slice(i));
        if (!m) fail('nested character classes are not supported');
        const body = POSIX_CLASSES[m![2]] ?? fail(`unknown POSIX class [:${m![2]}:]`);
        if (m![1]) fail('negated POSIX classes [:^...:] are not supported');
        out += body; i += m![0].length; continue;
      }
      if ((c === '&' || c === '-' || c === '~') && source[i + 1] === c && source[i + 2] !== ']') {
        fail(`class set operation "${c}${c}" is not supported`);
      }
      if (c === ']') inClass = false;
      out += c; i++; continue;
    }
    if (c === '[') {
      inClass = true; out += c; i++;
      if (source[i] === '^') { out += '^'; i++; }
      if (source[i] === ']') { out += '\\]'; i++; } // Rust: a leading ] is literal
      continue;
    }
    if (c === '(' && source[i + 1] === '?') {
      const m = /^\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(source.slice(i));
      if (m) { out += `(?<${m[1]}>`; i += m[0].length; continue; }
      if (/^\(\?[a-zA-Z-]+[:)]/.test(source.slice(i))) {
        fail('inline flags are only supported at the start of the pattern (e.g. "(?i)panic"), not in the middle or scoped');
      }
    }
    if (c === '.') { out += flags.has('s') ? '[\\s\\S]' : '[^\\n]'; i++; continue; }
    out += c; i++;
  }
  if (inClass) fail('unterminated character class');
  const jsFlags = (flags.has('i') ? 'i' : '') + (unicode ? 'u' : '');
  try {
    return { source, re: new RegExp(out, jsFlags) };
  } catch (e) {
    return fail(`not a valid pattern (${(e as Error).message.replace(/^Invalid regular expression: /, '')})`);
  }
}

/** Translates a list of patterns from the key `key` of a file. */
export function translateAll(sources: string[], where: string): Pattern[] {
  return sources.map((s, i) => translateRustRegex(s, `${where}[${i}]`));
}

/** A pattern for a literal text (prompts, markers). */
export function literal(text: string, anchored: 'whole' | 'none' = 'none'): RegExp {
  const esc = text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return new RegExp(anchored === 'whole' ? `^${esc}$` : esc);
}
