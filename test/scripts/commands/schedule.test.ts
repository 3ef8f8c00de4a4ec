import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Client, WorkflowStartOptions } from '@temporalio/client';
import { startPipeline } from '../../../scripts/clients/pipeline-client';
import { buildPipelineInput } from '../../../scripts/clients/pipeline-client';
import { DEFAULT_RETRAIN_CRON, retrainScheduleId } from '../../../scripts/clients/schedule-client';
import {
  createOptionsSchema,
  deleteOptionsSchema,
  formatScheduleList,
} from '../../../scripts/commands/schedule';
import { ScheduleOverlapPolicy } from '@temporalio/client';

void describe('schedule command (pure parts)', () => {
  void it('names one schedule per model', () => {
    assert.equal(retrainScheduleId('ctr'), 'mlops-retrain-ctr');
    assert.equal(DEFAULT_RETRAIN_CRON, '0 3 1 * *');
  });

  void it('builds the same PipelineInput as startPipeline', async () => {
    let started: WorkflowStartOptions | undefined;
    const fakeClient = {
      workflow: {
        start: (_type: string, options: WorkflowStartOptions) => {
          started = options;
          return Promise.resolve({ workflowId: options.workflowId });
        },
      },
    } as unknown as Client;
    const options = {
      modelName: 'ctr',
      dataUri: 'gs://bucket/ads',
      config: { train: { epochs: 3 } },
      approvalRequired: false,
      gpuTaskQueue: 'gpu-q',
    };
    await startPipeline(fakeClient, { ...options, taskQueue: 'control' });
    assert.deepEqual(buildPipelineInput(options), started!.args![0]);
  });

  void it('validates create options like pipeline start', () => {
    const ok = createOptionsSchema.parse({
      model: 'ctr_v2',
      data: '/d',
      cron: ' 0 3 1 * * ',
      approval: true,
    });
    assert.equal(ok.cron, '0 3 1 * *');
    assert.ok(
      createOptionsSchema.safeParse({ model: 'x', data: '/d', cron: '@monthly', approval: true }).success,
    );
    const badModel = createOptionsSchema.safeParse({
      model: 'a/b',
      data: '/d',
      cron: '0 3 1 * *',
      approval: true,
    });
    assert.equal(badModel.success, false);
    assert.match(badModel.error.issues[0]!.message, /model names use letters, digits, - and _/);
    const badCron = createOptionsSchema.safeParse({
      model: 'ctr',
      data: '/d',
      cron: '0 3 1',
      approval: true,
    });
    assert.equal(badCron.success, false);
    assert.match(badCron.error.issues[0]!.message, /five fields/);
    assert.equal(deleteOptionsSchema.safeParse({ model: '-x' }).success, false);
  });

  void it('formats the list', () => {
    assert.equal(formatScheduleList([]), 'No retraining schedules.');
    const text = formatScheduleList([
      {
        scheduleId: 'mlops-retrain-ctr',
        model: 'ctr',
        dataUri: '/data/ads',
        cron: '0 3 1 * *',
        paused: false,
        nextRuns: [new Date('2026-12-01T03:00:00Z'), new Date('2027-01-01T03:00:00Z')],
        lastRun: { at: new Date('2026-11-25T21:00:00Z'), workflowId: 'pipeline-ctr-scheduled-x' },
        overlap: ScheduleOverlapPolicy.BUFFER_ONE,
      },
    ]);
    const [header, row] = text.split('\n');
    assert.match(header!, /^ID\s+MODEL\s+DATA\s+CRON\s+NEXT RUNS\s+LAST RUN\s+PAUSED$/);
    assert.match(
      row!,
      /^mlops-retrain-ctr\s+ctr\s+\/data\/ads\s+0 3 1 \* \*\s+2026-12-01T03:00:00\.000Z, 2027-01-01T03:00:00\.000Z\s+2026-11-25T21:00:00\.000Z \(pipeline-ctr-scheduled-x\)\s+no$/,
    );
  });
});
