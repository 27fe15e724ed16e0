// known_hosts as OpenSSH reads it: plain and hashed names, [host]:port off port 22,
// wildcards and negations, @revoked keys; an unknown host and a changed key are refused
// with what to do.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkHostKey, fingerprint } from '../../runner/remote/lab-host.js';
import { tmpDir } from '../helpers.js';

describe('lab host key checking (known_hosts)', () => {
  const key = randomBytes(51);
  const other = randomBytes(51);
  const b64 = (k: Buffer) => k.toString('base64');
  const file = path.join(tmpDir(), 'known_hosts');
  const check = (lines: string[], host: string, port = 22, k = key) => {
    writeFileSync(file, `${lines.join('\n')}\n`);
    return checkHostKey(file, host, port, k);
  };

  it('trusts a listed key under its plain, bracketed, hashed or wildcard name', () => {
    assert.equal(check([`lab1,10.0.0.5 ssh-ed25519 ${b64(key)}`], '10.0.0.5'), undefined);
    assert.equal(check([`[lab1]:2222 ssh-ed25519 ${b64(key)}`], 'lab1', 2222), undefined);
    assert.match(
      check([`lab1 ssh-ed25519 ${b64(key)}`], 'lab1', 2222)!,
      /^unknown host \[lab1\]:2222 .*ssh-keyscan -p 2222 lab1 >> /,
      'port 22 entries do not cover 2222',
    );
    const salt = randomBytes(20);
    const hashed = `|1|${b64(salt)}|${createHmac('sha1', salt).update('lab1').digest('base64')}`;
    assert.equal(check([`${hashed} ssh-ed25519 ${b64(key)}`], 'lab1'), undefined);
    assert.equal(check([`*.lab.example ssh-ed25519 ${b64(key)}`], 'b3.lab.example'), undefined);
    assert.match(check([`*.lab.example,!b3.lab.example ssh-ed25519 ${b64(key)}`], 'b3.lab.example')!, /^unknown host/);
  });

  it('refuses an unknown host, a changed key and a revoked one, saying what to do', () => {
    assert.equal(
      check(['# nothing'], 'lab1'),
      `unknown host lab1 (key ${fingerprint(key)}): check that fingerprint with the lab's admin, then add it: ssh-keyscan -p 22 lab1 >> ${file}`,
    );
    assert.match(
      check([`lab1 ssh-ed25519 ${b64(other)}`], 'lab1')!,
      /^the host key of lab1 CHANGED: it offered SHA256:[\w+/]+, .*ssh-keygen -R 'lab1'/,
    );
    assert.equal(
      check([`lab1 ssh-ed25519 ${b64(other)}`, `lab1 ssh-ed25519 ${b64(key)}`], 'lab1'),
      undefined,
      'one of several keys listed',
    );
    assert.match(
      check([`@revoked lab1 ssh-ed25519 ${b64(key)}`, `lab1 ssh-ed25519 ${b64(key)}`], 'lab1')!,
      /marked @revoked/,
    );
    assert.match(checkHostKey(path.join(tmpDir(), 'none'), 'lab1', 22, key)!, /cannot read known_hosts .*: ENOENT/);
  });
});
