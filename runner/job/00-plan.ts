// 0. Plan: the whole run, resolved and validated before any board is touched (LAVA's
//    habit): the board file (or ostool run config), the suite's cases for this board, where
//    each case's image comes from, its Axvisor side (preflight), and every action's own
//    validate step. A wrong path, pattern or address fails here in milliseconds, not after
//    a two-minute boot.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadBoard, type Board } from '../drivers/board.js';
import { wantsFit, type CaseImages, type SpecCase, type TomlCase } from '../config/case.js';
import { shown } from '../config/paths.js';
import { loadSuite, type Suite } from '../config/suite.js';
import { findWorkspace } from '../config/workspace.js';
import { findUp } from '../config/tree.js';
import { driver, kindsOf } from '../drivers/registry.js';
import { ConfigError } from '../errors.js';
import { FindingList, type Finding } from '../axvisor/findings.js';
import { planAxvisor, buildConfigOf } from '../axvisor/plan.js';
import { preflight } from '../axvisor/preflight.js';
import { readBuildConfig } from '../axvisor/build-config.js';
import { buildSpec, type BuildSpec } from '../build/tgoskits.js';
import { ACTIONS } from './pipeline.js';
import type { CasePlan, ImageSource } from './action.js';

export interface PlanOptions {
  board: string;
  suite: string;
  /** A prebuilt image for every case that brings none (--image, HIL_IMAGE). */
  image?: string;
  /** The TGOSKits workspace (--workspace, HIL_WORKSPACE), when not found above the cases. */
  workspace?: string;
  env?: NodeJS.ProcessEnv;
}

export interface JobPlan {
  board: Board;
  suite: Suite;
  plans: CasePlan[];
  specs: SpecCase[];
  /** Cases of the suite for other boards. */
  skipped: { name: string; file: string; reason: string }[];
  findings: Finding[];
  errors: Finding[];
}

const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');

/** Whether a case is for this board: its board_type names the board (or an alias), or, with
 * no board_type, its file name does (`board-<board>...toml`). */
export function caseFitsBoard(c: TomlCase, b: Board): boolean {
  if (b.anyBoardType) return true;
  const names = [b.name, ...b.aliases].map(norm);
  if (c.boardType) return names.includes(norm(c.boardType));
  if (c.fileBoard) return names.some((n) => norm(c.fileBoard!).startsWith(n));
  return true;
}

/** The guest a case boots: its VMs, the rest of `board-<board>-<guest>`, or its name. */
function guestOf(c: TomlCase, b: Board, vms: string[]): string {
  if (vms.length) return vms.join('+');
  const fb = c.fileBoard;
  for (const n of [b.name, ...b.aliases]) {
    if (fb && norm(fb).startsWith(norm(n)) && fb.length > n.length + 1) return fb.slice(n.length + 1);
  }
  const m = /^board-(.+)$/.exec(path.basename(c.file, '.toml'));
  return m ? m[1] : c.name;
}

