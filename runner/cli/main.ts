// hil: run suites on boards, list what exists, report. Each command loads only what it
// uses (a report never loads a serial driver; `--help` loads nothing but this file).
// Exit codes: 0 pass, 1 fail or timeout, 2 lab error, 3 bad usage or configuration, 4 a
// runner bug, 130 interrupted.
import { Command, CommanderError, Option } from 'commander';
import { EXIT, kindOf } from '../errors.js';

const program = new Command('hil')
  .description('Hardware-in-the-loop test runner for the Axvisor hypervisor')
  .option('--lab <dir>', "the lab's folder: its boards/, suites/ and reports/ (default: here, or HIL_LAB)")
  .hook('preAction', async (cmd) => {
    const lab = cmd.opts().lab as string | undefined;
    if (lab) process.env.HIL_LAB = lab;
    // Secrets the environment holds are masked in everything written, however they are read.
    (await import('../config/env.js')).rememberSecretEnv();
  })
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

const historyOpt = () =>
  new Option(
    '--history <store>',
    'the history: a folder (an embedded database; default reports/history, or HIL_HISTORY) or a postgres:// server address',
  );
const boardOpt = () =>
  new Option(
    '-b, --board <name|path>',
    'board name (boards/<name>.toml), a board file, or an ostool U-Boot run config',
  ).makeOptionMandatory();
const suiteOpt = () =>
  new Option(
    '-s, --suite <name|path>',
    'suite name (suites/<name>), a folder of cases (TGOSKits test-suit/...), a case .toml or a .spec.ts',
  ).makeOptionMandatory();
const imageOpt = () =>
  new Option(
    '--image <file>',
    'a prebuilt image for every case that brings none (or HIL_IMAGE): build once, run many boards',
  );
const workspaceOpt = () =>
  new Option(
    '--workspace <dir>',
    'the TGOSKits workspace the cases build in (default: found above the cases, or HIL_WORKSPACE)',
  );

program
  .command('run')
  .description('run a suite (a folder of cases, one case .toml, or a .spec.ts) on a board')
  .addOption(boardOpt())
  .addOption(suiteOpt())
  .option('-o, --out <dir>', 'output folder (default reports/<time>-<board>-<suite>)')
  .option('--reporter <name>', 'mocha reporter for specs', 'spec')
  .option('--dry-run', 'validate the plan and say what would run, without touching the board')
  .option('--baselines <dir>', 'where QEMU baselines are read from (default fixtures/baselines)')
  .addOption(historyOpt())
  .option('--no-history', 'do not record the run in the history store')
  .option(
    '--build <name>',
    "the build of the hypervisor under test, recorded with the run (or HIL_BUILD; CI passes $GITHUB_SHA); default: the workspace's git commit, else the images' digests",
  )
  .addOption(new Option('--hypervisor <commit>', 'the old name of --build').hideHelp())
  .option(
    '--wait <duration>',
    'how long to wait for a board another run holds, or for a free one in a board pool (90s, 10m; default: not at all)',
  )
  .addOption(imageOpt())
  .addOption(workspaceOpt())
  .action(async (o) => {
    process.exitCode = await (await import('./run.js')).run(o);
  });
program
  .command('bisect')
  .description(
    'the first bad commit of a TGOSKits workspace for one case on one board: git bisect, with the runner building and running each commit',
  )
  .addOption(boardOpt())
  .addOption(suiteOpt())
  .requiredOption('--good <commit>', 'a commit where the case passes')
  .requiredOption('--bad <commit>', 'a later commit where it fails')
  .option('--workspace <dir>', 'the TGOSKits workspace, a git work tree (default: the current folder)')
  .option('--confirm <n>', 'more runs that must agree before a commit is marked good or bad (default 1)')
  .option('-o, --out <dir>', 'where the runs and bisect.md go (default reports/<time>-bisect-<board>-<case>)')
  .addOption(historyOpt())
  .option('--no-history', 'record neither the runs nor the bisect')
  .action(async (o) => {
    process.exitCode = await (await import('./bisect.js')).bisectCmd(o);
  });
