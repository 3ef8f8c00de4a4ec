// `mlops schedule create|list|delete` for real, against a throwaway dev server (no workers: the
// triggered pipeline just waits on its task queue).
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client, Connection, ScheduleOverlapPolicy } from '@temporalio/client';
import type { TypedSearchAttributes } from '@temporalio/common';
import { startTestDevServer } from '../helpers/dev-server';
import type { DevServerHandle } from '../../lib/temporal-server';
import { ML_MODEL, PIPELINE_WORKFLOW_TYPE, type PipelineInput } from '../../contracts/temporal';
import { retrainScheduleId } from '../../scripts/clients/schedule-client';
import { eventually } from '../helpers/eventually';

const REPO = path.resolve(__dirname, '..', '..');
const CONTROL_QUEUE = 'schedule-test-control';
const GPU_QUEUE = 'schedule-test-gpu';

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

let server: DevServerHandle;
let connection: Connection;
let client: Client;
let tmp: string;

function mlops(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'scripts/mlops.ts', ...args],
      {
        cwd: REPO,
        timeout: 60_000,
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: server.address,
          TEMPORAL_NAMESPACE: server.namespace,
          MLOPS_CONTROL_QUEUE: CONTROL_QUEUE,
          MLOPS_GPU_QUEUE: GPU_QUEUE,
          MLOPS_DEBUG: '',
        },
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

