/**
 * OpenTelemetry tracing: the settings the environment gives, and a real control worker and client
 * exporting OTLP/HTTP JSON to a real receiver, with one trace from `mlops pipeline start`'s client
 * call through the workflow to its activity.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { connectClient } from '../../scripts/clients/temporal-client';
import { getFreePort, type DevServerHandle } from '../../lib/temporal-server';
import {
  DEFAULT_SERVICE_NAMES,
  startTracing,
  startTracingFromEnv,
  tracingSettingsFromEnv,
  TRACING_WORKFLOW_MODULE,
} from '../../workers/tracing';
import { readWorkerEnv } from '../../workers/env';
import { createControlWorker } from '../../workers/control-worker';
import { ROLLBACK_WORKFLOW_TYPE } from '../../contracts/temporal';
import { startTestDevServer } from '../helpers/dev-server';

const ROOT = path.resolve(__dirname, '../..');

describe('tracing settings', () => {
  it('stay off unless an OTLP endpoint or MLOPS_TRACING asks for tracing', () => {
    assert.equal(tracingSettingsFromEnv(readWorkerEnv({}), 'svc'), undefined);
    assert.equal(
      tracingSettingsFromEnv(
        readWorkerEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', MLOPS_TRACING: 'off' }),
        'svc',
      ),
      undefined,
    );
    assert.equal(startTracingFromEnv(readWorkerEnv({}), 'svc'), undefined);
  });

  it('append /v1/traces to the base endpoint, and use the traces endpoint as it is', () => {
    assert.deepEqual(
      tracingSettingsFromEnv(readWorkerEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }), 'svc'),
      { exporter: 'otlp', url: 'http://collector:4318/v1/traces', serviceName: 'svc' },
    );
    assert.deepEqual(
      tracingSettingsFromEnv(
        readWorkerEnv({
          OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
          OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://tempo.example/otlp/traces',
          OTEL_SERVICE_NAME: 'ctr-workers',
        }),
        'svc',
      ),
      { exporter: 'otlp', url: 'https://tempo.example/otlp/traces', serviceName: 'ctr-workers' },
    );
    assert.deepEqual(tracingSettingsFromEnv(readWorkerEnv({ MLOPS_TRACING: 'otlp' }), 'svc'), {
      exporter: 'otlp',
      url: 'http://localhost:4318/v1/traces',
      serviceName: 'svc',
    });
    assert.deepEqual(tracingSettingsFromEnv(readWorkerEnv({ MLOPS_TRACING: 'console' }), 'svc'), {
      exporter: 'console',
      serviceName: 'svc',
    });
  });
});

interface OtlpValue {
  stringValue?: string;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  status?: { code?: number };
}
interface OtlpExport {
  resourceSpans: Array<{
    resource: { attributes: Array<{ key: string; value: OtlpValue }> };
    scopeSpans: Array<{ spans: OtlpSpan[] }>;
  }>;
}
type ReceivedSpan = OtlpSpan & { serviceName: string | undefined };

/** A minimal OTLP/HTTP receiver: records every JSON `POST /v1/traces`, as a collector would take it. */
async function startOtlpReceiver(): Promise<{
  endpoint: string;
  spans: ReceivedSpan[];
  contentTypes: string[];
  close(): Promise<void>;
}> {
  const spans: ReceivedSpan[] = [];
  const contentTypes: string[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.method !== 'POST' || request.url !== '/v1/traces') {
        response.writeHead(404).end();
        return;
      }
      contentTypes.push(request.headers['content-type'] ?? '');
      let body = Buffer.concat(chunks);
      if (request.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const payload = JSON.parse(body.toString('utf8')) as OtlpExport;
      for (const { resource, scopeSpans } of payload.resourceSpans) {
        const serviceName = resource.attributes.find((attribute) => attribute.key === 'service.name')?.value
          .stringValue;
        for (const scope of scopeSpans) for (const span of scope.spans) spans.push({ ...span, serviceName });
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    contentTypes,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Polls until `ready` holds, flushing first each time; fails naming what was received. */
async function waitFor(
  ready: () => boolean,
  flush: () => Promise<void>,
  describeSeen: () => string,
  ms = 20_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    await flush();
    if (ready()) return;
    if (Date.now() > deadline) assert.fail(`spans missing after ${ms} ms; received: ${describeSeen()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('a traced control worker and client', () => {
  let server: DevServerHandle;
  let store: string;
  before(async () => {
    server = await startTestDevServer();
    store = await mkdtemp(path.join(tmpdir(), 'mlops-tracing-'));
  });
  after(async () => {
    await server?.stop();
    if (store) await rm(store, { recursive: true, force: true });
  });

  it('adds no interceptors, sinks or workflow modules when tracing is off', async () => {
    const env = readWorkerEnv({ TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: server.namespace });
    const tracing = startTracingFromEnv(env, DEFAULT_SERVICE_NAMES.controlWorker);
    assert.equal(tracing, undefined);
    const connection = await NativeConnection.connect({ address: server.address });
    try {
      const worker = await createControlWorker({
        connection,
        namespace: server.namespace,
        taskQueue: `untraced-${process.pid}`,
        deps: { storeUri: store, servingUrls: ['http://127.0.0.1:9'], adminToken: 'token' },
        tracing,
      });
      assert.deepEqual(worker.options.interceptors.workflowModules, []);
      assert.deepEqual(worker.options.interceptors.activity, []);
      assert.equal('exporter' in (worker.options.sinks ?? {}), false);
      await worker.runUntil(Promise.resolve());
    } finally {
      await connection.close();
    }

    const connected = await connectClient(env);
    try {
      assert.deepEqual(connected.client.options.interceptors.workflow ?? [], []);
    } finally {
      await connected.close();
    }
  });

  it('exports one trace from the client start through the workflow to its activity', async (t) => {
    const receiver = await startOtlpReceiver();
    t.after(() => receiver.close());
    const base = {
      TEMPORAL_ADDRESS: server.address,
      TEMPORAL_NAMESPACE: server.namespace,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    };
    const tracing = startTracingFromEnv(readWorkerEnv(base), DEFAULT_SERVICE_NAMES.controlWorker);
    assert.ok(tracing, 'OTEL_EXPORTER_OTLP_ENDPOINT turns tracing on');
    t.after(() => tracing.shutdown());
    const taskQueue = `traced-${process.pid}`;
    const connection = await NativeConnection.connect({ address: server.address });
    t.after(() => connection.close());
    const worker = await createControlWorker({
      connection,
      namespace: server.namespace,
      taskQueue,
      deps: { storeUri: store, servingUrls: ['http://127.0.0.1:9'], adminToken: 'token' },
      tracing,
    });
    assert.deepEqual(worker.options.interceptors.workflowModules, [TRACING_WORKFLOW_MODULE]);
    assert.equal(worker.options.interceptors.activity.length, 1);

    // The CLI's client, as `mlops pipeline start` / `mlops rollback` make it: traced from the same variables.
    const connected = await connectClient(readWorkerEnv(base));
    const workflowId = `traced-rollback-${Date.now()}`;
    try {
      await worker.runUntil(async () => {
        // A model with no versions: the rollback's first activity refuses it for good, in well under a second.
        const handle = await connected.client.workflow.start(ROLLBACK_WORKFLOW_TYPE, {
          taskQueue,
          workflowId,
          args: [{ modelName: 'ghost', by: 'tracing-test' }],
        });
        await assert.rejects(handle.result(), WorkflowFailedError);
      });
    } finally {
      await connected.close();
    }

    const names = {
      start: `StartWorkflow:${ROLLBACK_WORKFLOW_TYPE}`,
      run: `RunWorkflow:${ROLLBACK_WORKFLOW_TYPE}`,
      schedule: 'StartActivity:resolveRollbackTarget',
      execute: 'RunActivity:resolveRollbackTarget',
    };
    const find = (name: string) => receiver.spans.find((span) => span.name === name);
    await waitFor(
      () => Object.values(names).every((name) => find(name) !== undefined),
      () => tracing.forceFlush(),
      () => JSON.stringify(receiver.spans.map(({ name, serviceName }) => ({ name, serviceName }))),
    );
    const start = find(names.start)!;
    const run = find(names.run)!;
    const schedule = find(names.schedule)!;
    const execute = find(names.execute)!;

    assert.ok(receiver.contentTypes.every((type) => type.startsWith('application/json')));
    assert.equal(start.serviceName, DEFAULT_SERVICE_NAMES.cli);
    for (const span of [run, schedule, execute]) {
      assert.equal(span.serviceName, DEFAULT_SERVICE_NAMES.controlWorker, span.name);
    }
    assert.match(start.traceId, /^[0-9a-f]{32}$/);
    for (const span of [run, schedule, execute]) assert.equal(span.traceId, start.traceId, span.name);
    // client start → workflow run → activity scheduled → activity run
    assert.equal(run.parentSpanId, start.spanId);
    assert.equal(schedule.parentSpanId, run.spanId);
    assert.equal(execute.parentSpanId, schedule.spanId);
    // The refused rollback shows as an error on the activity's span (OTLP status code 2).
    assert.equal(execute.status?.code, 2);
  });

  it('sends the last spans of a worker process when SIGTERM stops it', async (t) => {
    const receiver = await startOtlpReceiver();
    t.after(() => receiver.close());
    const taskQueue = `traced-process-${process.pid}`;
    const child = spawn(process.execPath, ['--import', 'tsx', 'workers/control-worker.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: server.address,
        TEMPORAL_NAMESPACE: server.namespace,
        MLOPS_STORE: store,
        MLOPS_CONTROL_QUEUE: taskQueue,
        MLOPS_SHUTDOWN_GRACE_SECONDS: '1',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_SERVICE_NAME: 'ctr-control',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });

    const connected = await connectClient(
      readWorkerEnv({ TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: server.namespace }),
    );
    try {
      const handle = await connected.client.workflow.start(ROLLBACK_WORKFLOW_TYPE, {
        taskQueue,
        workflowId: `traced-process-${Date.now()}`,
        args: [{ modelName: 'ghost', by: 'tracing-test' }],
      });
      await assert.rejects(handle.result(), WorkflowFailedError);
    } finally {
      await connected.close();
    }
    // The batch processor holds spans for 5 s; only the flush on stop can have sent them by now.
    child.kill('SIGTERM');
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /tracing to http:\/\/127\.0\.0\.1:\d+\/v1\/traces \(OTLP\/HTTP\) as ctr-control/);
    const names = receiver.spans.map((span) => span.name);
    assert.ok(names.includes(`RunWorkflow:${ROLLBACK_WORKFLOW_TYPE}`), names.join(', '));
    assert.ok(names.includes('RunActivity:resolveRollbackTarget'), names.join(', '));
    assert.ok(receiver.spans.every((span) => span.serviceName === 'ctr-control'));
  });
});

describe('a trace collector that is down', () => {
  it('costs a warning when the last spans are sent, never a rejection', async () => {
    const warnings: string[] = [];
    const tracing = startTracing(
      { exporter: 'otlp', url: `http://127.0.0.1:${await getFreePort()}/v1/traces`, serviceName: 'svc' },
      { warn: (message) => warnings.push(message) },
    );
    tracing.tracer.startSpan('lost').end();
    await tracing.shutdown();
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, /^could not send the last spans to the trace collector: .*ECONNREFUSED/);
  });
});
