import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ModelRegistry, type NewModelVersion } from '../../lib/registry';

let root: string;
let storeCounter = 0;

/** A registry over its own fresh store, so tests never see each other's versions. */
function freshRegistry(): ModelRegistry {
  return new ModelRegistry(path.join(root, `store-${++storeCounter}`));
}

function entry(runId: string, model = 'ctr'): NewModelVersion {
  return {
    model,
    modelUri: `/models/${model}/${runId}`,
    workflowId: `pipeline-${runId}`,
    runId,
    dataUri: '/data/ads',
    datasetFingerprint: 'f'.repeat(64),
    parameters: { epochs: 1 },
    metrics: { auc: 0.7 },
    training: { backend: 'cpu', device: 'cpu' },
  };
}

void describe('ModelRegistry', () => {
  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-registry-'));
  });
  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  void it('numbers versions 1, 2, 3 as candidates and lists them oldest first', async () => {
    const registry = freshRegistry();
    const versions = [];
    for (const runId of ['r1', 'r2', 'r3']) versions.push(await registry.register(entry(runId)));
    assert.deepEqual(
      versions.map((record) => record.version),
      ['1', '2', '3'],
    );
    for (const record of versions) {
      assert.equal(record.status, 'candidate');
      assert.equal(record.history.length, 1);
      assert.equal(record.history[0]?.status, 'candidate');
      assert.ok(!Number.isNaN(Date.parse(record.createdAt)));
    }
    const listed = await registry.listVersions('ctr');
    assert.deepEqual(
      listed.map((record) => [record.version, record.runId]),
      [
        ['1', 'r1'],
        ['2', 'r2'],
        ['3', 'r3'],
      ],
    );
    assert.deepEqual(await registry.getVersion('ctr', '2'), versions[1]);
  });

  void it('keeps version numbers per model', async () => {
    const registry = freshRegistry();
    assert.equal((await registry.register(entry('a1', 'ctr'))).version, '1');
    assert.equal((await registry.register(entry('b1', 'other'))).version, '1');
    assert.equal((await registry.register(entry('a2', 'ctr'))).version, '2');
  });

  void it('returns the same version when the same workflow run registers again', async () => {
    const registry = freshRegistry();
    const first = await registry.register(entry('retried'));
    await registry.register(entry('someone-else'));
    const again = await registry.register({ ...entry('retried'), metrics: { auc: 0.1 } });
    assert.deepEqual(again, first);
    assert.equal((await registry.listVersions('ctr')).length, 2);
  });

  void it('gives 10 concurrent registrations 10 distinct versions', async () => {
    const registry = freshRegistry();
    const records = await Promise.all(
      Array.from({ length: 10 }, (_, i) => registry.register(entry(`c${i}`))),
    );
    const versions = records.map((record) => Number(record.version)).sort((a, b) => a - b);
    assert.deepEqual(versions, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const listed = await registry.listVersions('ctr');
    assert.equal(listed.length, 10);
    // Each stored record belongs to the run that claimed it.
    for (const record of records)
      assert.equal((await registry.getVersion('ctr', record.version))?.runId, record.runId);
  });

  void it('lists versions past 9 in numeric order', async () => {
    const registry = freshRegistry();
    for (let i = 1; i <= 11; i++) await registry.register(entry(`n${i}`));
    assert.deepEqual(
      (await registry.listVersions('ctr')).map((record) => record.version),
      ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11'],
    );
  });

  void it('records every status change in the history, and setting the same status again changes nothing', async () => {
    const registry = freshRegistry();
    const { version } = await registry.register(entry('s1'));
    const approved = await registry.setStatus('ctr', version, 'approved', 'looks good');
    assert.equal(approved.status, 'approved');
    assert.deepEqual(
      approved.history.map((change) => [change.status, change.note]),
      [
        ['candidate', undefined],
        ['approved', 'looks good'],
      ],
    );
    const repeated = await registry.setStatus('ctr', version, 'approved', 'retry');
    assert.deepEqual(repeated, approved);
    assert.deepEqual(
      await registry.getVersion('ctr', version),
      approved,
      'a no-op leaves the stored record untouched',
    );

    const canary = await registry.setStatus('ctr', version, 'canary');
    assert.deepEqual(
      canary.history.map((change) => change.status),
      ['candidate', 'approved', 'canary'],
    );
    assert.equal(canary.history[2]?.note, undefined);
    assert.deepEqual(await registry.getVersion('ctr', version), canary);
  });

  void it('moves production to previous when another version goes to production', async () => {
    const registry = freshRegistry();
    await registry.register(entry('p1'));
    await registry.register(entry('p2'));
    await registry.register(entry('p3'));
    assert.deepEqual(await registry.getAliases('ctr'), {});
    assert.equal(await registry.getProduction('ctr'), undefined);

    assert.deepEqual(await registry.setProduction('ctr', '1'), { production: '1' });
    assert.deepEqual(await registry.setProduction('ctr', '2'), { production: '2', previous: '1' });
    // Repeating is a no-op: previous must not become the version itself.
    assert.deepEqual(await registry.setProduction('ctr', '2'), { production: '2', previous: '1' });
    assert.deepEqual(await registry.setProduction('ctr', '3'), { production: '3', previous: '2' });
    assert.deepEqual(await registry.getAliases('ctr'), { production: '3', previous: '2' });
    assert.equal((await registry.getProduction('ctr'))?.runId, 'p3');
  });

  void it('refuses a status change or production alias for an unknown version with a clear error', async () => {
    const registry = freshRegistry();
    await registry.register(entry('u1'));
    await assert.rejects(registry.setStatus('ctr', '7', 'approved'), {
      message: 'model ctr has no version 7',
    });
    await assert.rejects(registry.setStatus('nope', '1', 'approved'), {
      message: 'model nope has no version 1',
    });
    await assert.rejects(registry.setProduction('ctr', '7'), { message: 'model ctr has no version 7' });
    assert.deepEqual(await registry.getAliases('ctr'), {}, 'a refused alias change leaves the aliases alone');
    assert.equal(await registry.getVersion('ctr', '7'), undefined);
    assert.deepEqual(await registry.listVersions('nope'), []);
  });
});