void describe('mlops schedule (dev server)', () => {
  before(async () => {
    server = await startTestDevServer();
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection, namespace: server.namespace });
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-schedule-'));
  });
  after(async () => {
    await connection?.close();
    await server?.stop();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  void it('creates, lists, triggers, refuses a duplicate, deletes', async () => {
    const configFile = path.join(tmp, 'config.json');
    await fs.writeFile(configFile, JSON.stringify({ train: { epochs: 2 } }));
    const scheduleId = retrainScheduleId('ctr');

    const created = await mlops([
      'schedule',
      'create',
      '--model',
      'ctr',
      '--data',
      '/data/ads',
      '--config',
      configFile,
      '--no-approval',
    ]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /Created schedule mlops-retrain-ctr \(0 3 1 \* \*\)/);
    assert.match(created.stdout, /Next run: \d{4}-\d\d-01T03:00:00\.000Z/);

    // Listing is eventually consistent: wait until the schedule shows up.
    const listed = await eventually(async () => {
      const result = await mlops(['schedule', 'list']);
      assert.equal(result.code, 0, result.stderr);
      return result.stdout.includes(scheduleId) ? result.stdout : undefined;
    }, 'the schedule in the list');
    const line = listed.split('\n').find((l) => l.startsWith(scheduleId))!;
    assert.match(line, /\bctr\b.*\/data\/ads.*0 3 1 \* \*.*\d{4}-\d\d-01T03:00:00\.000Z.*never\s+no$/);

    const handle = client.schedule.getHandle(scheduleId);
    const description = await handle.describe();
    assert.equal(description.policies.overlap, ScheduleOverlapPolicy.BUFFER_ONE);
    assert.equal(description.action.workflowType, PIPELINE_WORKFLOW_TYPE);
    assert.equal(description.action.taskQueue, CONTROL_QUEUE);
    const input = description.action.args![0] as PipelineInput;
    assert.equal(input.modelName, 'ctr');
    assert.equal(input.dataUri, '/data/ads');
    assert.equal(input.config.train.epochs, 2);
    assert.equal(input.config.approval.required, false);
    assert.equal(input.config.taskQueues.gpu, GPU_QUEUE);
    const actionAttributes = description.action.typedSearchAttributes as TypedSearchAttributes;
    assert.equal(actionAttributes.get(ML_MODEL), 'ctr');
    assert.match(description.action.staticSummary ?? '', /Scheduled retraining of ctr on \/data\/ads/);

    await handle.trigger();
    const started = await eventually(async () => {
      const { recentActions } = (await handle.describe()).info;
      return recentActions.at(-1)?.action.workflow.workflowId;
    }, 'the triggered run');
    const workflow = await client.workflow.getHandle(started).describe();
    assert.equal(workflow.type, PIPELINE_WORKFLOW_TYPE);
    assert.equal(workflow.status.name, 'RUNNING');
    assert.equal(workflow.taskQueue, CONTROL_QUEUE);
    assert.equal(workflow.typedSearchAttributes.get(ML_MODEL), 'ctr');
    assert.match(started, /^pipeline-ctr-scheduled/);

    const listedAfterRun = await mlops(['schedule', 'list', '--json']);
    assert.equal(listedAfterRun.code, 0, listedAfterRun.stderr);
    const [info] = JSON.parse(listedAfterRun.stdout) as [{ lastRun?: { workflowId: string } }];
    assert.equal(info.lastRun?.workflowId, started);

    const again = await mlops(['schedule', 'create', '--model', 'ctr', '--data', '/data/other']);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      /^error: a retraining schedule for ctr already exists \(mlops-retrain-ctr\); delete it first/m,
    );
    assert.doesNotMatch(again.stderr, /^\s+at /m, 'no stack trace');

    const badReplace = await mlops([
      'schedule',
      'create',
      '--model',
      'ctr',
      '--data',
      '/data/other',
      '--cron',
      '0 25 * * *',
      '--replace',
    ]);
    assert.equal(badReplace.code, 1);
    assert.match(badReplace.stderr, /^error: invalid cron expression '0 25 \* \* \*': .*hour/im);
    assert.equal(
      ((await handle.describe()).action.args![0] as PipelineInput).dataUri,
      '/data/ads',
      'old schedule kept',
    );

    const replaced = await mlops([
      'schedule',
      'create',
      '--model',
      'ctr',
      '--data',
      '/data/other',
      '--cron',
      '0 4 * * 1',
      '--replace',
    ]);
    assert.equal(replaced.code, 0, replaced.stderr);
    const replacedInput = (await handle.describe()).action.args![0] as PipelineInput;
    assert.equal(replacedInput.dataUri, '/data/other');
    assert.equal(replacedInput.config.approval.required, true);
    const replacedList = await mlops(['schedule', 'list']);
    assert.match(replacedList.stdout, /^mlops-retrain-ctr\s+ctr\s+\/data\/other\s+0 4 \* \* 1\s/m);

    const deleted = await mlops(['schedule', 'delete', '--model', 'ctr']);
    assert.equal(deleted.code, 0, deleted.stderr);
    const empty = await mlops(['schedule', 'list']);
    assert.equal(empty.code, 0, empty.stderr);
    assert.equal(empty.stdout.trim(), 'No retraining schedules.');

    const deletedAgain = await mlops(['schedule', 'delete', '--model', 'ctr']);
    assert.equal(deletedAgain.code, 1);
    assert.match(deletedAgain.stderr, /^error: no retraining schedule for ctr \(mlops-retrain-ctr\)/m);
  });

  void it("refuses a bad cron expression with the server's reason", async () => {
    const result = await mlops([
      'schedule',
      'create',
      '--model',
      'ctr',
      '--data',
      '/d',
      '--cron',
      '61 * * * *',
    ]);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^error: invalid cron expression '61 \* \* \* \*': Minute is not in range \[0-59\]/m,
    );
    assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');
  });

  void it('refuses a bad config file and model name before connecting', async () => {
    const bad = path.join(tmp, 'bad.json');
    await fs.writeFile(bad, JSON.stringify({ train: { epochs: -1 } }));
    const config = await mlops(['schedule', 'create', '--model', 'ctr', '--data', '/d', '--config', bad]);
    assert.equal(config.code, 1);
    assert.match(config.stderr, /Invalid pipeline configuration:\n\s+train\.epochs/);
    const name = await mlops(['schedule', 'create', '--model', 'no/slash', '--data', '/d']);
    assert.equal(name.code, 1);
    assert.match(name.stderr, /--model: model names use letters, digits, - and _/);
  });
});
