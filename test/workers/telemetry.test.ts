/**
 * Worker observability: the JSON log format, the Runtime options, and a real control worker process
 * that serves the SDK's Prometheus metrics and logs JSON lines carrying workflow ids.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { getFreePort } from '../../lib/temporal-server';
import { InvalidEnvironmentError, readWorkerEnv } from '../../workers/env';
import { createWorkerLogger, formatJsonLogLine, workerRuntimeOptions } from '../../workers/telemetry';
import { startTestDevServer } from '../helpers/dev-server';

const ROOT = path.resolve(__dirname, '../..');

describe('JSON log lines', () => {
  it('puts timestamp, level, message and the SDK metadata in one object', () => {
    const line = formatJsonLogLine({
      level: 'INFO',
      message: 'Activity completed',
      timestampNanos: 1_764_100_000_123_000_000n,
      meta: {
        sdkComponent: 'activity',
        workflowId: 'pipeline-ctr-1',
        runId: 'r-1',
        activityId: '3',
        activityType: 'train',
        attempt: 2,
        message: 'must not overwrite',
      },
    });
    assert.ok(!line.includes('\n'));
    assert.deepEqual(JSON.parse(line), {
      timestamp: '2025-11-25T19:46:40.123Z',
      level: 'INFO',
      message: 'Activity completed',
      sdkComponent: 'activity',
      workflowId: 'pipeline-ctr-1',
      runId: 'r-1',
      activityId: '3',
      activityType: 'train',
      attempt: 2,
    });
  });

  it('keeps errors and bigints, and survives circular metadata', () => {
    const parsed = JSON.parse(
      formatJsonLogLine({
        level: 'ERROR',
        message: 'boom',
        timestampNanos: 0n,
        meta: { error: new Error('disk full'), bytes: 12n },
      }),
    ) as { error: { name: string; message: string; stack?: string }; bytes: string };
    assert.equal(parsed.error.name, 'Error');
    assert.equal(parsed.error.message, 'disk full');
    assert.match(parsed.error.stack ?? '', /disk full/);
    assert.equal(parsed.bytes, '12');

    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const fallback = JSON.parse(
      formatJsonLogLine({ level: 'WARN', message: 'odd', timestampNanos: 0n, meta: { circular } }),
    ) as Record<string, unknown>;
    assert.equal(fallback.message, 'odd');
    assert.match(String(fallback.metaError), /not serialisable/);
  });

  it('filters by level in the JSON logger', () => {
    const lines: string[] = [];
    const logger = createWorkerLogger('json', 'WARN', (line) => lines.push(line));
    logger.info('quiet', { workflowId: 'w' });
    logger.warn('loud', { workflowId: 'w' });
    assert.equal(lines.length, 1);
    assert.equal((JSON.parse(lines[0]!) as { message: string }).message, 'loud');
  });
});

describe('worker runtime options', () => {
  it('binds Prometheus only when a port is set, and forwards core logs only for JSON', () => {
    const plain = workerRuntimeOptions({ logFormat: 'text', logLevel: 'INFO' });
    assert.equal(plain.telemetryOptions?.metrics, undefined);
    assert.equal(plain.telemetryOptions?.logging, undefined);

    const full = workerRuntimeOptions({ logFormat: 'json', logLevel: 'INFO', metricsPort: 9464 });
    assert.deepEqual(full.telemetryOptions?.metrics, { prometheus: { bindAddress: '0.0.0.0:9464' } });
    assert.ok(full.telemetryOptions?.logging && 'forward' in full.telemetryOptions.logging);
  });

  it('reads and checks the environment variables', () => {
    const env = readWorkerEnv({
      MLOPS_WORKER_METRICS_PORT: '9464',
      MLOPS_LOG_FORMAT: 'json',
      MLOPS_LOG_LEVEL: 'debug',
    });
    assert.equal(env.MLOPS_WORKER_METRICS_PORT, 9464);
    assert.equal(env.MLOPS_WORKER_METRICS_HOST, '0.0.0.0');
    assert.equal(env.MLOPS_LOG_FORMAT, 'json');
    assert.equal(env.MLOPS_LOG_LEVEL, 'DEBUG');
    assert.equal(readWorkerEnv({}).MLOPS_WORKER_METRICS_PORT, undefined);
    assert.equal(readWorkerEnv({}).MLOPS_LOG_FORMAT, 'text');

    assert.throws(
      () => readWorkerEnv({ MLOPS_WORKER_METRICS_PORT: '70000', MLOPS_LOG_FORMAT: 'xml' }),
      (err: unknown) =>
        err instanceof InvalidEnvironmentError &&
        err.problems.some((problem) => problem.startsWith('MLOPS_WORKER_METRICS_PORT')) &&
        err.problems.some((problem) => problem.startsWith('MLOPS_LOG_FORMAT')),
    );
  });
});

type LogLine = Record<string, unknown> & { level: string; message: string; timestamp: string };

/** Resolves with the first line `match` accepts, or rejects after `ms` saying what was seen. */
function waitForLine(
  lines: LogLine[],
  listeners: Set<() => void>,
  match: (line: LogLine) => boolean,
  what: string,
  ms = 60_000,
): Promise<LogLine> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const found = lines.find(match);
      if (!found) return;
      clearTimeout(timer);
      listeners.delete(check);
      resolve(found);
    };
    const timer = setTimeout(() => {
      listeners.delete(check);
      reject(
        new Error(
          `no log line ${what} within ${ms} ms; saw:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`,
        ),
      );
    }, ms);
    listeners.add(check);
    check();
  });
}

