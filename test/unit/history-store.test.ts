// The history store at a year's size: appending reads nothing, readers keep an index beside
// the file that follows appends and notices replacements, and a run stored twice counts once.
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, existsSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { syntheticHistory } from '../../fixtures/history/synthetic.js';
import { HistoryStore } from '../../runner/model/history-index.js';
import { appendHistory, readHistoryFile, type HistoryRecord } from '../../runner/model/history.js';
import { tmpDir } from '../helpers.js';

const nights = (boards: string[], n: number, start?: string) => syntheticHistory({ boards, cases: 5, nights: n, start });
const lines = (rs: HistoryRecord[]) => `${rs.map((r) => JSON.stringify(r)).join('\n')}\n`;
const keyOf = (r: Pick<HistoryRecord, 'board' | 'case' | 'started'>) => `${r.board} ${r.case} ${r.started}`;
const byTime = (rs: HistoryRecord[]) => [...rs].sort((a, b) => (a.started < b.started ? -1 : a.started > b.started ? 1 : 0));

function summariesOf(file: string) {
  const store = HistoryStore.open(file);
  try {
    return { keys: store.summaries.map(keyOf), full: store.summaries.map((s) => store.record(s)), bad: store.bad };
  } finally {
    store.close();
  }
}

describe('history store', () => {
  it('appends without reading the store: a 3 GiB store takes a run as a 10-line one does', () => {
    // Reading the store whole (what appending did before) fails outright past 2 GiB in Node.
    const file = path.join(tmpDir(), 'history.jsonl');
    writeFileSync(file, '');
    truncateSync(file, 3 * 1024 ** 3 - 1); // sparse: no disk used
    appendFileSync(file, '\n');
    const [record] = nights(['b'], 1);
    assert.equal(appendHistory(file, [record]), 1);
    assert.equal(statSync(file).size, 3 * 1024 ** 3 + JSON.stringify(record).length + 1);
  });

  it('reads back what was appended, in the order the runs started, each run once', () => {
    const file = path.join(tmpDir(), 'history.jsonl');
    const a = nights(['board-a'], 3);
    const b = nights(['board-b'], 3);
    appendHistory(file, a);
    appendHistory(file, b); // board-b's nights interleave with board-a's in time
    appendHistory(file, a.slice(0, 4)); // a run recorded twice
    const { keys, full, bad } = summariesOf(file);
    assert.deepEqual(keys, byTime([...a, ...b]).map(keyOf));
    assert.deepEqual(
      full.map((r) => r.started),
      keys.map((k) => k.split(' ')[2]),
      'each summary reads its own record',
    );
    assert.deepEqual(bad, []);
    assert.ok(existsSync(`${file}.index`), 'the index is kept beside the store');
  });

  it('runs appended out of time order take their place among indexed ones, whether the index is saved anew or not', () => {
    const file = path.join(tmpDir(), 'history.jsonl');
    const a = syntheticHistory({ boards: ['board-a'], cases: 50, nights: 40 });
    appendHistory(file, a);
    summariesOf(file); // builds and saves the index
    const index = readFileSync(`${file}.index`);
    // A few runs that started among the indexed ones: read again by each reader, not saved.
    const few = nights(['board-b'], 3, '2026-09-10T02:00:10Z');
    appendHistory(file, few);
    assert.deepEqual(summariesOf(file).keys, byTime([...a, ...few]).map(keyOf));
    assert.ok(readFileSync(`${file}.index`).equals(index), 'a small tail leaves the saved index as it was');
    // Many (over 4 MiB of lines): merged into the index, which is saved anew.
    const many = syntheticHistory({ boards: ['board-c', 'board-d', 'board-e', 'board-f'], cases: 50, nights: 40, start: '2026-09-01T02:00:05Z' });
    appendHistory(file, many);
    const all = byTime([...a, ...few, ...many]).map(keyOf);
    assert.deepEqual(summariesOf(file).keys, all);
    assert.ok(!readFileSync(`${file}.index`).equals(index), 'the index was saved with the new rows');
    assert.deepEqual(summariesOf(file).keys, all, 'and reads back the same from the saved index');
  });

  it('an index follows appends, and is rebuilt when the store was replaced or the index is damaged', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'history.jsonl');
    const first = nights(['b'], 4);
    writeFileSync(file, lines(first));
    assert.equal(summariesOf(file).keys.length, 20);
    const more = nights(['b'], 2, '2026-12-01T02:00:00Z');
    appendHistory(file, more);
    assert.deepEqual(summariesOf(file).keys, [...first, ...more].map(keyOf), 'the appended nights are indexed');
    // Replaced by a store of the same size whose records differ: a merge, an edit.
    const other = first.map((r) => ({ ...r, board: 'c' }));
    writeFileSync(file, lines([...other, ...more.map((r) => ({ ...r, board: 'c' }))]));
    assert.ok(
      summariesOf(file).keys.every((k) => k.startsWith('c ')),
      'the replaced store is read, not the old index',
    );
    writeFileSync(`${file}.index`, 'HILHIX03 cut short');
    assert.equal(summariesOf(file).keys.length, 30, 'a damaged index is rebuilt');
  });

  it('histories of parallel jobs merge by concatenation, and a record is counted once', () => {
    const dir = tmpDir();
    const shared = nights(['board-a'], 2);
    const jobA = path.join(dir, 'a.jsonl');
    const jobB = path.join(dir, 'b.jsonl');
    writeFileSync(jobA, lines([...shared, ...nights(['board-a'], 3).slice(10)]));
    writeFileSync(jobB, lines([...shared, ...nights(['board-b'], 1)]));
    const merged = path.join(dir, 'merged.jsonl');
    copyFileSync(jobA, merged);
    appendFileSync(merged, readFileSync(jobB));
    assert.equal(readHistoryFile(merged).records.length, 10 + 5 + 5);
  });

  it('a last line without its newline is a record when whole, and waits when cut', () => {
    const file = path.join(tmpDir(), 'history.jsonl');
    const rs = nights(['b'], 1);
    writeFileSync(file, lines(rs).trimEnd()); // written by hand: no final newline
    assert.equal(summariesOf(file).keys.length, 5);
    appendFileSync(file, `\n${JSON.stringify(rs[0]).slice(0, 40)}`); // a run being written
    assert.deepEqual(summariesOf(file).bad, [], 'not yet a bad line: it may still be finished');
    appendHistory(file, nights(['c'], 1)); // the next run starts a line of its own
    const after = summariesOf(file);
    assert.deepEqual(after.bad, [6]);
    assert.equal(after.keys.length, 10);
  });
});
