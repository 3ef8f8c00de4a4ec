import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { getCodeVersion, PROJECT_ROOT, readCodeVersion } from '../../../lib/registry/code-version';

const REPO = path.resolve(__dirname, '..', '..', '..');

let tmp: string;

void describe('code version', () => {
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-code-version-'));
    await fs.writeFile(path.join(tmp, 'package.json'), JSON.stringify({ name: 'x', version: '9.8.7' }));
  });
  after(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  void it('finds the project root from any working directory', () => {
    assert.equal(PROJECT_ROOT, REPO);
  });

  void it("reads this checkout's package version, HEAD commit and whether it has changes", async () => {
    const version = await readCodeVersion({ env: {} });
    const pkg = JSON.parse(await fs.readFile(path.join(REPO, 'package.json'), 'utf8')) as { version: string };
    assert.equal(version.packageVersion, pkg.version);
    assert.match(version.gitCommit ?? '', /^[0-9a-f]{40}$/);
    assert.equal(
      version.gitCommit,
      execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim(),
    );
    assert.equal(typeof version.gitDirty, 'boolean');
  });

  void it('takes the commit from MLOPS_GIT_COMMIT when set, as in a container image without .git', async () => {
    const version = await readCodeVersion({ env: { MLOPS_GIT_COMMIT: ' abc1234 ' } });
    assert.deepEqual(version, {
      packageVersion: (await readCodeVersion({ env: {} })).packageVersion,
      gitCommit: 'abc1234',
    });
    assert.deepEqual(await readCodeVersion({ root: tmp, env: { MLOPS_GIT_COMMIT: 'f00d' } }), {
      packageVersion: '9.8.7',
      gitCommit: 'f00d',
    });
  });

  void it('leaves the commit out where there is no git checkout', async () => {
    assert.deepEqual(await readCodeVersion({ root: tmp, env: {} }), { packageVersion: '9.8.7' });
  });

  void it('reads once per process', async () => {
    const first = getCodeVersion();
    assert.equal(getCodeVersion(), first);
    assert.match((await first).packageVersion, /^\d+\.\d+\.\d+/);
  });
});
