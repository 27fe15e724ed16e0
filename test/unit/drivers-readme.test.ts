// The driver table of docs/lab.md is `hil drivers --markdown`: made from the registry (each
// driver's kind, summary, notes and settings schema), never kept by hand.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { allDrivers } from '../../runner/drivers/registry.js';
import { driversMarkdown, settingKeys, tableIn, withTable } from '../../runner/drivers/table.js';
import { root } from '../helpers.js';

describe('the driver table of docs/lab.md', () => {
  it('is the one `hil drivers --markdown` makes (run `hil drivers --readme docs/lab.md` after changing a driver)', () => {
    const readme = readFileSync(path.join(root, 'docs', 'lab.md'), 'utf8');
    const table = tableIn(readme);
    assert.ok(table !== undefined, 'docs/lab.md has the markers of the table');
    assert.equal(table, driversMarkdown());
  });

  it('has a row per registered driver with the keys its schema declares', () => {
    const rows = driversMarkdown().split('\n').slice(2);
    assert.equal(rows.length, allDrivers().length);
    const pdu = rows.find((r) => r.startsWith('| power | `pdu` |'))!;
    assert.match(pdu, /\| `model`, `host`, `port`, `outlet`, `user`, `password`, `via`, `cycle_delay` \|$/);
    assert.deepEqual(settingKeys(allDrivers().find((d) => d.kind === 'qemu')!), [
      'binary',
      'args',
      'disk',
      'pty_link',
      'cycle_delay',
    ]);
  });

  it('is rewritten between its markers and nowhere else', () => {
    const text = readFileSync(path.join(root, 'docs', 'lab.md'), 'utf8');
    const stale = withTable(text, '| role | kind |\n|---|---|\n| power | `gone` |')!;
    assert.notEqual(stale, text);
    assert.equal(withTable(stale, driversMarkdown()), text);
    assert.equal(withTable('no markers here', driversMarkdown()), undefined);
  });
});
