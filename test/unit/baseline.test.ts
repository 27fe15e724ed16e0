import assert from 'node:assert/strict';
import { compareRuns, sideBySide, type TimedLine } from '../../runner/baseline/compare.js';
import { CPU_RULES, DEFAULT_RULES, normalizer } from '../../runner/baseline/normalize.js';
import { compileAll } from '../../runner/config/regex.js';

const norm = normalizer(DEFAULT_RULES, 'test');
const lines = (...xs: [number, string][]): TimedLine[] => xs.map(([t, text]) => ({ t, text }));
const markers = compileAll(['^Hello', '^done'], 'test');

describe('baseline normalisation', () => {
  it('sets aside timestamps, addresses, hex ids, dates and MAC addresses', () => {
    assert.equal(
      norm('[    1.234567] Booting Linux on physical CPU 0x0000000000 [0x411fd070]'),
      'Booting Linux on physical CPU 0x<hex> [0x<hex>]',
    );
    assert.equal(norm('[  0.123456 0:2 axvisor::vmm] VM[1] created'), 'VM[1] created');
    assert.equal(norm('built 2026-11-16T08:38:07Z'), 'built <date>');
    assert.equal(norm('eth0: link 52:54:00:12:34:56 up'), 'eth0: link <mac> up');
    assert.equal(norm('crc ==> bc2a8e32'), 'crc ==> <hex>');
    assert.equal(norm('[    0.000000] Memory: 470000K/524288K available'), null, 'run-to-run noise is set aside');
    assert.equal(norm('   '), null);
  });

  it('leaves CPU counts alone unless the case allows them to differ', () => {
    assert.equal(norm('smp: Brought up 1 node, 4 CPUs'), 'smp: Brought up 1 node, 4 CPUs');
    assert.equal(
      normalizer([...DEFAULT_RULES, ...CPU_RULES], 't')('smp: Brought up 1 node, 4 CPUs'),
      'smp: Brought up 1 node, <n> CPUs',
    );
  });
});

describe('baseline comparison', () => {
  const base = lines([0.1, 'Hello, world!'], [0.2, 'vcpu 0 up'], [0.3, 'done']);

  it('says "same" for the same run with other timestamps and addresses', () => {
    const c = compareRuns(base, lines([0.5, 'Hello, world!'], [0.6, 'vcpu 0 up'], [0.7, 'done']), {
      markers,
      normalize: norm,
    });
    assert.equal(c.status, 'same');
    assert.deepEqual(
      c.markers.map((m) => m.board_s),
      [0.5, 0.7],
    );
  });

  it('names a missing marker, a new error line, and missing and new lines', () => {
    const c = compareRuns(base, lines([0.1, 'ERROR: vcpu 1 failed'], [0.2, 'vcpu 0 up'], [0.3, 'done']), {
      markers,
      normalize: norm,
    });
    assert.equal(c.status, 'differs');
    assert.deepEqual(c.missing_markers, ['^Hello']);
    assert.deepEqual(c.new_trouble, ['ERROR: vcpu 1 failed']);
    assert.deepEqual(c.missing, ['Hello, world!']);
    assert.deepEqual(c.new, ['ERROR: vcpu 1 failed']);
  });

  it('new lines that are not trouble are listed but do not make a difference', () => {
    const c = compareRuns(
      base,
      lines([0.1, 'Hello, world!'], [0.15, 'virtio-blk: 1 disk'], [0.2, 'vcpu 0 up'], [0.3, 'done']),
      { markers, normalize: norm },
    );
    assert.equal(c.status, 'same');
    assert.deepEqual(c.new, ['virtio-blk: 1 disk']);
  });

  it('flags markers out of order and markers far slower than in QEMU', () => {
    const swapped = compareRuns(base, lines([0.1, 'done'], [0.2, 'Hello, world!']), { markers, normalize: norm });
    assert.deepEqual(swapped.order_changed, ['^done', '^Hello']);
    const slow = compareRuns(base, lines([0.1, 'Hello, world!'], [4.5, 'done']), { markers, normalize: norm });
    assert.deepEqual(slow.slow_markers, [{ marker: '^done', baseline_s: 0.3, board_s: 4.5 }]);
    assert.equal(slow.status, 'differs');
    const fast = compareRuns(base, lines([0.01, 'Hello, world!'], [0.9, 'done']), { markers, normalize: norm });
    assert.deepEqual(fast.slow_markers, [], '3x later but less than a second later is not flagged');
  });

  it('counts repeated lines: one of two copies missing is one missing line', () => {
    const c = compareRuns(lines([0, 'tick'], [1, 'tick'], [2, 'done']), lines([0, 'tick'], [2, 'done']), {
      markers,
      normalize: norm,
    });
    assert.deepEqual(c.missing, ['tick']);
  });

  it('writes a side-by-side diff, and a listing when alignment would cost too much', () => {
    const board = lines([0.1, 'ERROR: x'], [0.3, 'done']);
    const c = compareRuns(base, board, { markers, normalize: norm });
    const text = sideBySide(base, board, c, norm, 20);
    assert.match(text, /^# baseline comparison: differs$/m);
    assert.match(text, /^Hello, world!\s+<$/m);
    assert.match(text, /^\s+> ERROR: x$/m);
    assert.match(sideBySide(base, board, c, norm, 20, 1), /too many differences to align/);
  });
});
