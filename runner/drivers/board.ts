// A board with its drivers: the board file read (config/board.ts), then each driver's own
// table checked against the schema that driver declares (a console's port and baud, a
// power command, a load method's addresses). This is the board the runner works with;
// config/ itself imports no driver.
import { ConfigError } from '../errors.js';
import { shown } from '../config/paths.js';
import { validate } from '../config/toml.js';
import { LOAD_CORE, readBoard, type Board, type DriverUse } from '../config/board.js';
import { driver, kindsOf, type Role } from './registry.js';
import './index.js';

export type { Board } from '../config/board.js';
export { listBoardNames, resolveBoardFile, standInEnv } from '../config/board.js';

/** One driver's table checked with the schema its driver declares. */
function checked(role: Role, use: DriverUse, where: string, key: string): Record<string, unknown> {
  const d = driver(role, use.kind);
  if (!d)
    throw new ConfigError(
      `${where}: ${key}.kind: unknown ${role} kind "${use.kind}": known kinds are ${kindsOf(role).join(', ')}`,
    );
  return validate(d.settings, use.settings, where, key) as Record<string, unknown>;
}

/** A board file, read and checked to its drivers' settings. */
export function loadBoard(nameOrPath: string, opts: { expand?: boolean; env?: NodeJS.ProcessEnv } = {}): Board {
  const b = readBoard(nameOrPath, opts);
  const where = shown(b.file);
  const settings: Record<string, Record<string, unknown>> = {};
  for (const [k, table] of Object.entries(b.load.settings)) {
    const d = driver('load', k);
    if (!d) {
      if (b.load.methods.includes(k))
        throw new ConfigError(
          `${where}: load.methods: unknown load method "${k}": known methods are ${kindsOf('load').join(', ')}`,
        );
      throw new ConfigError(
        `${where}: load.${k}: unknown key: check the spelling (load methods: ${kindsOf('load').join(', ')})`,
      );
    }
    // A method's table outside `methods` is still used (fastboot's by `hil flash
    // --partition`), so it is checked as strictly.
    settings[k] = validate(d.settings, table, where, `load.${k}`) as Record<string, unknown>;
  }
  return {
    ...b,
    console: { ...b.console, settings: checked('console', b.console, where, 'console') },
    power: { ...b.power, settings: checked('power', b.power, where, 'power') },
    load: { ...b.load, settings },
  };
}

export { LOAD_CORE };
/** Whether the runner keeps a lease, and so health, for this board: not for a virtual board
 * each run starts afresh, nor for one a pool hands out (the pool arbitrates it). */
export const isLabBoard = (b: Board) =>
  b.lease ?? !(b.power.kind === 'qemu' || driver('power', b.power.kind)?.arbitrates);
