// `${env:NAME}` expansion, as in ostool's run configs and TGOSKits' board CI. Other `${...}`
// forms (`${kernel_addr_r}`) are U-Boot's and pass through untouched.
//
// Secrets: a value that comes from a variable whose name says it is one (TOKEN, SECRET,
// PASSWORD, KEY... as CI systems decide), from one named in HIL_SECRET_VARS, or that a file
// marks as one with `${secret:NAME}`, is remembered, and masked in everything the runner
// writes: power.log, results, JUnit, the history, the terminal (`redact()`), and the console
// transcripts (`maskBytes()`, the same length, so a transcript's size stays the byte count
// read). The board file names the variable, never its value.
import { ConfigError } from '../errors.js';

const ENV_REF = /\$\{(env|secret):([A-Za-z_][A-Za-z0-9_]*)\}/g;
const SECRET_NAME = /TOKEN|SECRET|PASSW|PASSPHRASE|API_?KEY|PRIVATE_?KEY|AUTH|CREDENTIAL|COOKIE/i;
const secrets = new Set<string>();

/** Masks every known secret value in `text`. */
export function redact(text: string): string {
  if (secrets.size === 0 || !text) return text;
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('***');
  return out;
}

/** Deep copy of a JSON-like value with every string redacted. */
export function redactDeep<T>(v: T): T {
  if (secrets.size === 0) return v;
  if (typeof v === 'string') return redact(v) as T;
  if (Array.isArray(v)) return v.map(redactDeep) as T;
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, redactDeep(x)])) as T;
  return v;
}

export function isSecretName(name: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return (
    SECRET_NAME.test(name) ||
    (env.HIL_SECRET_VARS ?? '')
      .split(',')
      .map((s) => s.trim())
      .includes(name)
  );
}

/** Secrets as the bytes a console carries them (UTF-8, read as latin1), longest first. */
let asBytes: string[] = [];
const remember = (v: string) => {
  if (secrets.has(v)) return;
  secrets.add(v);
  asBytes = [...secrets].map((s) => Buffer.from(s, 'utf8').toString('latin1')).sort((a, b) => b.length - a.length);
};

/** The longest secret in bytes: a stream masked piece by piece holds back one less. */
export const longestSecret = () => asBytes[0]?.length ?? 0;

/** Masks every secret in `latin1` text (raw console bytes) with as many '*'. */
export function maskBytes(latin1: string): string {
  let out = latin1;
  for (const s of asBytes) if (out.includes(s)) out = out.split(s).join('*'.repeat(s.length));
  return out;
}

/** Remembers, as secrets, the values of the environment's variables whose names say they
 * are one: a power command's shell reads `$PDU_TOKEN` itself, and whatever it prints back
 * must be masked as a `${env:PDU_TOKEN}` would be. From 4 characters on, as below. */
export function rememberSecretEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const [name, v] of Object.entries(env)) if (v && v.length >= 4 && isSecretName(name, env)) remember(v);
}

export function expandEnvString(value: string, where: string, env: NodeJS.ProcessEnv = process.env): string {
  return value.replace(ENV_REF, (_ref, how: string, name: string) => {
    const v = env[name];
    if (v === undefined) {
      throw new ConfigError(
        `${where}: environment variable ${name} is not set (used as \${${how}:${name}}); export it or edit the file`,
      );
    }
    // A value marked secret is one whatever its length; one secret by its name only from 4
    // characters on ("1", "on" would mask innocent text).
    if (v && (how === 'secret' || (isSecretName(name, env) && v.length >= 4))) remember(v);
    return v;
  });
}

/** Expands every string inside a parsed TOML document; `where` names the file for errors. */
export function expandEnvDeep<T>(doc: T, file: string, env: NodeJS.ProcessEnv = process.env, key = ''): T {
  if (typeof doc === 'string') return expandEnvString(doc, `${file}: ${key || '(value)'}`, env) as T;
  if (Array.isArray(doc)) return doc.map((v, i) => expandEnvDeep(v, file, env, `${key}[${i}]`)) as T;
  if (doc && typeof doc === 'object' && !(doc instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(doc)) out[k] = expandEnvDeep(v, file, env, key ? `${key}.${k}` : k);
    return out as T;
  }
  return doc;
}

/** The `${env:NAME}` names a document uses. */
export function envNames(doc: unknown): string[] {
  return [...new Set([...JSON.stringify(doc).matchAll(/\$\{(?:env|secret):(\w+)\}/g)].map((m) => m[1]))];
}
