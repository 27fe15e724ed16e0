// A history made by an older runner is brought up to date when a newer one opens it: the
// schema's statements are idempotent and rerun for an older version (new tables, and new
// columns at the end), and what it held is kept.
import assert from 'node:assert/strict';
import { History } from '../../runner/history/store.js';
import { SCHEMA_VERSION } from '../../runner/history/schema.js';
import { nights } from '../../fixtures/history/nights.js';
import { ENGINES, newLocation } from '../engines.js';

describe('the history schema across runner versions', () => {
  for (const engine of ENGINES) {
    it(`on ${engine}: a version-1 store (no bisects, no metric units) is upgraded in place, its runs kept`, async () => {
      const location = await newLocation(engine);
      const old = await History.open(location);
      await old.add(nights(['b0', 'b1'], { rk3568: { a: 'PF' } }));
      // The store as the runner of the last release left it.
      await old.db.exec(
        "drop table bisects; alter table metric_days drop column unit; update hil_meta set value = '1' where key = 'schema_version'",
      );
      await old.close();
      const h = await History.open(location);
      try {
        const v = await h.db.query<{ value: string }>("select value from hil_meta where key = 'schema_version'");
        assert.equal(v[0].value, String(SCHEMA_VERSION));
        assert.deepEqual(await h.db.query('select count(*)::int as n from bisects'), [{ n: 0 }]);
        const cols = await h.db.query<{ column_name: string }>(
          "select column_name from information_schema.columns where table_name = 'metric_days' and column_name = 'unit'",
        );
        assert.equal(cols.length, 1);
        assert.equal(await h.count(), 2, 'the runs are kept');
      } finally {
        await h.close();
      }
    });
  }
});
