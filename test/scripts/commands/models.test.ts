import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { ModelRegistry, type ModelAliases, type ModelVersionRecord } from '../../../lib/registry';
import {
  aliasesOf,
  candidateMetrics,
  formatDate,
  formatModelsTable,
  formatVersionDetails,
  formatVersionsTable,
} from '../../../scripts/commands/format-model';
import { formatTable } from '../../../scripts/commands/format-table';
import { findVersionToShow, registerModelsCommands } from '../../../scripts/commands/models';

const REPO = path.resolve(__dirname, '..', '..', '..');

function record(version: string, overrides: Partial<ModelVersionRecord> = {}): ModelVersionRecord {
  return {
    model: 'ctr',
    version,
    status: 'candidate',
    modelUri: `/store/models/ctr/${version}`,
    createdAt: `2025-03-0${version}T10:20:30.000Z`,
    lineage: {
      data: {
        uri: 'gs://ads/campaign-7',
        trainUri: `/store/runs/pipeline-${version}/run-${version}/ingest/train.arrow`,
        evalUri: `/store/runs/pipeline-${version}/run-${version}/ingest/eval.arrow`,
        fingerprint: 'f00d'.repeat(16),
        schemaVersion: 2,
        trainRows: 800,
        evalRows: 200,
        planUri: '/store/runs/pipeline-2/run-2/ingest/plan.json',
        shardCount: 3,
        statisticsUri: '/store/runs/pipeline-2/run-2/validate/statistics.json',
        warnings: ['drift: hour PSI 0.31 > 0.25'],
      },
      code: { packageVersion: '0.1.0', gitCommit: 'c0ffee'.padEnd(40, '0'), gitDirty: true },
      config: { train: { epochs: 3, learningRate: 0.001 } },
      training: { backend: 'tensorflow', device: 'GPU:0', epochs: 3, finalLoss: 0.41234 },
      run: { workflowId: `pipeline-${version}`, runId: `run-${version}`, workflowType: 'modelPipeline' },
    },
    metrics: { candidate: { auc: 0.7 + Number(version) / 100, logLoss: 0.5, count: 200 } },
    approvals: [],
    history: [{ status: 'candidate', at: `2025-03-0${version}T10:20:30.000Z` }],
    ...overrides,
  };
}

const ALIASES: ModelAliases = {
  production: '2',
  previous: '1',
  history: [
    { production: '1', at: '2025-03-01T12:00:00.000Z', by: 'pipeline-1', reason: 'canary passed' },
    {
      production: '2',
      previous: '1',
      at: '2025-03-02T12:00:00.000Z',
      by: 'pipeline-2',
      reason: 'canary passed',
    },
  ],
};

