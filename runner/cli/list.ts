// `hil boards`, `hil suites`, `hil drivers`, `hil board import`: what exists, what each
// board still needs from the environment, and a board file made from an ostool run config.
// `hil drivers --markdown` prints the driver table of docs/lab.md (`--readme docs/lab.md` rewrites it).
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'smol-toml';
import { listBoardNames, loadBoard, standInEnv } from '../drivers/board.js';
import { labRoot, makeDirs, shown } from '../config/paths.js';
import { isOstoolRunConfig, ostoolToBoard } from '../config/ostool.js';
import { listSuiteNames, loadSuite, resolveSuite } from '../config/suite.js';
import { readToml } from '../config/toml.js';
import { allDrivers } from '../drivers/registry.js';
import { ConfigError } from '../errors.js';

const say = (msg: string) => process.stdout.write(`${msg}\n`);

export function boards(): number {
  for (const name of listBoardNames()) {
    let desc: string;
    // A board file that does not read (a TOML error) is listed as INVALID, saying why; the
    // others are listed still.
    let needs: string[] = [];
    let missing: string[] = [];
    try {
      const stand = standInEnv(name);
      ({ needs, missing } = stand);
      const b = loadBoard(name, { env: stand.env });
      desc = `${b.soc || b.arch}, ${b.console.kind} console, ${b.power.kind} power, load ${b.load.methods.join('/')}`;
    } catch (e) {
      desc = `INVALID: ${(e as Error).message}`;
    }
    say(
      `${name.padEnd(22)} ${desc}${missing.length ? `  (needs ${missing.join(', ')})` : needs.length ? '  (environment set)' : ''}`,
    );
  }
  return 0;
}

export function suites(): number {
  for (const name of listSuiteNames()) {
    try {
      const s = loadSuite(resolveSuite(name));
      say(`${name.padEnd(22)} ${s.cases.length} case(s): ${s.cases.map((c) => c.name).join(', ')}`);
    } catch (e) {
      say(`${name.padEnd(22)} INVALID: ${(e as Error).message}`);
    }
  }
  return 0;
}

export async function drivers(o: { markdown?: boolean; readme?: string } = {}): Promise<number> {
  if (o.markdown || o.readme) {
    const { driversMarkdown, withTable, TABLE_BEGIN, TABLE_END } = await import('../drivers/table.js');
    const table = driversMarkdown();
    if (!o.readme) {
      say(table);
      return 0;
    }
    const text = readFileSync(o.readme, 'utf8');
    const next = withTable(text, table);
    if (next === undefined)
      throw new ConfigError(
        `${shown(o.readme)} has no drivers table to replace: put the two lines\n${TABLE_BEGIN}\n${TABLE_END}\nwhere it goes`,
      );
    if (next !== text) writeFileSync(o.readme, next);
    say(`${shown(o.readme)}: the drivers table ${next === text ? 'is up to date' : 'was rewritten'}`);
    return 0;
  }
  const width = Math.max(...allDrivers().map((d) => d.kind.length));
  for (const d of allDrivers()) {
    const shape = (d.settings as unknown as { shape?: Record<string, unknown> }).shape;
    say(
      `${d.role.padEnd(8)} ${d.kind.padEnd(width)} ${d.summary}${shape ? `\n${' '.repeat(10 + width)}settings: ${Object.keys(shape).join(', ')}` : ''}`,
    );
  }
  return 0;
}

export function importBoard(file: string, o: { name: string; out?: string; alias?: string[] }): number {
  // `--name rk3568-lab-1.toml` names the board, not the file: the file is <name>.toml.
  const name = o.name.replace(/\.toml$/i, '');
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(name))
    throw new ConfigError(
      `--name ${o.name}: use lower-case letters, digits, "-", "." and "_" (it names the board file)`,
    );
  const aliases = [...new Set((o.alias ?? []).map((a) => a.trim()).filter(Boolean))];
  const doc = readToml(file);
  if (!isOstoolRunConfig(doc))
    throw new ConfigError(
      `${shown(file)} is not an ostool U-Boot run config (no serial, baud_rate, board_reset_cmd or [net])`,
    );
  const { board, defaults } = ostoolToBoard(doc, file);
  board.name = name;
  // The cases name their board by board_type (ROC-RK3568-PC): a run config names none, so
  // the board file says which it is, or only cases naming `name` itself run on it.
  board.aliases = aliases;
  board.description = `made by \`hil board import\` from ${shown(file)}`;
  const out = path.resolve(o.out ?? path.join(labRoot(), 'boards', `${name}.toml`));
  if (existsSync(out))
    throw new ConfigError(`${shown(out)} exists: nothing was overwritten (give another --out, or remove it)`);
  const keep = [
    `# ${board.description}.`,
    ...(aliases.length
      ? []
      : [
          `# aliases: the board_type its cases name (as ROC-RK3568-PC); with none, only cases of board_type "${name}" run on it`,
        ]),
    '# Case defaults of the run config (a board case overrides them), as ostool merges them:',
    ...(['dtb_file', 'kernel_load_addr', 'fit_load_addr', 'bootm_addr'] as const)
      .filter((k) => defaults[k])
      .map((k) => `#   ${k} = ${JSON.stringify(defaults[k])}  (set it in the cases, or [load] for the addresses)`),
    ...(defaults.unknown.length ? [`# ostool keys not carried over: ${defaults.unknown.join(', ')}`] : []),
  ];
  const loadTable = board.load as Record<string, unknown>;
  for (const k of ['kernel_load_addr', 'fit_load_addr', 'bootm_addr'] as const)
    if (defaults[k]) loadTable[k] = defaults[k];
  makeDirs(path.dirname(out));
  writeFileSync(out, `${keep.join('\n')}\n${stringify(board)}\n`, { flag: 'wx' });
  try {
    // What was written reads back as a board, its ${env:...} values (TGOSKits' CI
    // variables) standing in as they do for `hil boards`.
    loadBoard(out, { env: standInEnv(out).env });
  } catch (e) {
    rmSync(out, { force: true });
    throw e;
  }
  say(`wrote ${shown(out)}${aliases.length ? ` (board ${name}, aliases ${aliases.join(', ')})` : ''}`);
  if (!aliases.length)
    say(
      `note: board ${name} has no aliases, so only cases whose board_type is "${name}" run on it; give the ` +
        `board_type its cases name with --alias (hil board import ${shown(file)} --name ${name} --alias ` +
        `ROC-RK3568-PC), or add aliases = ["..."] to ${shown(out)}`,
    );
  return 0;
}
