/**
 * Several server processes on one port (MLOPS_SERVING_PROCESSES): the real entry point, started as
 * `mlops dev` starts it. Every request goes on a fresh connection, so the cluster spreads them over
 * its processes; what one process is told (a reload, a fault) every process must do, and any
 * process's /metrics must count every process's requests.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startEntryPoint, type ManagedProcess } from '../../lib/stack/child-process';
import { ADMIN_TOKEN, createServingFixture, validInstance, type ServingFixture } from './fixture';

/** One request on its own connection (no keep-alive), so the cluster may give it to any process. */
function send(
  url: string,
  method = 'GET',
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const request = http.request(
      url,
      {
        method,
        agent: false,
        headers: {
          authorization: `Bearer ${ADMIN_TOKEN}`,
          ...(payload ? { 'content-type': 'application/json' } : {}),
        },
      },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => {
          let json: Record<string, unknown> | undefined;
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            json = undefined;
          }
          resolve({ status: response.statusCode ?? 0, json, text });
        });
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const requestsCounted = (metrics: string, version: string) =>
  metrics
    .split('\n')
    .filter(
      (line) => line.startsWith('mlops_prediction_requests_total{') && line.includes(`version="${version}"`),
    )
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);

describe('a server of several processes on one port', () => {
  let fixture: ServingFixture;
  let server: ManagedProcess;
  let url: string;
  let logDir: string;

  before(async () => {
    fixture = await createServingFixture();
    const v1 = await fixture.saveVersion('1');
    await fixture.deploy({ revision: 1, stable: { version: '1', modelUri: v1 } });
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    logDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-cluster-logs-'));
    server = await startEntryPoint({
      name: 'prediction-server',
      entry: 'serving/main.ts',
      logDir,
      env: {
        MLOPS_STORE: fixture.storeUri,
        PORT: String(port),
        MLOPS_SERVING_PROCESSES: '2',
        MLOPS_ADMIN_TOKEN: ADMIN_TOKEN,
        MLOPS_FAULT_INJECTION: 'true',
        // Only a reload moves the processes to a new deployment, not their own polling.
        MLOPS_POLL_INTERVAL_MS: '3600000',
        LOG_LEVEL: 'warn',
      },
    });
    // Both processes listen before the port answers /readyz twice in a row from fresh connections.
    for (let ready = 0, waited = 0; ready < 4; waited += 100) {
      if (waited > 60_000)
        throw new Error(`the server did not become ready: ${await fs.readFile(server.logFile, 'utf8')}`);
      const answer = await send(`${url}/readyz`).catch(() => undefined);
      ready = answer?.status === 200 ? ready + 1 : 0;
      if (ready < 4) await sleep(100);
    }
  });
  after(async () => {
    await server?.stop();
    await fixture.close();
    await fs.rm(logDir, { recursive: true, force: true });
  });

  it('counts every process’s requests on any process’s /metrics', async () => {
    const body = { instances: [await validInstance()] };
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => send(`${url}/v1/models/ctr:predict`, 'POST', body)),
    );
    assert.deepEqual(
      answers.map((answer) => answer.status),
      answers.map(() => 200),
    );
    for (let scrape = 0; scrape < 4; scrape++) {
      const text = (await send(`${url}/metrics`)).text;
      assert.equal(requestsCounted(text, '1'), 40, `scrape ${scrape}`);
    }
  });

  it('reloads, injects and clears faults in every process when one is asked', async () => {
    const v2 = await fixture.saveVersion('2', 9);
    await fixture.deploy({ revision: 2, stable: { version: '2', modelUri: v2 } });
    const reload = await send(`${url}/admin/reload`, 'POST');
    assert.equal(reload.status, 200, reload.text);
    assert.deepEqual(reload.json?.revisions, { ctr: 2 });
    for (let i = 0; i < 8; i++) {
      assert.equal((await send(`${url}/v1/models/ctr`)).json?.deployment_revision, 2, `status ${i}`);
    }
    const body = { instances: [await validInstance()] };
    const fault = await send(`${url}/admin/faults`, 'PUT', { model: 'ctr', version: '2', errorRate: 1 });
    assert.equal(fault.status, 200, fault.text);
    for (let i = 0; i < 8; i++) {
      const answer = await send(`${url}/v1/models/ctr:predict`, 'POST', body);
      assert.equal(answer.json?.code, 'injected_fault', `request ${i}: ${answer.text}`);
    }
    assert.equal((await send(`${url}/admin/faults`, 'DELETE')).status, 200);
    for (let i = 0; i < 8; i++) {
      assert.equal((await send(`${url}/v1/models/ctr:predict`, 'POST', body)).status, 200, `request ${i}`);
    }
  });
});
