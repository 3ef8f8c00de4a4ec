import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { createRegistryActivities } from '../../../activities/register/register';
import type { CodeVersion } from '../../../lib/registry/code-version';
import {
  IllegalStatusChangeError,
  ModelRegistry,
  type ModelVersionRecord,
  type ModelVersionStatus,
  normalizeVersion,
  RollbackRefusedError,
  UnknownModelVersionError,
} from '../../../lib/registry/index';
import { CODE, registryEntry as entry } from './registry-fixtures';

let root: string;
let storeCounter = 0;

function freshStore(): string {
  return path.join(root, `store-${++storeCounter}`);
}

/** A registry over its own fresh store, so tests never see each other's versions. */
function freshRegistry(): ModelRegistry {
  return new ModelRegistry(freshStore());
}

/** Registers a version and walks it through `statuses` in order. */
async function versionThrough(
  registry: ModelRegistry,
  runId: string,
  statuses: ModelVersionStatus[],
): Promise<ModelVersionRecord> {
  let record = await registry.register(entry(runId));
  for (const status of statuses) record = await registry.setStatus('ctr', record.version, status);
  return record;
}

/** Registers a version and takes it through approval and canary to production, alias included. */
async function toProduction(registry: ModelRegistry, runId: string): Promise<ModelVersionRecord> {
  const record = await versionThrough(registry, runId, ['approved', 'canary', 'production']);
  await registry.setProduction('ctr', record.version);
  return record;
}