function planCase(c: TomlCase, board: Board, o: PlanOptions): CasePlan {
  const f = new FindingList();
  const where = shown(c.file);
  const workspace = o.workspace
    ? path.resolve(o.workspace)
    : c.axvisor?.workspace
      ? path.resolve(path.dirname(c.file), c.axvisor.workspace)
      : findWorkspace(path.dirname(c.file), o.env);
  const axvisor = planAxvisor(c.file, c.axvisor, { file: board.file, axvisor: board.axvisor }, { workspace });
  let images: CaseImages | undefined;
  let imageSource: ImageSource;
  let build: BuildSpec | undefined;
  const d = board.load.dtb_file;
  const boardDtb =
    d && (path.isAbsolute(d) ? d : (findUp(path.dirname(board.file), d) ?? path.resolve(path.dirname(board.file), d)));
  if (boardDtb && !existsSync(boardDtb))
    throw new ConfigError(
      `${shown(board.file)}: load.dtb_file: ${shown(boardDtb)} does not exist (the board's device tree)`,
    );
  const dtb = c.images?.dtb ?? c.dtbFile ?? boardDtb;
  if (c.images) {
    images = { ...c.images, ...(dtb ? { dtb } : {}) };
    imageSource = 'case';
  } else if (o.image) {
    images = { kernel: path.resolve(o.image), ...(dtb ? { dtb } : {}) };
    imageSource = 'image-option';
  } else {
    const cfgFile = buildConfigOf(c.file, c.axvisor);
    const cfg = cfgFile ? readBuildConfig(cfgFile, f) : undefined;
    if (cfg && workspace) {
      const spec = buildSpec(cfg, workspace, c.build);
      if (typeof spec === 'string') throw new ConfigError(`${where}: ${spec}`);
      build = spec;
      imageSource = 'build';
      images = dtb ? { kernel: '', dtb } : undefined;
    } else if (c.ubootCmd?.length) {
      imageSource = 'board-storage';
    } else {
      const why = cfg
        ? `its build config is ${shown(cfg.file)}, but no TGOSKits workspace (a Cargo.toml with [workspace]) is above it: give --workspace`
        : 'it has no [images] table and no build-*.toml above it';
      throw new ConfigError(
        `${where}: nothing to boot: ${why}; or give a prebuilt image with --image (HIL_IMAGE), or [images] kernel = "..." in the case`,
      );
    }
  }
  const methods = c.loadMethods ?? board.load.methods;
  for (const m of methods) {
    if (!driver('load', m))
      throw new ConfigError(
        `${where}: load_method: unknown load method "${m}": known methods are ${kindsOf('load').join(', ')}`,
      );
    board.load.settings[m] ??= driver('load', m)!.settings.parse({}) as Record<string, unknown>;
  }
  if (axvisor) axvisor.willBuild = imageSource === 'build';
  const plan: CasePlan = {
    case: c,
    board,
    images,
    imageSource,
    build,
    axvisor,
    methods,
    findings: [],
    fit: board.load.image_format === 'fit' || wantsFit(c),
    guest: guestOf(c, board, axvisor?.vms.map((v) => v.config.name) ?? []),
  };
  for (const a of ACTIONS) a.validate?.(plan, f);
  plan.findings = [...(axvisor ? preflight(axvisor, board) : []), ...f.all];
  return plan;
}

export function planJob(o: PlanOptions): JobPlan {
  const board = loadBoard(o.board, { env: o.env });
  const suite = loadSuite(o.suite, { env: o.env, defaults: board.caseDefaults });
  const plans: CasePlan[] = [];
  const specs: SpecCase[] = [];
  const skipped: JobPlan['skipped'] = [];
  const single = suite.cases.length === 1;
  for (const c of suite.cases) {
    if (c.kind === 'spec') {
      specs.push(c);
      continue;
    }
    if (!caseFitsBoard(c, board)) {
      const reason = `for board ${c.boardType ?? c.fileBoard}, not ${board.name}${board.aliases.length ? ` (aliases: ${board.aliases.join(', ')})` : ''}`;
      if (single)
        throw new ConfigError(
          `${shown(c.file)}: board_type "${c.boardType ?? c.fileBoard}" does not match board ${board.name} (aliases: ${board.aliases.join(', ') || 'none'})`,
        );
      skipped.push({ name: c.name, file: shown(c.file), reason });
      continue;
    }
    plans.push(planCase(c, board, o));
  }
  if (plans.length === 0 && specs.length === 0) {
    const others = [
      ...new Set(suite.cases.flatMap((c) => (c.kind === 'spec' ? [] : [c.boardType ?? c.fileBoard ?? c.name]))),
    ];
    throw new ConfigError(
      `suite ${shown(suite.root)} has no case for board ${board.name}` +
        `${board.aliases.length ? ` (aliases: ${board.aliases.join(', ')})` : ''}: ${skipped.length} case(s) are ` +
        `for other boards (${others.join(', ')})${
          board.aliases.length
            ? ''
            : `; if one of them is this board, add its board_type to aliases in ${shown(board.file)}`
        }`,
    );
  }
  // An ostool run config names no board: the cases' board_type does. Cases of several
  // boards cannot all be this one board.
  if (board.anyBoardType) {
    const types = [
      ...new Map(
        plans.flatMap((p) => (p.case.boardType ? [[norm(p.case.boardType), p.case.boardType] as const] : [])),
      ).values(),
    ];
    if (types.length > 1)
      throw new ConfigError(
        `${shown(board.file)} is an ostool run config, which names no board, and suite ${shown(suite.root)} has ` +
          `cases for ${types.length} boards (${types.join(', ')}): give the suite folder of one board, or make the ` +
          `run config a board file that names it (hil board import ${shown(board.file)} --name NAME --alias ` +
          `BOARD_TYPE)`,
      );
    if (types.length === 1) board.name = types[0].toLowerCase().replace(/[^a-z0-9]+/g, '-');
  }
  const findings = plans.flatMap((p) => p.findings);
  return { board, suite, plans, specs, skipped, findings, errors: findings.filter((x) => x.level === 'error') };
}
