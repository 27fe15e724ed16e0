// Which build a run tested: given, from the environment, from the workspace's git commit
// (dirty or not), or from the images' digests.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { buildOf, checkBuildId, imagesBuild } from '../../runner/build/identity.js';
import { tmpDir } from '../helpers.js';

describe('the build under test', () => {
  it('given beats the environment, HIL_BUILD beats its old name, and both beat git', () => {
    const env = { HIL_BUILD: 'env-build', HIL_HYPERVISOR: 'old-name' };
    assert.deepEqual(buildOf('cli-build', ['/nonexistent'], env), { id: 'cli-build', source: 'option' });
    assert.deepEqual(buildOf(undefined, ['/nonexistent'], env), { id: 'env-build', source: 'env' });
    assert.deepEqual(buildOf(undefined, [], { HIL_HYPERVISOR: 'old-name' }), { id: 'old-name', source: 'env' });
    assert.equal(buildOf(undefined, [], {}), undefined);
  });

  it('a name that is empty, too long or has control characters is refused', () => {
    assert.throws(() => checkBuildId('  ', '--build'), /--build " {2}": give a build name/);
    assert.throws(() => checkBuildId('x'.repeat(201), 'HIL_BUILD'), /HIL_BUILD/);
    assert.throws(() => checkBuildId('a\nb', '--build'), /printable/);
    assert.equal(checkBuildId(' 1a2b ', '--build'), '1a2b');
  });

  it("the workspace's commit, 12 hex digits, -dirty when a tracked file changed (an untracked one does not count)", async () => {
    const ws = tmpDir('hil-ws-');
    const git = (...a: string[]) => execa('git', ['-C', ws, ...a]);
    await git('init', '-q');
    writeFileSync(path.join(ws, 'a'), '1');
    await git('add', 'a');
    await git('-c', 'user.email=x@y', '-c', 'user.name=x', 'commit', '-q', '-m', 'one');
    const head = String((await git('rev-parse', 'HEAD')).stdout).trim();
    writeFileSync(path.join(ws, 'untracked'), '');
    const clean = buildOf(undefined, [tmpDir(), ws], {})!;
    assert.equal(clean.id, head.slice(0, 12), 'the first workspace that is a git tree');
    assert.equal(clean.source, 'git');
    assert.equal(clean.commit, head);
    assert.equal(clean.dirty, false);
    writeFileSync(path.join(ws, 'a'), '2');
    const dirty = buildOf(undefined, [ws], {})!;
    assert.equal(dirty.id, `${head.slice(0, 12)}-dirty`);
    assert.equal(dirty.dirty, true);
  });

  it('from the images: the same bytes, in any order, are the same build', () => {
    const a = imagesBuild(['b'.repeat(64), 'a'.repeat(64)])!;
    assert.match(a.id, /^images:[0-9a-f]{12}$/);
    assert.deepEqual(imagesBuild(['a'.repeat(64), 'b'.repeat(64), 'a'.repeat(64)]), a);
    assert.notEqual(imagesBuild(['c'.repeat(64)])!.id, a.id);
    assert.equal(imagesBuild([]), undefined);
  });
});