void describe('models command formatting', () => {
  void it('lays a table out in aligned columns without trailing spaces', () => {
    assert.equal(
      formatTable(
        ['A', 'LONG HEADER', 'C'],
        [
          ['x', 'y', 'z'],
          ['wide cell', '', ''],
        ],
      ),
      ['A          LONG HEADER  C', 'x          y            z', 'wide cell'].join('\n'),
    );
  });

  void it('formats dates in UTC to the minute or second, and leaves what is not a date alone', () => {
    assert.equal(formatDate('2025-03-01T10:20:30.000Z'), '2025-03-01 10:20');
    assert.equal(formatDate('2025-03-01T10:20:30.000Z', { seconds: true }), '2025-03-01 10:20:30');
    assert.equal(formatDate('yesterday'), 'yesterday');
    assert.equal(formatDate(undefined), '—');
  });

  void it('finds candidate metrics in the evaluation summary or in the flat shape of older records', () => {
    assert.deepEqual(candidateMetrics({ candidate: { auc: 0.7 }, production: { auc: 0.6 } }), { auc: 0.7 });
    assert.deepEqual(candidateMetrics({ auc: 0.7, logLoss: 0.5 }), { auc: 0.7, logLoss: 0.5 });
    assert.equal(candidateMetrics({ reportUri: '/r.json' }), undefined);
  });

  void it('names the aliases that point at a version', () => {
    assert.equal(aliasesOf('2', ALIASES), 'production');
    assert.equal(aliasesOf('1', ALIASES), 'previous');
    assert.equal(aliasesOf('3', ALIASES), '');
  });

  void it('lists versions newest first with status, aliases, metrics, approvers and workflow', () => {
    const versions = [
      record('1', {
        status: 'archived',
        approvals: [{ decision: 'approved', by: 'alice', at: '2025-03-01T11:00:00.000Z', gate: 'candidate' }],
      }),
      record('2', {
        status: 'production',
        approvals: [
          { decision: 'approved', by: 'bob', at: '2025-03-02T11:00:00.000Z', gate: 'candidate' },
          { decision: 'approved', by: 'carol', at: '2025-03-02T11:30:00.000Z', gate: 'full-traffic' },
        ],
      }),
      // A record of the old shape: flat metrics, no approvals, no lineage.
      {
        ...record('3'),
        metrics: { auc: 0.6 },
        approvals: undefined,
        lineage: undefined,
      } as unknown as ModelVersionRecord,
    ];
    assert.equal(
      formatVersionsTable(versions, ALIASES),
      [
        'VERSION  STATUS      ALIASES     CREATED (UTC)     AUC     LOG LOSS  APPROVED BY  WORKFLOW',
        'v3       candidate   —           2025-03-03 10:20  0.6000  —         —            —',
        'v2       production  production  2025-03-02 10:20  0.7200  0.5000    bob, carol   pipeline-2',
        'v1       archived    previous    2025-03-01 10:20  0.7100  0.5000    alice        pipeline-1',
      ].join('\n'),
    );
  });

  void it('lists every model with its production and previous version and its latest version', () => {
    assert.equal(
      formatModelsTable([
        { model: 'ctr', aliases: ALIASES, versions: [record('1'), record('2'), record('3')] },
        {
          model: 'other',
          aliases: { history: [] },
          versions: [record('1', { model: 'other', status: 'rejected' })],
        },
      ]),
      [
        'MODEL  VERSIONS  PRODUCTION  PREVIOUS  LATEST',
        'ctr    3         v2          v1        v3 (candidate, 2025-03-03 10:20)',
        'other  1         —           —         v1 (rejected, 2025-03-01 10:20)',
      ].join('\n'),
    );
    assert.match(formatModelsTable([]), /No models in the registry yet/);
  });

  void it('shows everything about a version: status, aliases, metrics with slices, decisions, history, lineage', () => {
    const shown = formatVersionDetails(
      record('2', {
        status: 'production',
        metrics: {
          candidate: { auc: 0.72, logLoss: 0.48, accuracy: 0.81, ece: 0.021, count: 200 },
          production: { version: '1', auc: 0.7, logLoss: 0.5, count: 200 },
          slices: [
            {
              feature: 'device',
              value: 'mobile',
              count: 120,
              clickRate: 0.125,
              candidate: { auc: 0.71, logLoss: 0.47, accuracy: 0.8, ece: 0.02 },
              production: { auc: 0.69, logLoss: 0.5, accuracy: 0.79, ece: 0.03 },
            },
            {
              feature: 'placement',
              value: 'feed',
              count: 5,
              clickRate: 0,
              candidate: { auc: null, logLoss: 0.1 },
            },
          ],
          reportUri: '/store/runs/pipeline-2/run-2/evaluate/report.json',
          reportUrl: 'http://localhost:8080/reports/ctr/2',
          bestPossible: { auc: 0.8283, logLoss: 0.41, count: 200 },
        },
        approvals: [
          {
            decision: 'approved',
            by: 'bob',
            at: '2025-03-02T11:00:00.000Z',
            gate: 'candidate',
            note: 'ship it',
          },
          { decision: 'approved', by: 'carol', at: '2025-03-02T11:30:00.000Z', gate: 'full-traffic' },
        ],
        history: [
          { status: 'candidate', at: '2025-03-02T10:20:30.000Z' },
          { status: 'approved', at: '2025-03-02T11:00:01.000Z', by: 'bob', note: 'ship it' },
          { status: 'canary', at: '2025-03-02T11:00:02.000Z' },
          { status: 'production', at: '2025-03-02T12:00:01.000Z', by: 'pipeline-2' },
        ],
      }),
      ALIASES,
    );
    const expected = [
      'ctr v2: status production; alias production',
      '  created:  2025-03-02 10:20:30 UTC',
      '  model:    /store/models/ctr/2',
      '  report:   http://localhost:8080/reports/ctr/2',
      '            /store/runs/pipeline-2/run-2/evaluate/report.json',
      '  aliases:  production v2, previous v1',
      '',
      'Metrics',
      '  candidate:  AUC 0.7200, log loss 0.4800, accuracy 81.0%, ECE 0.0210, 200 eval rows',
      '  production: AUC 0.7000, log loss 0.5000, 200 eval rows (v1 at evaluation)',
      '  best possible (true probabilities): AUC 0.8283',
      '  slices:',
      '    SLICE           ROWS  CLICKS  AUC     LOG LOSS  PROD AUC  PROD LOG LOSS',
      '    device=mobile   120   12.5%   0.7100  0.4700    0.6900    0.5000',
      '    placement=feed  5     0.0%    —       0.1000    —         —',
      '',
      'Approvals',
      '  2025-03-02 11:00:00  approved by bob at the candidate gate: ship it',
      '  2025-03-02 11:30:00  approved by carol at the full-traffic gate',
      '',
      'History',
      '  2025-03-02 10:20:30  candidate',
      '  2025-03-02 11:00:01  approved by bob: ship it',
      '  2025-03-02 11:00:02  canary',
      '  2025-03-02 12:00:00  production alias set, replacing v1 by pipeline-2: canary passed',
      '  2025-03-02 12:00:01  production by pipeline-2',
      '',
      'Lineage',
      '  data:      gs://ads/campaign-7',
      `    fingerprint ${'f00d'.repeat(16)}, schema v2`,
      '    train     /store/runs/pipeline-2/run-2/ingest/train.arrow (800 rows)',
      '    eval      /store/runs/pipeline-2/run-2/ingest/eval.arrow (200 rows)',
      '    shards    3, plan /store/runs/pipeline-2/run-2/ingest/plan.json',
      '    stats     /store/runs/pipeline-2/run-2/validate/statistics.json',
      '    warning   drift: hour PSI 0.31 > 0.25',
      `  code:      temporal-mlops 0.1.0, commit ${'c0ffee'.padEnd(40, '0')} with uncommitted changes`,
      '  training:  tensorflow on GPU:0, 3 epochs, final loss 0.4123',
      '  run:       modelPipeline pipeline-2 (run run-2)',
      '  config:',
      '    {',
      '      "train": {',
      '        "epochs": 3,',
      '        "learningRate": 0.001',
      '      }',
      '    }',
    ];
    assert.equal(shown, expected.join('\n'));
  });

  void it('shows a bare record without failing: no metrics, approvals, slices or commit', () => {
    const bare = record('1', { metrics: {} });
    bare.lineage.code = { packageVersion: '0.1.0' };
    delete bare.lineage.training.finalLoss;
    const shown = formatVersionDetails(bare, { history: [] });
    assert.match(shown, /^ctr v1: status candidate$/m);
    assert.match(shown, /^ {2}report: {3}—$/m);
    assert.match(shown, /^ {2}candidate: {2}—$/m);
    assert.match(shown, /^Approvals\n {2}none$/m);
    assert.match(shown, /temporal-mlops 0\.1\.0, commit unknown/);
    assert.match(shown, /tensorflow on GPU:0, 3 epochs$/m);
    assert.doesNotMatch(shown, /slices/);
    // Records from before lineage: its fields at the top level.
    const old = {
      ...bare,
      lineage: undefined,
      workflowId: 'demo-pipeline-1',
      dataUri: '/data/ads',
    } as unknown as ModelVersionRecord;
    assert.match(
      formatVersionDetails(old, { history: [] }),
      /Lineage\n {2}not recorded \(registered before lineage was\)\n {2}data: {8}\/data\/ads\n {2}workflow: {4}demo-pipeline-1$/,
    );
    assert.match(formatVersionsTable([old], { history: [] }), /demo-pipeline-1$/);
  });

  void it('registers list and show under `models`', () => {
    const program = new Command();
    registerModelsCommands(program);
    const models = program.commands.find((command) => command.name() === 'models');
    assert.deepEqual(
      models?.commands.map((command) => command.name()),
      ['list', 'show'],
    );
  });
});

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `mlops` entry point, as a user would. */
function mlops(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/mlops.cjs', ...args],
      { cwd: REPO, timeout: 30_000, env: { ...process.env, MLOPS_DEBUG: '', ...env } },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
      },
    );
  });
}