program
  .command('preflight')
  .description("check a suite's cases, build configs and VM configs against the board, without touching it")
  .addOption(boardOpt())
  .addOption(suiteOpt())
  .option('--json', 'print the findings as JSON')
  .addOption(imageOpt())
  .addOption(workspaceOpt())
  .action(async (o) => {
    process.exitCode = await (await import('./run.js')).preflightCmd(o);
  });
const baseline = program.command('baseline').description('QEMU baselines of guests');
const baselineOpts = (c: Command) =>
  c
    .option('-s, --suite <name|path>', 'the qemu_case of every case in this suite')
    .option('--qemu-case <file>', 'this QEMU case (TGOSKits qemu-<arch>.toml)')
    .option('--baselines <dir>', 'where baselines are kept (default fixtures/baselines)')
    .addOption(imageOpt())
    .option(
      '--build-config <file>',
      "the build the case runs with, when no build-<target>.toml pairs with it (its target is QEMU's architecture, as ostool's --config)",
    )
    .addOption(workspaceOpt())
    .option('-o, --out <dir>', "where each QEMU run's transcript goes (default reports/<time>-baseline-...)");
baselineOpts(
  baseline.command('record').description('run QEMU cases as ostool runs them and store each run as a baseline'),
).action(async (o) => {
  process.exitCode = await (await import('./baseline.js')).recordBaselines(o);
});
baselineOpts(
  baseline
    .command('check')
    .description('run QEMU cases again and compare each run with its stored baseline (exit 1 when one differs)'),
).action(async (o) => {
  process.exitCode = await (await import('./baseline.js')).checkBaselines(o);
});
const history = program.command('history').description('the store of recorded runs');
history
  .command('add')
  .description('record finished run folders (their results.json) into the history store')
  .argument('<runs...>', 'run folders written by hil run')
  .addOption(historyOpt())
  .action(async (runs: string[], o) => {
    process.exitCode = await (await import('./report.js')).historyAdd(runs, o);
  });
history
  .command('import')
  .description(
    'bring JSON-lines histories (one record a line: the store of earlier runners, or an export) into the history',
  )
  .argument('<files...>', 'JSON-lines files; lines that are not records are told and skipped')
  .addOption(historyOpt())
  .action(async (files: string[], o) => {
    process.exitCode = await (await import('./report.js')).historyImport(files, o);
  });
history
  .command('export')
  .description('write every recorded case run as JSON lines (one record a line)')
  .option('-o, --out <file>', 'a new file to write (default: standard output)')
  .addOption(historyOpt())
  .action(async (o) => {
    process.exitCode = await (await import('./report.js')).historyExport(o);
  });
const report = program.command('report').description('reports from runs and from the history store');
report
  .command('allure')
  .description("turn one or many runs into Allure's HTML report (needs Java)")
  .argument('<runs...>', 'run folders written by hil run (or their allure-results folders)')
  .requiredOption('-o, --out <dir>', 'where the report goes (its history is kept for trends)')
  .option('--single-file', 'one index.html that opens from disk without a server')
  .action(async (runs: string[], o) => {
    process.exitCode = await (await import('./report.js')).reportAllure(runs, o);
  });
report
  .command('regressions')
  .description(
    'per board: new failures, fixed, still failing, flaky, lab errors apart, metric trends (Markdown and HTML)',
  )
  .addOption(historyOpt())
  .option('-b, --board <name>', 'only this board')
  .option('--since <date>', 'only runs from this date on (2026-11-01)')
  .option('--window <n>', 'runs shown per case and looked at for flakiness', '20')
  .option('-o, --out <dir>', 'where regressions.md and regressions.html go (default reports/regressions)')
  .action(async (o) => {
    process.exitCode = await (await import('./report.js')).reportRegressions(o);
  });
