/** The runner's import rules, checked by `npm run deps` (part of `npm test`). */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'A file never imports, however indirectly, a file that imports it (type imports included).',
      severity: 'error',
      from: { path: '^runner/' },
      to: { circular: true },
    },
    {
      name: 'config-reads-files-only',
      comment: "config/ reads and checks the lab's files; it never loads a driver, the lab layer or USB code (runner/drivers/board.ts checks a board's driver settings).",
      severity: 'error',
      from: { path: '^runner/config/' },
      to: { path: '^runner/(drivers|lab|usb|job|lifecycle|cli)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js', '.mjs'] },
  },
};
