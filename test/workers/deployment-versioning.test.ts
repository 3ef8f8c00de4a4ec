/**
 * Worker Deployment Versioning on a real dev server: two releases of the workers (builds A and B) poll
 * the same task queues. A workflow that started on A stays on A after B becomes current, down to the
 * workflow task a later signal causes; a workflow started after the switch runs on B.
 *
 * The pinned workflow is a `modelMonitor` with a long interval: the cheapest real workflow that blocks
 * until signalled. Like `modelPipeline` and `canaryRollout` it declares no versioning behaviour, so it
 * takes the workers' default (PINNED) for as long as one run lasts.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, NativeConnection, type Worker, type WorkflowBundle } from '@temporalio/worker';
import { resolveTemporalCli, type DevServerHandle } from '../../lib/temporal-server';
import { queryMonitor, startMonitor, stopMonitor } from '../../scripts/clients/monitor-client';
import type { WorkerDeployment } from '../../workers/versioning';
import { createControlWorker } from '../../workers/control-worker';
import { createGpuWorker } from '../../workers/gpu-worker';
import { monitorWorkflowId, type MonitorStatus } from '../../contracts/monitor';
import { startTestDevServer } from '../helpers/dev-server';
import { eventually } from '../helpers/eventually';
import { quietLogger } from '../helpers/quiet-logger';

const CONTROL_QUEUE = 'test-versioned-control';
const GPU_QUEUE = 'test-versioned-gpu';
const DEPLOYMENT_NAME = 'mlops-test';
const BUILD_A: WorkerDeployment = { deploymentName: DEPLOYMENT_NAME, buildId: 'build-a' };
const BUILD_B: WorkerDeployment = { deploymentName: DEPLOYMENT_NAME, buildId: 'build-b' };
const BUILD_C: WorkerDeployment = { deploymentName: DEPLOYMENT_NAME, buildId: 'build-c' };
/** Long enough that a monitor blocks in its wait until the test signals it. */
const MONITOR_CONFIG = { intervalSeconds: 3600, action: 'alert' };

const { EventType, VersioningBehavior, WorkerDeploymentVersionStatus } = temporal.api.enums.v1;
const execFileAsync = promisify(execFile);