void describe('ModelRegistry', () => {
  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-registry-'));
  });
  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  void describe('register', () => {
    void it('numbers versions 1, 2, 3 as candidates with their lineage, and lists them oldest first', async () => {
      const registry = freshRegistry();
      const versions = [];
      for (const runId of ['r1', 'r2', 'r3']) versions.push(await registry.register(entry(runId)));
      assert.deepEqual(
        versions.map((record) => record.version),
        ['1', '2', '3'],
      );
      for (const record of versions) {
        assert.equal(record.status, 'candidate');
        assert.deepEqual(record.approvals, []);
        assert.deepEqual(
          record.history.map((change) => change.status),
          ['candidate'],
        );
        assert.ok(!Number.isNaN(Date.parse(record.createdAt)));
        assert.deepEqual(record.lineage.code, CODE);
        assert.equal(record.lineage.data.fingerprint, 'f'.repeat(64));
        assert.deepEqual(record.lineage.config, { train: { epochs: 2 } });
      }
      const listed = await registry.listVersions('ctr');
      assert.deepEqual(
        listed.map((record) => [record.version, record.lineage.run.runId]),
        [
          ['1', 'r1'],
          ['2', 'r2'],
          ['3', 'r3'],
        ],
      );
      assert.deepEqual(await registry.getVersion('ctr', '2'), versions[1]);
      assert.deepEqual(await registry.getVersion('ctr', 'v2'), versions[1], '"v2" names version 2');
    });

    void it('keeps the layout registry/<model>/versions/<000005>.json', async () => {
      const store = freshStore();
      const registry = new ModelRegistry(store);
      await registry.register(entry('layout'));
      await registry.setProduction('ctr', '1');
      const stored = JSON.parse(
        await fs.readFile(path.join(store, 'registry', 'ctr', 'versions', '000001.json'), 'utf8'),
      ) as ModelVersionRecord;
      assert.equal(stored.version, '1');
      await fs.access(path.join(store, 'registry', 'ctr', 'aliases.json'));
    });

    void it('keeps a code version the lineage already carries (the training worker knows best)', async () => {
      const registry = freshRegistry();
      const fromWorker: CodeVersion = { packageVersion: '0.1.0', gitCommit: 'b'.repeat(40) };
      const base = entry('w1');
      const record = await registry.register({ ...base, lineage: { ...base.lineage, code: fromWorker } });
      assert.deepEqual(record.lineage.code, fromWorker);
    });

    void it('keeps version numbers per model and lists the models', async () => {
      const registry = freshRegistry();
      assert.deepEqual(await registry.listModels(), []);
      assert.equal((await registry.register(entry('a1', 'ctr'))).version, '1');
      assert.equal((await registry.register(entry('b1', 'other'))).version, '1');
      assert.equal((await registry.register(entry('a2', 'ctr'))).version, '2');
      await registry.setProduction('ctr', '1');
      assert.deepEqual(await registry.listModels(), ['ctr', 'other']);
    });

    void it('returns the same version when the same workflow run registers again', async () => {
      const registry = freshRegistry();
      const first = await registry.register(entry('retried'));
      await registry.register(entry('someone-else'));
      const again = await registry.register({ ...entry('retried'), metrics: { auc: 0.1 } });
      assert.deepEqual(again, first);
      assert.equal((await registry.listVersions('ctr')).length, 2);
    });

    void it('gives two racing attempts of one run the same version', async () => {
      const registry = freshRegistry();
      const [a, b] = await Promise.all([
        registry.register(entry('twice')),
        registry.register(entry('twice')),
      ]);
      assert.deepEqual(a, b);
      assert.equal((await registry.listVersions('ctr')).length, 1);
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
        assert.equal(
          (await registry.getVersion('ctr', record.version))?.lineage.run.runId,
          record.lineage.run.runId,
        );
    });

    void it('lists versions past 9 in numeric order', async () => {
      const registry = freshRegistry();
      for (let i = 1; i <= 11; i++) await registry.register(entry(`n${i}`));
      assert.deepEqual(
        (await registry.listVersions('ctr')).map((record) => record.version),
        ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11'],
      );
    });
  });

  void describe('setStatus', () => {
    void it('records every change with who and why, and setting the same status again changes nothing', async () => {
      const registry = freshRegistry();
      const { version } = await registry.register(entry('s1'));
      const approved = await registry.setStatus('ctr', version, 'approved', {
        by: 'alice',
        note: 'looks good',
      });
      assert.equal(approved.status, 'approved');
      assert.deepEqual(
        approved.history.map((change) => [change.status, change.by, change.note]),
        [
          ['candidate', undefined, undefined],
          ['approved', 'alice', 'looks good'],
        ],
      );
      const repeated = await registry.setStatus('ctr', version, 'approved', { note: 'retry' });
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

    void it('allows every move of the transition table', async () => {
      const registry = freshRegistry();
      const paths: ModelVersionStatus[][] = [
        ['rejected'],
        ['archived'],
        ['approved', 'rejected'],
        ['approved', 'archived'],
        ['approved', 'canary', 'rolled-back'],
        ['approved', 'canary', 'production', 'archived', 'production'],
        ['approved', 'canary', 'production', 'archived', 'canary', 'production'],
        ['approved', 'canary', 'production', 'rolled-back', 'production', 'rolled-back'],
      ];
      for (const [i, statuses] of paths.entries()) {
        const record = await versionThrough(registry, `path-${i}`, statuses);
        assert.equal(record.status, statuses.at(-1));
        assert.deepEqual(
          record.history.map((change) => change.status),
          ['candidate', ...statuses],
        );
      }
    });

    void it('refuses a move the table does not allow, saying what the version is and what it may become', async () => {
      const registry = freshRegistry();
      const rejected = await versionThrough(registry, 'x1', ['rejected']);
      await assert.rejects(
        registry.setStatus('ctr', rejected.version, 'canary'),
        (err: unknown) =>
          err instanceof IllegalStatusChangeError &&
          err.message ===
            'ctr v1 is rejected; it cannot become canary (rejected is final; register a new version instead)',
      );
      const candidate = await versionThrough(registry, 'x2', []);
      await assert.rejects(registry.setStatus('ctr', candidate.version, 'production'), {
        message:
          'ctr v2 is candidate; it cannot become production (from candidate it can become approved or rejected or archived)',
      });
      const canary = await versionThrough(registry, 'x3', ['approved', 'canary']);
      await assert.rejects(
        registry.setStatus('ctr', canary.version, 'archived'),
        /v3 is canary; it cannot become archived/,
      );
      const production = await versionThrough(registry, 'x4', ['approved', 'canary', 'production']);
      await assert.rejects(
        registry.setStatus('ctr', production.version, 'candidate'),
        IllegalStatusChangeError,
      );
      assert.equal(
        (await registry.getVersion('ctr', rejected.version))?.status,
        'rejected',
        'a refusal writes nothing',
      );
    });

    void it('brings archived or rolled-back versions back only if they once served production', async () => {
      const registry = freshRegistry();
      const archived = await versionThrough(registry, 'never-1', ['archived']);
      await assert.rejects(registry.setStatus('ctr', archived.version, 'production'), {
        message:
          'ctr v1 is archived; it cannot become production (only a version that once served production can come back from archived, and it never did)',
      });
      await assert.rejects(registry.setStatus('ctr', archived.version, 'canary'), IllegalStatusChangeError);
      const rolledBack = await versionThrough(registry, 'never-2', ['approved', 'canary', 'rolled-back']);
      await assert.rejects(
        registry.setStatus('ctr', rolledBack.version, 'production'),
        /v2 is rolled-back; it cannot become production/,
      );
      const served = await versionThrough(registry, 'served', [
        'approved',
        'canary',
        'production',
        'archived',
      ]);
      assert.equal((await registry.setStatus('ctr', served.version, 'production')).status, 'production');
    });

    void it('refuses an unknown version with a clear error and creates nothing', async () => {
      const registry = freshRegistry();
      await registry.register(entry('u1'));
      await assert.rejects(registry.setStatus('ctr', '7', 'approved'), (err: unknown) => {
        assert.ok(err instanceof UnknownModelVersionError);
        assert.equal(err.message, 'model ctr has no version 7');
        return true;
      });
      await assert.rejects(registry.setStatus('nope', '1', 'approved'), {
        message: 'model nope has no version 1',
      });
      await assert.rejects(registry.setStatus('ctr', '../x', 'approved'), {
        message: 'model ctr has no version ../x',
      });
      assert.equal(await registry.getVersion('ctr', '7'), undefined);
      assert.deepEqual(await registry.listVersions('nope'), []);
      assert.deepEqual(await registry.listModels(), ['ctr']);
    });
  });

  void describe('recordApproval', () => {
    const at = '2025-01-01T00:00:00.000Z';

    void it('appends the decision and approves the candidate at the candidate gate', async () => {
      const registry = freshRegistry();
      const { version } = await registry.register(entry('a1'));
      const approval = { decision: 'approved', by: 'alice', at, note: 'ship it', gate: 'candidate' } as const;
      const record = await registry.recordApproval('ctr', version, approval);
      assert.equal(record.status, 'approved');
      assert.deepEqual(record.approvals, [approval]);
      assert.deepEqual(
        record.history.map((change) => [change.status, change.by, change.note]),
        [
          ['candidate', undefined, undefined],
          ['approved', 'alice', 'ship it'],
        ],
      );
      const again = await registry.recordApproval('ctr', version, { ...approval });
      assert.deepEqual(again, record, 'the identical approval is recorded once');
    });

    void it('rejects the candidate when the decision is a rejection or a timeout', async () => {
      const registry = freshRegistry();
      const rejected = await registry.register(entry('rej'));
      const record = await registry.recordApproval('ctr', rejected.version, {
        decision: 'rejected',
        by: 'bob',
        at,
        note: 'AUC too low on mobile',
        gate: 'candidate',
      });
      assert.equal(record.status, 'rejected');
      assert.equal(record.history.at(-1)?.note, 'AUC too low on mobile');
      const timedOut = await registry.register(entry('late'));
      const late = await registry.recordApproval('ctr', timedOut.version, {
        decision: 'timed-out',
        by: 'approval timeout',
        at,
        gate: 'candidate',
      });
      assert.equal(late.status, 'rejected');
      assert.deepEqual(late.history.at(-1), {
        ...late.history.at(-1),
        status: 'rejected',
        note: 'approval timed out',
      });
    });

    void it('only appends at the full-traffic gate, and keeps distinct decisions oldest first', async () => {
      const registry = freshRegistry();
      const record = await versionThrough(registry, 'ft', ['approved', 'canary']);
      const first = { decision: 'approved', by: 'carol', at, gate: 'full-traffic' } as const;
      const second = { ...first, by: 'dave', at: '2025-01-01T00:05:00.000Z' };
      await registry.recordApproval('ctr', record.version, first);
      const updated = await registry.recordApproval('ctr', record.version, second);
      assert.equal(updated.status, 'canary');
      assert.deepEqual(updated.approvals, [first, second]);
      assert.equal(updated.history.length, record.history.length);
    });

    void it('refuses a candidate-gate decision the status no longer allows, recording nothing', async () => {
      const registry = freshRegistry();
      const record = await versionThrough(registry, 'gone', ['rejected']);
      await assert.rejects(
        registry.recordApproval('ctr', record.version, {
          decision: 'approved',
          by: 'eve',
          at,
          gate: 'candidate',
        }),
        /v1 is rejected; it cannot become approved/,
      );
      assert.deepEqual((await registry.getVersion('ctr', record.version))?.approvals, []);
    });
  });

  void describe('production alias', () => {
    void it('moves production to previous when another version goes to production, recording each change', async () => {
      const registry = freshRegistry();
      for (const runId of ['p1', 'p2', 'p3']) await registry.register(entry(runId));
      assert.deepEqual(await registry.getAliases('ctr'), { history: [] });
      assert.equal(await registry.getProduction('ctr'), undefined);

      const first = await registry.setProduction('ctr', '1', { by: 'pipeline-p1', reason: 'canary passed' });
      assert.equal(first.production, '1');
      assert.equal(first.previous, undefined);
      assert.deepEqual(
        first.history.map(({ production, previous, by, reason }) => ({ production, previous, by, reason })),
        [{ production: '1', previous: undefined, by: 'pipeline-p1', reason: 'canary passed' }],
      );
      const second = await registry.setProduction('ctr', '2');
      assert.deepEqual([second.production, second.previous], ['2', '1']);
      // Repeating is a no-op: previous must not become the version itself.
      assert.deepEqual(await registry.setProduction('ctr', '2'), second);
      const third = await registry.setProduction('ctr', '3');
      assert.deepEqual([third.production, third.previous], ['3', '2']);
      assert.deepEqual(
        third.history.map((change) => [change.production, change.previous]),
        [
          ['1', undefined],
          ['2', '1'],
          ['3', '2'],
        ],
      );
      assert.deepEqual(await registry.getAliases('ctr'), third);
      assert.equal((await registry.getProduction('ctr'))?.lineage.run.runId, 'p3');
    });

    void it('refuses an alias to an unknown version and leaves the aliases alone', async () => {
      const registry = freshRegistry();
      await registry.register(entry('u1'));
      await assert.rejects(registry.setProduction('ctr', '7'), { message: 'model ctr has no version 7' });
      assert.deepEqual(await registry.getAliases('ctr'), { history: [] });
    });

    void it('reads an alias file written before aliases had a history', async () => {
      const store = freshStore();
      const registry = new ModelRegistry(store);
      await registry.register(entry('old1'));
      await registry.register(entry('old2'));
      await fs.writeFile(
        path.join(store, 'registry', 'ctr', 'aliases.json'),
        JSON.stringify({ production: '1' }),
      );
      assert.deepEqual(await registry.getAliases('ctr'), { production: '1', history: [] });
      const updated = await registry.setProduction('ctr', '2');
      assert.deepEqual([updated.production, updated.previous, updated.history.length], ['2', '1', 1]);
    });
  });

  void describe('resolveRollbackTarget', () => {
    void it('returns the previous production version and the current one', async () => {
      const registry = freshRegistry();
      const v1 = await toProduction(registry, 'rb1');
      await registry.setStatus('ctr', v1.version, 'archived');
      const v2 = await toProduction(registry, 'rb2');
      const { target, current } = await registry.resolveRollbackTarget('ctr');
      assert.equal(target.version, v1.version);
      assert.equal(current?.version, v2.version);
    });

    void it('accepts --to for any version that served production before, and refuses the others, saying why', async () => {
      const registry = freshRegistry();
      await toProduction(registry, 'to1');
      await registry.setStatus('ctr', '1', 'archived');
      await toProduction(registry, 'to2');
      await registry.setStatus('ctr', '2', 'archived');
      await toProduction(registry, 'to3');
      await versionThrough(registry, 'to4', ['rejected']);
      assert.equal((await registry.resolveRollbackTarget('ctr', '1')).target.version, '1');
      assert.equal((await registry.resolveRollbackTarget('ctr', 'v2')).target.version, '2');
      await assert.rejects(registry.resolveRollbackTarget('ctr', '3'), (err: unknown) => {
        assert.ok(err instanceof RollbackRefusedError);
        assert.equal(
          err.message,
          'v3 of ctr is already in production; pass --to with a version that served production before: v1, v2',
        );
        return true;
      });
      await assert.rejects(registry.resolveRollbackTarget('ctr', '4'), {
        message:
          'v4 of ctr has never served production (it is rejected), so it is not a rollback target: ' +
          'pass --to with a version that served production before: v1, v2. ' +
          'To ship a version that never served, run a pipeline: it goes through approval and a canary.',
      });
      await assert.rejects(registry.resolveRollbackTarget('ctr', '9'), {
        message: 'model ctr has no version 9; it has v1, v2, v3, v4',
      });
    });

    void it('does not undo a rollback by default: a rolled-back previous version must be named', async () => {
      const registry = freshRegistry();
      await toProduction(registry, 'undo1');
      await registry.setStatus('ctr', '1', 'archived');
      await toProduction(registry, 'undo2');
      // A rollback: v1 back in production, v2 rolled back and now the `previous` alias.
      await registry.setProduction('ctr', '1', { by: 'ops', reason: 'rollback' });
      await registry.setStatus('ctr', '2', 'rolled-back');
      await registry.setStatus('ctr', '1', 'production');
      await assert.rejects(registry.resolveRollbackTarget('ctr'), {
        message:
          'the previous production version of ctr, v2, was rolled back; name the version to restore: ' +
          'pass --to with a version that served production before: v2',
      });
      assert.equal((await registry.resolveRollbackTarget('ctr', '2')).target.version, '2');
    });

    void it('refuses without a previous production version, or without any version', async () => {
      const registry = freshRegistry();
      await assert.rejects(registry.resolveRollbackTarget('ctr'), {
        message: 'model ctr has no versions in the registry',
      });
      await registry.register(entry('only-candidate'));
      await assert.rejects(registry.resolveRollbackTarget('ctr'), {
        message: 'no previous production version to roll back to for ctr (nothing has served production)',
      });
      await toProduction(registry, 'first');
      await assert.rejects(registry.resolveRollbackTarget('ctr'), {
        message:
          'no previous production version to roll back to for ctr (v2 is the first to serve production)',
      });
    });
  });

  void describe('under concurrency', () => {
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
        registry.recordApproval('ctr', version, { decision: 'approved', by: 'alice', at, gate: 'candidate' }),
      ]);
      const record = (await registry.getVersion('ctr', version))!;
      assert.equal(record.status, 'approved');
      assert.deepEqual(
        record.history.map((change) => change.status),
        ['candidate', 'approved'],
        'approved exactly once',
      );
      assert.deepEqual(
        record.approvals.map((approval) => `${approval.gate}:${approval.by}`).sort(),
        ['candidate:alice', ...reviewers.map((by) => `full-traffic:${by}`)].sort(),
      );
    });

    void it('keeps a consistent production/previous chain when production changes race', async () => {
      const registry = freshRegistry();
      for (let i = 1; i <= 6; i++) await registry.register(entry(`chain-${i}`));
      await Promise.all(
        ['1', '2', '3', '4', '5', '6'].map((version) => registry.setProduction('ctr', version)),
      );
      const aliases = await registry.getAliases('ctr');
      assert.equal(aliases.history.length, 6, 'every change recorded');
      assert.deepEqual(aliases.history.map((change) => change.production).sort(), [
        '1',
        '2',
        '3',
        '4',
        '5',
        '6',
      ]);
      assert.equal(aliases.history[0]?.previous, undefined);
      for (let i = 1; i < aliases.history.length; i++) {
        assert.equal(
          aliases.history[i]?.previous,
          aliases.history[i - 1]?.production,
          `change ${i} follows ${i - 1}`,
        );
      }
      assert.equal(aliases.production, aliases.history.at(-1)?.production);
      assert.equal(aliases.previous, aliases.history.at(-1)?.previous);
    });
  });

  void it('normalises version names', () => {
    assert.equal(normalizeVersion('3'), '3');
    assert.equal(normalizeVersion('v3'), '3');
    assert.equal(normalizeVersion('003'), '3');
    assert.equal(normalizeVersion('0'), undefined);
    assert.equal(normalizeVersion('3.1'), undefined);
    assert.equal(normalizeVersion('../3'), undefined);
  });
});