report
  .command('compare')
  .description(
    "a pull request's build against its base: new failures, fixed, still failing, not run on a side (exit 1 on a new failure)",
  )
  .requiredOption('--base <build>', 'the base build (the target branch: $GITHUB_BASE_SHA)')
  .requiredOption('--head <build>', "the pull request's build")
  .option(
    '-b, --board <name>',
    'only this board (repeatable; default: every board either build ran on)',
    (v: string, acc: string[] = []) => [...acc, v],
  )
  .addOption(historyOpt())
  .option('-o, --out <dir>', 'also write compare.md and compare.json there')
  .action(async (o) => {
    process.exitCode = await (await import('./report.js')).reportCompare(o);
  });
report
  .command('release')
  .description('boards x cases, latest verdicts; exit 0 when the release criteria hold, 1 when not')
  .addOption(historyOpt())
  .option('--build <name>', 'the build to qualify (default: the newest recorded on the boards)')
  .option('--criteria <file>', 'TOML: boards, required_cases, [board.<name>] required_cases, allow_flaky, since')
  .option('-b, --board <name>', 'a board the release must pass on (repeatable)', (v: string, acc: string[] = []) => [
    ...acc,
    v,
  ])
  .option(
    '--require <case>',
    "a case that must pass on every board (repeatable; default: each board's cases of its previous build)",
    (v: string, acc: string[] = []) => [...acc, v],
  )
  .option(
    '--allow-flaky <case>',
    'a case whose mixed results on the build do not block (repeatable)',
    (v: string, acc: string[] = []) => [...acc, v],
  )
  .option('--since <date>', "required cases: each board's cases run since this date")
  .option('-o, --out <dir>', 'also write release.md, release.json and release.html there')
  .action(async (o) => {
    process.exitCode = await (await import('./report.js')).reportRelease(o);
  });
program
  .command('flash')
  .description(
    "write an image to a board's storage: over USB with rockusb (--lba; from maskrom with the board's loader file if need be), or through its U-Boot with fastboot (--partition)",
  )
  .requiredOption(
    '-b, --board <name>',
    'the board (its [usb] table, or its [load.fastboot] table, says how it is reached)',
  )
  .option('--image <file>', 'the image to write')
  .option('--lba <sector>', 'rockusb: the first sector (512 bytes) to write (default 0)')
  .option(
    '--partition <name>',
    "fastboot: the partition to write (a name from the board's partition table, a [load.fastboot] raw_partitions name, mmc0 for the whole card)",
  )
  .option('--erase', 'fastboot: erase the partition before writing it')
  .option(
    '--loader <file>',
    "rockusb: a Rockchip loader file for a board in maskrom (default: the board's [usb] loader)",
  )
  .option('--write-loader', 'rockusb: also write the loader itself at sector 64, as an ID block (rkdeveloptool ul)')
  .option('--no-verify', 'do not read the image back')
  .option('--wait <duration>', 'wait this long for a board another run holds (90, 10m)')
  .option('-o, --out <dir>', 'fastboot: where the transcript and results.json go')
  .action(async (o) => {
    process.exitCode = await (await import('./flash.js')).flash(o);
  });
program
  .command('console')
  .description(
    "the board's console on this terminal, through its console driver, with the board held as a run holds it: keys " +
      'to the board, its output here; Ctrl-] leaves (exit 0; 2 if the console was lost, 130 on a signal)',
  )
  .addOption(boardOpt())
  .option(
    '--power-on',
    'power the board on once the console listens, and off on leaving (default: attach without touching power)',
  )
  .option(
    '--wait <duration>',
    'how long to wait for a board another run holds, or for a free one in a board pool (90s, 10m; default: not at all)',
  )
  .option('--log <file>', "write the console's bytes to this file as they arrive, secrets masked")
  .action(async (o) => {
    process.exitCode = await (await import('./console.js')).consoleCmd(o);
  });
