// A secret a guest prints back (a `${secret:NAME}` typed into its shell, a token in an
// error) is masked in every file a run writes: results.json, JUnit's record details and
// Allure's step names and messages were written in clear before.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expandEnvString } from '../../runner/config/env.js';
import { writeAllure } from '../../runner/model/allure.js';
import { toJUnit } from '../../runner/model/junit.js';
import { newRun, settle, writeResults, type CaseResult } from '../../runner/model/results.js';
import { tmpDir } from '../helpers.js';

describe('secrets in every output', () => {
  it('masked in results.json, junit.xml and every Allure file, the step names included', () => {
    const secret = 'hunter2-9f1c0a7b';
    assert.equal(
      expandEnvString('${secret:HIL_TEST_PDU_PASS}', 'board.toml: power.on', { HIL_TEST_PDU_PASS: secret }),
      secret,
    );
    const run = newRun({ board: 'b', suite: 's', build: { id: 'b1', source: 'option' } });
    const c: CaseResult = {
      name: 'login',
      file: 'suites/s/login.toml',
      kind: 'toml',
      verdict: 'fail',
      reason: `login as root with password ${secret} refused`,
      phase: 'guest',
      phases: { power: 0.1, uboot: 0.2, load: 0.3, boot: 0.4, guest: 1, total: 2 },
      transfers: [
        { role: 'kernel', method: 'tftp', image: `/srv/${secret}/Image`, bytes: 1, seconds: 1, bytes_per_s: 1 } as any,
      ],
      records: [
        { case_id: `auth-${secret}`, status: 'fail', message: `echoed ${secret}`, details: { typed: secret }, at_s: 1 },
      ],
      last_lines: [`# echo ${secret}`],
      started: new Date().toISOString(),
      warnings: [],
    };
    run.cases.push(c);
    settle(run);
    const dir = tmpDir('hil-secrets-');
    writeResults(dir, run);
    writeAllure(dir, run);
    const xml = toJUnit(run);
    assert.ok(xml.includes('auth-***'), 'the record is written, masked');
    assert.ok(!xml.includes(secret), 'junit.xml');
    assert.ok(!readFileSync(path.join(dir, 'results.json'), 'utf8').includes(secret), 'results.json');
    const allure = path.join(dir, 'allure-results');
    const files = readdirSync(allure);
    assert.ok(files.some((f) => f.endsWith('-result.json')));
    for (const f of files)
      assert.ok(!readFileSync(path.join(allure, f), 'utf8').includes(secret), `allure-results/${f}`);
    assert.equal(c.reason.includes(secret), true, 'the model itself is not changed in memory');
  });
});
