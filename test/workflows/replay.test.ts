/**
 * Replays the histories recorded in test/histories against the current workflow code: a change
 * that would break workflows already running (a step added, removed or reordered without
 * `patched()`) fails here, naming the history it breaks. Re-record with `npm run histories:record`.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import {
  CANARY_WORKFLOW_TYPE,
  PIPELINE_WORKFLOW_TYPE,
  ROLLBACK_WORKFLOW_TYPE,
} from '../../workflows/definitions';
import { HISTORIES_DIR, loadHistories, type RecordedHistory } from '../helpers/histories';

/** Every recording must cover these, so deleting the files cannot turn the test into a no-op. */
const REQUIRED_WORKFLOW_TYPES = [PIPELINE_WORKFLOW_TYPE, CANARY_WORKFLOW_TYPE, ROLLBACK_WORKFLOW_TYPE];

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

  it('finds recorded histories of the pipeline, its canary child and the manual rollback', () => {
    const types = new Set(histories.map((h) => h.workflowType));
    for (const type of REQUIRED_WORKFLOW_TYPES) {
      assert.ok(
        types.has(type),
        `no ${type} history in ${HISTORIES_DIR}: record them with \`npm run histories:record\``,
      );
    }
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
    // Every workflow type is altered, so this also proves canary and rollback histories are checked.
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