describe('a control worker process', () => {
  it('serves Temporal SDK metrics for Prometheus and logs JSON lines with workflow ids', async (t) => {
    await using server = await startTestDevServer();
    const store = await mkdtemp(path.join(tmpdir(), 'mlops-telemetry-'));
    t.after(() => rm(store, { recursive: true, force: true }));
    const metricsPort = await getFreePort();
    const taskQueue = `telemetry-${process.pid}`;

    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/control-worker.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: server.address,
        TEMPORAL_NAMESPACE: server.namespace,
        MLOPS_STORE: store,
        MLOPS_CONTROL_QUEUE: taskQueue,
        MLOPS_WORKER_METRICS_PORT: String(metricsPort),
        MLOPS_WORKER_METRICS_HOST: '127.0.0.1',
        MLOPS_LOG_FORMAT: 'json',
        MLOPS_LOG_LEVEL: 'DEBUG',
        MLOPS_SHUTDOWN_GRACE_SECONDS: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });

    const lines: LogLine[] = [];
    const notJson: string[] = [];
    const listeners = new Set<() => void>();
    createInterface({ input: child.stderr }).on('line', (text) => {
      if (!text.trim()) return;
      try {
        lines.push(JSON.parse(text) as LogLine);
      } catch {
        notJson.push(text);
      }
      for (const listener of [...listeners]) listener();
    });
    child.stdout.resume();

    const running = await waitForLine(
      lines,
      listeners,
      (line) => line.message === 'Worker state changed' && line.state === 'RUNNING',
      'saying the worker runs',
    );
    assert.equal(running.level, 'INFO');
    assert.equal(running.taskQueue, taskQueue);
    assert.ok(!Number.isNaN(Date.parse(running.timestamp)));
    assert.ok(lines.some((line) => String(line.message).startsWith('worker metrics on http://127.0.0.1:')));

    // A workflow's own log lines carry its ids (its arguments are incomplete, so it only logs; then it is terminated).
    const connection = await Connection.connect({ address: server.address });
    try {
      const client = new Client({ connection, namespace: server.namespace });
      const handle = await client.workflow.start('modelPipeline', {
        taskQueue,
        workflowId: `telemetry-${Date.now()}`,
        args: [{ model: 'ctr', dataUri: 'file:///nowhere' }],
      });
      const started = await waitForLine(
        lines,
        listeners,
        (line) => line.message === 'Workflow started' && line.workflowId === handle.workflowId,
        `"Workflow started" for ${handle.workflowId}`,
      );
      assert.equal(started.workflowType, 'modelPipeline');
      assert.equal(started.runId, handle.firstExecutionRunId);
      assert.equal(started.level, 'DEBUG');
      await handle.terminate('telemetry test done');
    } finally {
      await connection.close();
    }

    const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(response.status, 200);
    const body = await response.text();
    for (const metric of [
      'temporal_worker_start',
      'temporal_request',
      'temporal_num_pollers',
      'temporal_workflow_task_execution_latency',
    ]) {
      assert.match(body, new RegExp(`^${metric}\\S*\\{[^}]*\\}`, 'm'), `${metric} missing from /metrics`);
    }
    assert.match(body, new RegExp(`task_queue="${taskQueue}"`));

    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.deepEqual(notJson, [], 'every stderr line is JSON');
  });
});