void describe('mlops models against a registry on disk', () => {
  let store: string;
  before(async () => {
    store = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-models-cli-'));
    const registry = new ModelRegistry(store);
    for (const version of ['1', '2', '3']) {
      const {
        version: _v,
        status: _s,
        createdAt: _c,
        approvals: _a,
        history: _h,
        ...entry
      } = record(version);
      await registry.register({ ...entry, code: entry.lineage.code });
    }
    for (const version of ['1', '2']) {
      await registry.recordApproval('ctr', version, {
        decision: 'approved',
        by: `reviewer-${version}`,
        at: new Date().toISOString(),
        gate: 'candidate',
      });
      await registry.setStatus('ctr', version, 'canary');
      await registry.setStatus('ctr', version, 'production');
      await registry.setProduction('ctr', version, { by: `pipeline-${version}` });
    }
    await registry.setStatus('ctr', '1', 'archived', { note: 'replaced by v2' });
  });
  after(async () => {
    await fs.rm(store, { recursive: true, force: true });
  });

  void it('lists the models, then one model newest first, with no Temporal server', async () => {
    const all = await mlops(['models', 'list', '--store', store], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /^MODEL +VERSIONS +PRODUCTION +PREVIOUS +LATEST$/m);
    assert.match(all.stdout, /^ctr +3 +v2 +v1 +v3 \(candidate, /m);

    const ctr = await mlops(['models', 'list', '--model', 'ctr'], { MLOPS_STORE: store });
    assert.equal(ctr.code, 0, ctr.stderr);
    const lines = ctr.stdout.trim().split('\n');
    assert.match(lines[0]!, /^VERSION +STATUS +ALIASES/);
    assert.match(lines[1]!, /^v3 +candidate +— /);
    assert.match(lines[2]!, /^v2 +production +production .* 0\.7200 +0\.5000 +reviewer-2 +pipeline-2$/);
    assert.match(lines[3]!, /^v1 +archived +previous .* reviewer-1 +pipeline-1$/);
  });

  void it('shows the production version by default, any version on request, and the raw record as JSON', async () => {
    const production = await mlops(['models', 'show', '--model', 'ctr', '--store', store]);
    assert.equal(production.code, 0, production.stderr);
    assert.match(production.stdout, /^ctr v2: status production; alias production$/m);
    assert.match(production.stdout, /approved by reviewer-2 at the candidate gate/);
    assert.match(production.stdout, /run: +modelPipeline pipeline-2 \(run run-2\)/);

    const json = await mlops([
      'models',
      'show',
      '--model',
      'ctr',
      '--version',
      'v1',
      '--json',
      '--store',
      store,
    ]);
    assert.equal(json.code, 0, json.stderr);
    const shown = JSON.parse(json.stdout) as ModelVersionRecord;
    assert.deepEqual(shown, await new ModelRegistry(store).getVersion('ctr', '1'));
    assert.equal(shown.status, 'archived');
  });

  void it('explains an unknown model or version by listing what exists', async () => {
    const model = await mlops(['models', 'show', '--model', 'nope', '--store', store]);
    assert.equal(model.code, 1);
    assert.equal(model.stderr.trim(), `error: no model named nope in the registry at ${store}; models: ctr`);
    const version = await mlops(['models', 'show', '--model', 'ctr', '--version', '9', '--store', store]);
    assert.equal(version.code, 1);
    assert.equal(version.stderr.trim(), 'error: ctr has no version 9; versions: v1, v2, v3');
    const invalid = await mlops(['models', 'list', '--model', 'my model', '--store', store]);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /--model: model names use letters, digits, - and _/);
  });

  void it('asks for --version when the model has no production version', async () => {
    const registry = new ModelRegistry(store);
    const { version: _v, status: _s, createdAt: _c, approvals: _a, history: _h, ...entry } = record('1');
    await registry.register({ ...entry, model: 'fresh', code: entry.lineage.code });
    await assert.rejects(findVersionToShow(registry, 'fresh'), {
      message: 'fresh has no production version; pass --version (versions: v1)',
    });
    assert.equal((await findVersionToShow(registry, 'fresh', '1')).record.model, 'fresh');
  });
});
