// `${env:NAME}` expansion, as in the ecosystem's own U-Boot run configs. Other `${...}`
// forms (`${kernel_addr_r}`) are U-Boot's and pass through untouched.
import { ConfigError } from '../errors.js';

const ENV_REF = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g;

export function expandEnvString(value: string, where: string, env: NodeJS.ProcessEnv = process.env): string {
  return value.replace(ENV_REF, (_ref, name: string) => {
    const v = env[name];
    if (v === undefined) {
      throw new ConfigError(`${where}: environment variable ${name} is not set (used as \${env:${name}}); export it or edit the file`);
    }
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
