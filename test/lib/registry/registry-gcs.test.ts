import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ModelRegistry } from '../../../lib/registry/index';
import { storageFor } from '../../../lib/storage/index';
import { startGcsEmulator, type GcsEmulatorHandle } from '../../helpers/gcs-emulator';
import { registryEntry } from './registry-fixtures';

/** A version registered under gs:// URIs, as a pipeline on GCS would register it. */
const entry = (runId: string) => registryEntry(runId, 'ctr', 'gs://');

/** The registry's own tests run on local disk; these run its concurrent paths on a GCS bucket. */
void describe('ModelRegistry on GCS (fake-gcs-server)', () => {
  let gcs: GcsEmulatorHandle;
  let stores = 0;
  const freshRegistry = () => new ModelRegistry(gcs.uri(`store-${++stores}`));
  before(async () => {
    gcs = await startGcsEmulator();
  });
  after(async () => {
    await gcs.close();
  });

  void it('gives 10 concurrent registrations 10 distinct versions, stored as gs:// objects', async () => {
    const registry = freshRegistry();
    const records = await Promise.all(
      Array.from({ length: 10 }, (_, i) => registry.register(entry(`c${i}`))),
    );
    assert.deepEqual(
      records.map((record) => Number(record.version)).sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    for (const record of records)
      assert.equal(
        (await registry.getVersion('ctr', record.version))?.lineage.run.runId,
        record.lineage.run.runId,
      );
    const root = gcs.uri(`store-${stores}`);
    const objects = await storageFor(root).list(root);
    assert.equal(objects.length, 10);
    assert.ok(
      objects.every((uri) =>
        /^gs:\/\/mlops-test\/store-\d+\/registry\/ctr\/versions\/\d{6}\.json$/.test(uri),
      ),
    );
    assert.deepEqual(await registry.listModels(), ['ctr']);
  });

  void it('loses nothing when status changes and approvals of one version race', async () => {
    const registry = freshRegistry();
    const { version } = await registry.register(entry('race'));
    const at = '2025-01-01T00:00:00.000Z';
    const reviewers = Array.from({ length: 6 }, (_, i) => `reviewer-${i}`);
    await Promise.all([
      registry.recordApproval('ctr', version, { decision: 'approved', by: 'alice', at, gate: 'candidate' }),
      registry.setStatus('ctr', version, 'approved', { by: 'workflow' }),
      ...reviewers.map((by) =>
        registry.recordApproval('ctr', version, { decision: 'approved', by, at, gate: 'full-traffic' }),
      ),
    ]);
    const record = (await registry.getVersion('ctr', version))!;
    assert.equal(record.status, 'approved');
    assert.deepEqual(
      record.history.map((change) => change.status),
      ['candidate', 'approved'],
    );
    assert.deepEqual(
      record.approvals.map((approval) => `${approval.gate}:${approval.by}`).sort(),
      ['candidate:alice', ...reviewers.map((by) => `full-traffic:${by}`)].sort(),
    );
  });

  void it('keeps a consistent production/previous chain when production changes race', async () => {
    const registry = freshRegistry();
    for (let i = 1; i <= 4; i++) await registry.register(entry(`chain-${i}`));
    await Promise.all(['1', '2', '3', '4'].map((version) => registry.setProduction('ctr', version)));
    const aliases = await registry.getAliases('ctr');
    assert.deepEqual(aliases.history.map((change) => change.production).sort(), ['1', '2', '3', '4']);
    for (let i = 1; i < aliases.history.length; i++)
      assert.equal(aliases.history[i]?.previous, aliases.history[i - 1]?.production);
    assert.equal((await registry.getProduction('ctr'))?.version, aliases.production);
  });
});