void describe('worker deployment versioning', { timeout: 180_000 }, () => {
  let devServer: DevServerHandle;
  let connection: Connection;
  let client: Client;
  let workerConnection: NativeConnection;
  let workflowBundle: WorkflowBundle;
  let storeUri: string;
  const running: { worker: Worker; run: Promise<void> }[] = [];

  /** One release: a control worker and a GPU worker with the same deployment version, running. */
  async function startRelease(deployment: WorkerDeployment): Promise<void> {
    const workers = [
      await createControlWorker({
        connection: workerConnection,
        namespace: devServer.namespace,
        taskQueue: CONTROL_QUEUE,
        deps: { storeUri, servingUrls: ['http://127.0.0.1:9'], adminToken: 'unused' },
        workflowBundle,
        deployment,
      }),
      await createGpuWorker({
        connection: workerConnection,
        namespace: devServer.namespace,
        taskQueue: GPU_QUEUE,
        storeUri,
        concurrency: 1,
        deployment,
      }),
    ];
    for (const worker of workers) running.push({ worker, run: worker.run() });
  }

  /**
   * `temporal worker deployment <command>` as README's procedure types it, against the test server; the
   * same request through the SDK's WorkflowService when only the SDK's server download is at hand.
   */
  async function temporalCli(args: string[]): Promise<string | undefined> {
    const cli = await resolveTemporalCli({ install: false, log: () => undefined });
    if (cli.kind !== 'executable') return undefined;
    const { stdout } = await execFileAsync(cli.path, [
      'worker',
      'deployment',
      ...args,
      '--address',
      devServer.address,
      '--namespace',
      devServer.namespace,
    ]);
    return stdout;
  }

  /** Makes `deployment` current, retried until its workers' first polls have registered the version. */
  async function setCurrentVersion(deployment: WorkerDeployment, via: 'cli' | 'sdk'): Promise<void> {
    await eventually(async () => {
      const { deploymentName, buildId } = deployment;
      const cliArgs = [
        'set-current-version',
        '--deployment-name',
        deploymentName,
        '--build-id',
        buildId,
        '--yes',
      ];
      if (via === 'cli' && (await temporalCli(cliArgs)) !== undefined) return true;
      await client.workflowService.setWorkerDeploymentCurrentVersion({
        namespace: devServer.namespace,
        deploymentName,
        buildId,
        identity: 'deployment-versioning.test',
      });
      return true;
    }, `${deployment.buildId} to become the current version`);
  }

  async function versioningInfo(handle: WorkflowHandle) {
    const { raw } = await handle.describe();
    return raw.workflowExecutionInfo?.versioningInfo ?? undefined;
  }

  /** Build ids of the workers that completed each workflow task of the run, in order. */
  async function workflowTaskBuildIds(handle: WorkflowHandle): Promise<string[]> {
    const history = await handle.fetchHistory();
    return (history.events ?? [])
      .filter((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
      .map(
        (event) => event.workflowTaskCompletedEventAttributes?.deploymentVersion?.buildId ?? '(unversioned)',
      );
  }

  /** Starts a monitor and waits until its first measurement is done and it blocks in its wait. */
  async function startBlockedMonitor(modelName: string): Promise<WorkflowHandle> {
    const handle = await startMonitor(client, {
      modelName,
      config: MONITOR_CONFIG,
      taskQueue: CONTROL_QUEUE,
    });
    await eventually(
      async () => ((await queryMonitor(client, modelName)).iterations >= 1 ? true : undefined),
      `${modelName}'s monitor to finish its first measurement`,
    );
    return handle;
  }

  before(async () => {
    storeUri = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-versioning-'));
    devServer = await startTestDevServer();
    connection = await Connection.connect({ address: devServer.address });
    client = new Client({ connection, namespace: devServer.namespace });
    workerConnection = await NativeConnection.connect({ address: devServer.address });
    workflowBundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../workflows'),
      logger: quietLogger,
    });
  });

  after(async () => {
    for (const { worker } of running) worker.shutdown();
    await Promise.allSettled(running.map(({ run }) => run));
    await workerConnection?.close();
    await connection?.close();
    await devServer?.stop();
    if (storeUri) await fs.rm(storeUri, { recursive: true, force: true });
  });

  void it('keeps a workflow started on build A on A after B becomes current, and starts new ones on B', async () => {
    await startRelease(BUILD_A);
    await setCurrentVersion(BUILD_A, 'sdk');
    const onA = await startBlockedMonitor('pinned-to-a');

    const infoA = await versioningInfo(onA);
    assert.equal(
      infoA?.behavior,
      VersioningBehavior.VERSIONING_BEHAVIOR_PINNED,
      'PINNED is the default behaviour',
    );
    assert.equal(infoA?.deploymentVersion?.buildId, BUILD_A.buildId);

    // Both task queues joined the version: the GPU worker's activity-only queue too.
    const describedA = await client.workflowService.describeWorkerDeploymentVersion({
      namespace: devServer.namespace,
      deploymentVersion: BUILD_A,
    });
    const queues = (describedA.workerDeploymentVersionInfo?.taskQueueInfos ?? []).map((queue) => queue.name);
    assert.ok(
      queues.includes(CONTROL_QUEUE) && queues.includes(GPU_QUEUE),
      `version A's task queues: ${queues.join(', ')}`,
    );

    // Release B: its workers start next to A's, then B becomes current.
    await startRelease(BUILD_B);
    await setCurrentVersion(BUILD_B, 'cli');
    const onB = await startBlockedMonitor('started-on-b');
    assert.equal((await versioningInfo(onB))?.deploymentVersion?.buildId, BUILD_B.buildId);

    // The old workflow is still pinned to A, and A drains: no longer current, with a pinned workflow open.
    const pinned = await versioningInfo(onA);
    assert.equal(pinned?.behavior, VersioningBehavior.VERSIONING_BEHAVIOR_PINNED);
    assert.equal(pinned?.deploymentVersion?.buildId, BUILD_A.buildId);
    const draining = await client.workflowService.describeWorkerDeploymentVersion({
      namespace: devServer.namespace,
      deploymentVersion: BUILD_A,
    });
    assert.equal(
      draining.workerDeploymentVersionInfo?.status,
      WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING,
    );
    const described = await temporalCli([
      'describe-version',
      '--deployment-name',
      DEPLOYMENT_NAME,
      '--build-id',
      BUILD_A.buildId,
    ]);
    if (described !== undefined) assert.match(described, /DrainageStatus\s+draining/i, described);

    // The workflow task a signal causes goes to A's worker, though B is current.
    await stopMonitor(client, 'pinned-to-a', 'test');
    const result = (await onA.result()) as MonitorStatus;
    assert.equal(result.modelName, 'pinned-to-a');
    const tasksA = await workflowTaskBuildIds(onA);
    assert.ok(tasksA.length >= 3, `workflow tasks: ${tasksA.join(', ')}`);
    assert.deepEqual(
      new Set(tasksA),
      new Set([BUILD_A.buildId]),
      `workflow tasks ran on ${tasksA.join(', ')}`,
    );

    await stopMonitor(client, 'started-on-b', 'test');
    await client.workflow.getHandle(monitorWorkflowId('started-on-b')).result();
    const tasksB = await workflowTaskBuildIds(onB);
    assert.deepEqual(
      new Set(tasksB),
      new Set([BUILD_B.buildId]),
      `workflow tasks ran on ${tasksB.join(', ')}`,
    );
  });

  void it('moves a running monitor to a new current build at its next continue-as-new', async () => {
    // Runs after the first test: B is current. The monitor wakes every second, so it sees C at once.
    const handle = await startMonitor(client, {
      modelName: 'moves-to-c',
      config: { ...MONITOR_CONFIG, intervalSeconds: 1 },
      taskQueue: CONTROL_QUEUE,
    });
    const firstRunId = await eventually(async () => {
      const described = await handle.describe();
      const version = described.raw.workflowExecutionInfo?.versioningInfo?.deploymentVersion?.buildId;
      return version === BUILD_B.buildId ? described.runId : undefined;
    }, 'the monitor to start on B');
    await startRelease(BUILD_C);
    await setCurrentVersion(BUILD_C, 'sdk');
    const latest = client.workflow.getHandle(monitorWorkflowId('moves-to-c'));
    const { runId } = await eventually(
      async () => {
        const described = await latest.describe();
        const version = described.raw.workflowExecutionInfo?.versioningInfo?.deploymentVersion?.buildId;
        return version === BUILD_C.buildId ? described : undefined;
      },
      'the monitor to continue as new onto C',
      15_000,
    );
    assert.notEqual(runId, firstRunId, 'a new run, not the first one moved');
    await stopMonitor(client, 'moves-to-c', 'test');
    await latest.result();
  });
});
