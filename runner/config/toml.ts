// Reading a TOML file with errors that name the file, line and column, and schema errors
// that name the file, the key and what is expected.
import { readFileSync } from 'node:fs';
import { parse, TomlError } from 'smol-toml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';

export function readToml(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ConfigError(code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot read (${code ?? String(e)})`);
  }
  try {
    return parse(text) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError) {
      const first = e.message.split('\n')[0];
      throw new ConfigError(`${file}:${e.line}:${e.column}: malformed TOML: ${first}`);
    }
    throw e;
  }
}

/** Validates a parsed document; the first problem becomes one line naming file and key. */
export function validate<S extends z.ZodTypeAny>(schema: S, doc: unknown, file: string, prefix = ''): z.infer<S> {
  const res = schema.safeParse(doc);
  if (res.success) return res.data;
  const issue = res.error.issues[0];
  const key = [prefix, ...issue.path].filter((k) => k !== '').join('.') || '(top level)';
  let msg = issue.message;
  if (issue.code === 'unrecognized_keys')
    msg = `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}: check the spelling`;
  throw new ConfigError(`${file}: ${key}: ${msg}`);
}
