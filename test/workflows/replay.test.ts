/**
 * Replays the histories recorded in test/histories against the current workflow code: a change
 * that would break workflows already running (a step added, removed or reordered without
 * `patched()`) fails here, naming the history it breaks. Re-record with `npm run histories:record`.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import { defaultPayloadConverter } from '@temporalio/common';
import { DeterminismViolationError } from '@temporalio/workflow';
import { BATCH_PREDICT_WORKFLOW_TYPE } from '../../scripts/clients/batch-client';
import {
  CANARY_WORKFLOW_TYPE,
  PIPELINE_WORKFLOW_TYPE,
  ROLLBACK_WORKFLOW_TYPE,
  type PipelineInput,
} from '../../contracts/temporal';
import { MONITOR_WORKFLOW_TYPE } from '../../contracts/monitor';
import { HISTORIES_DIR, loadHistories, type RecordedHistory } from '../helpers/histories';

/** Every recording must cover these, so deleting the files cannot turn the test into a no-op. */
const REQUIRED_WORKFLOW_TYPES = [
  PIPELINE_WORKFLOW_TYPE,
  CANARY_WORKFLOW_TYPE,
  ROLLBACK_WORKFLOW_TYPE,
  BATCH_PREDICT_WORKFLOW_TYPE,
  MONITOR_WORKFLOW_TYPE,
];

/** The input a history's workflow was started with. */
function startInput<T>(recorded: RecordedHistory): T | undefined {
  const payload = recorded.history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  return payload ? defaultPayloadConverter.fromPayload<T>(payload) : undefined;
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (message: string) => console.error(message),
};

/** Bundles a workflows module once, as the control worker does, without webpack's chatter. */
function bundle(workflowsPath: string): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ workflowsPath, logger: quietLogger });
}

/** Replays each history against a bundle; returns the histories whose replay failed, with why. */
async function replay(
  workflowBundle: WorkflowBundle,
  histories: RecordedHistory[],
): Promise<Array<{ file: string; error: Error }>> {
  const failures: Array<{ file: string; error: Error }> = [];
  const results = Worker.runReplayHistories({ workflowBundle, replayName: 'replay-test' }, histories);
  let index = 0;
  for await (const result of results) {
    // Results come in input order; ids alone are ambiguous (every canary of a model may share one).
    const recorded = histories[index++]!;
    assert.equal(result.workflowId, recorded.workflowId, 'replay results arrive in input order');
    if (result.error) failures.push({ file: recorded.file, error: result.error });
  }
  assert.equal(index, histories.length, 'every history was replayed');
  return failures;
}

function describeFailures(failures: Array<{ file: string; error: Error }>): string {
  return failures.map(({ file, error }) => `  ${file}: ${error.name}: ${error.message}`).join('\n');
}

describe('replaying recorded workflow histories', { timeout: 300_000 }, () => {
  let histories: RecordedHistory[];
  let pipelineHistories: RecordedHistory[];

  before(async () => {
    // Core logs each nondeterminism it finds as a warning; the assertions below report them instead.
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, console: {} } },
    });
    histories = [];
    for await (const recorded of loadHistories()) histories.push(recorded);
    pipelineHistories = histories.filter((h) => h.workflowType === PIPELINE_WORKFLOW_TYPE);
  });

  it('finds recorded histories of the pipeline, its canary child, the manual rollback, batch prediction and the monitor', () => {
    const types = new Set(histories.map((h) => h.workflowType));
    for (const type of REQUIRED_WORKFLOW_TYPES) {
      assert.ok(
        types.has(type),
        `no ${type} history in ${HISTORIES_DIR}: record them with \`npm run histories:record\``,
      );
    }
  });

  it('finds a monitor run that continued as new and a retraining pipeline the monitor started', () => {
    // The branches only these reach: a continued run's carried state, and the pipeline's expected
    // shift (validation warns on drift) and schema adoption after production.
    const continued = histories.filter(
      (h) =>
        h.workflowType === MONITOR_WORKFLOW_TYPE &&
        h.history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes,
    );
    assert.ok(continued.length > 0, `no ${MONITOR_WORKFLOW_TYPE} history ending in continue-as-new`);
    const retraining = pipelineHistories.filter(
      (h) => startInput<PipelineInput>(h)?.trigger?.expectShift === true,
    );
    assert.ok(
      retraining.length > 0,
      `no ${PIPELINE_WORKFLOW_TYPE} history started by a monitor for a data shift`,
    );
  });

  it('replays every recorded history against the current workflow code without nondeterminism', async () => {
    assert.ok(pipelineHistories.length > 0, `no ${PIPELINE_WORKFLOW_TYPE} history in ${HISTORIES_DIR}`);
    const failures = await replay(await bundle(require.resolve('../../workflows')), histories);
    assert.equal(
      failures.length,
      0,
      `the current workflow code cannot replay ${failures.length} recorded histor${failures.length === 1 ? 'y' : 'ies'}; ` +
        'use patched() for the change, or re-record if breaking running workflows is intended ' +
        `(test/histories/README.md):\n${describeFailures(failures)}`,
    );
  });

  it('catches a step added before the first one: DeterminismViolationError on every history', async () => {
    assert.ok(pipelineHistories.length > 0, `no ${PIPELINE_WORKFLOW_TYPE} history in ${HISTORIES_DIR}`);
    // Every workflow type is altered (the monitor in every run, continued ones too), so this also
    // proves the histories of each type are compared, not only the pipeline's.
    const failures = await replay(
      await bundle(require.resolve('../helpers/replay-altered-workflows')),
      histories,
    );
    assert.deepEqual(
      failures.map(({ file }) => file),
      histories.map(({ file }) => file),
      'every history fails to replay against the altered code',
    );
    for (const { file, error } of failures) {
      assert.ok(
        error instanceof DeterminismViolationError,
        `${file}: expected a DeterminismViolationError, got ${error.name}: ${error.message}`,
      );
    }
  });

  it('accepts the same added step behind patched(): old histories still replay', async () => {
    assert.ok(pipelineHistories.length > 0, `no ${PIPELINE_WORKFLOW_TYPE} history in ${HISTORIES_DIR}`);
    const failures = await replay(
      await bundle(require.resolve('../helpers/replay-patched-workflows')),
      histories,
    );
    assert.equal(failures.length, 0, describeFailures(failures));
  });
});