const board = program.command('board').description('board files');
board
  .command('import')
  .description('turn an ostool U-Boot run config (e.g. TGOSKits .github/workflows/uboot.toml) into a board file')
  .argument('<run-config>', 'the ostool run config')
  .requiredOption('--name <name>', "the board's name (e.g. roc-rk3568-pc)")
  .option('-o, --out <file>', 'where to write it (default boards/<name>.toml in the lab); never overwrites')
  .option(
    '--alias <board_type>',
    "a board_type the cases name this board by (e.g. ROC-RK3568-PC; repeatable): the board's aliases",
    (v: string, acc: string[] = []) => [...acc, v],
  )
  .action(async (file: string, o) => {
    process.exitCode = (await import('./list.js')).importBoard(file, o);
  });
program
  .command('boards')
  .description("list the boards (the lab's, then the runner's own), and the environment each needs")
  .action(async () => {
    process.exitCode = (await import('./list.js')).boards();
  });
program
  .command('suites')
  .description('list the suites and their cases')
  .action(async () => {
    process.exitCode = (await import('./list.js')).suites();
  });
const lab = program.command('lab').description("the lab: who holds which board, and each board's health");
lab
  .command('status')
  .description('the boards held by runs (leases), by whom, since when, and whether the holder is alive')
  .action(async () => {
    process.exitCode = await (await import('./lab.js')).status();
  });
lab
  .command('check')
  .description(
    'health check: power a board, reach U-Boot, read its version and environment, power it off; a board that fails is bad until it passes',
  )
  .option(
    '-b, --board <name>',
    'a board to check (repeatable; default every board of the lab)',
    (v: string, acc: string[] = []) => [...acc, v],
  )
  .option('--wait <duration>', 'how long to wait for a board another run holds (90s, 10m)')
  .option(
    '-o, --out <dir>',
    "the check's folder (transcript, power.log, results.json); with several boards, a folder per board in it (default reports/<time>-<board>-health-check)",
  )
  .action(async (o) => {
    process.exitCode = await (await import('./lab.js')).check(o);
  });
program
  .command('matrix')
  .description(
    'the boards x suites of a nightly as a GitHub Actions matrix (JSON): one entry per board, with its suites',
  )
  .requiredOption('-s, --suites <names>', 'suites the nightly runs, comma-separated')
  .option('-b, --boards <names>', 'boards, comma-separated (default: all the lab knows)')
  .action(async (o) => {
    process.exitCode = await (await import('./matrix.js')).matrix(o);
  });
program
  .command('drivers')
  .description('list the console, power and load drivers, and their settings')
  .option('--markdown', 'print them as the table docs/lab.md holds')
  .option('--readme <file>', 'rewrite the driver table in this Markdown file (docs/lab.md, between its markers)')
  .action(async (o) => {
    process.exitCode = await (await import('./list.js')).drivers(o);
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : EXIT.config;
  } else if (kindOf(e) === 'config') {
    process.stderr.write(`hil: ${(e as Error).message}\n`);
    process.exitCode = EXIT.config;
  } else if (kindOf(e) === 'lab') {
    // The lab's trouble outside a run (a history server that does not answer): exit 2.
    process.stderr.write(`hil: ${(e as Error).message}\n`);
    process.exitCode = EXIT.error;
  } else if (kindOf(e) === 'interrupted') {
    process.exitCode = EXIT.interrupted;
  } else {
    const { redact } = await import('../config/env.js');
    process.stderr.write(`hil: runner bug (please report it): ${redact(String((e as Error).stack ?? e))}\n`);
    process.exitCode = EXIT.internal;
  }
}
// The command is done: whatever is still scheduled (a closed port's timers, a module's
// idle handles) must not keep the process alive. What was printed reaches its pipe first.
process.stdout.write('', () => process.stderr.write('', () => process.exit()));