void describe('registry activities', () => {
  let store: string;
  before(async () => {
    store = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-registry-activities-'));
  });
  after(async () => {
    await fs.rm(store, { recursive: true, force: true });
  });

  /** Asserts a non-retryable ApplicationFailure of `type` whose message matches. */
  const failsFor = (type: string, message: RegExp) => (err: unknown) => {
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, type);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, message);
    return true;
  };

  void it('register the running code version and name the older candidates of other runs', async () => {
    const activities = createRegistryActivities({ storeUri: store });
    const { code: _code, ...first } = entry('act-1');
    const one = await activities.registerModelVersion(first);
    const oneRecord = await new ModelRegistry(store).getVersion('ctr', one.version);
    assert.match(oneRecord?.lineage.code.packageVersion ?? '', /^\d+\.\d+\.\d+/);
    assert.deepEqual(one.olderCandidates, []);
    const { code: _code2, ...second } = entry('act-2');
    await activities.registerModelVersion(second);
    const { code: _code3, ...third } = entry('act-3');
    const rejectedLater = await activities.registerModelVersion(third);
    await activities.setModelVersionStatus({
      model: 'ctr',
      version: rejectedLater.version,
      status: 'rejected',
    });
    const { code: _code4, ...fourth } = entry('act-4');
    const four = await activities.registerModelVersion(fourth);
    assert.deepEqual(four.olderCandidates, [
      { version: '1', workflowId: 'pipeline-act-1', runId: 'act-1' },
      { version: '2', workflowId: 'pipeline-act-2', runId: 'act-2' },
    ]);
    const retried = await activities.registerModelVersion(fourth);
    assert.equal(retried.version, four.version, 'a retry gets the same version');
  });

  void it('link the evaluation report on the prediction server, in the result and the record', async () => {
    const reportStore = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-registry-report-'));
    try {
      const activities = createRegistryActivities({
        storeUri: reportStore,
        servingUrls: ['http://serving:8080/'],
      });
      const { code: _code, ...withReport } = entry('report-1', 'ads model');
      withReport.metrics = { ...withReport.metrics, reportUri: '/store/runs/x/evaluate/report.json' };
      const registered = await activities.registerModelVersion(withReport);
      const url = 'http://serving:8080/v1/models/ads%20model/versions/1/report';
      assert.equal(registered.reportUrl, url);
      assert.equal(
        (await new ModelRegistry(reportStore).getVersion('ads model', '1'))?.metrics.reportUrl,
        url,
      );
      assert.equal(
        (await activities.registerModelVersion(withReport)).reportUrl,
        url,
        'a retry links the same page',
      );

      const { code: _code2, ...withoutReport } = entry('report-2', 'ads model');
      assert.equal(
        (await activities.registerModelVersion(withoutReport)).reportUrl,
        undefined,
        'no report, no link',
      );
      const unserved = createRegistryActivities({ storeUri: reportStore });
      const { code: _code3, ...third } = entry('report-3', 'ads model');
      third.metrics = withReport.metrics;
      const plain = await unserved.registerModelVersion(third);
      assert.equal(plain.reportUrl, undefined, 'no prediction server, no link');
      assert.equal(
        (await new ModelRegistry(reportStore).getVersion('ads model', plain.version))?.metrics.reportUrl,
        undefined,
      );
    } finally {
      await fs.rm(reportStore, { recursive: true, force: true });
    }
  });

  void it('turn an illegal status change into a non-retryable IllegalStatusChange failure', async () => {
    const activities = createRegistryActivities({ storeUri: store });
    await activities.setModelVersionStatus({
      model: 'ctr',
      version: '1',
      status: 'approved',
      by: 'alice',
      note: 'ok',
    });
    await activities.setModelVersionStatus({ model: 'ctr', version: '1', status: 'approved' });
    await assert.rejects(
      activities.setModelVersionStatus({ model: 'ctr', version: '3', status: 'canary' }),
      failsFor('IllegalStatusChange', /^ctr v3 is rejected; it cannot become canary/),
    );
    await assert.rejects(
      activities.setModelVersionStatus({ model: 'ctr', version: '99', status: 'approved' }),
      failsFor('UnknownModelVersion', /^model ctr has no version 99$/),
    );
  });

  void it('record approvals, set and read production, and resolve a rollback', async () => {
    const activities = createRegistryActivities({ storeUri: store });
    const at = new Date().toISOString();
    await activities.recordApproval({
      model: 'ctr',
      version: '2',
      approval: { decision: 'approved', by: 'bob', at, gate: 'candidate' },
    });
    for (const version of ['1', '2']) {
      for (const status of ['canary', 'production'] as const) {
        await activities.setModelVersionStatus({ model: 'ctr', version, status });
      }
      await activities.setProductionAlias({ model: 'ctr', version, by: 'test', reason: 'canary passed' });
    }
    assert.equal((await activities.getProductionVersion({ model: 'ctr' }))?.version, '2');
    assert.equal(await activities.getProductionVersion({ model: 'none' }), undefined);
    const { target, current } = await activities.resolveRollbackTarget({ model: 'ctr' });
    assert.deepEqual([target.version, current?.version], ['1', '2']);
    await assert.rejects(
      activities.resolveRollbackTarget({ model: 'ctr', to: '4' }),
      failsFor('RollbackRefused', /v4 of ctr has never served production/),
    );
    await assert.rejects(
      activities.setProductionAlias({ model: 'ctr', version: '42' }),
      failsFor('UnknownModelVersion', /no version 42/),
    );
  });
});
