import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  describeTemporalConnection,
  InvalidEnvironmentError,
  readWorkerEnv,
  temporalConnectionOptions,
} from '../../workers/env';
import { workerDeploymentFromEnv, workerVersioningOptions } from '../../workers/versioning';

const CERT = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nMIIEfake\n-----END PRIVATE KEY-----\n';
const CA = '-----BEGIN CERTIFICATE-----\nMIICA\n-----END CERTIFICATE-----\n';

let tmp: string;
let certFile: string;
let keyFile: string;
let caFile: string;

/** The error readWorkerEnv throws for `env`, for matching its lines. */
function problemsOf(env: NodeJS.ProcessEnv): string {
  try {
    readWorkerEnv(env);
  } catch (err) {
    assert.ok(err instanceof InvalidEnvironmentError, String(err));
    return err.message;
  }
  assert.fail('readWorkerEnv accepted the environment');
}

void describe('readWorkerEnv', () => {
  before(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-env-'));
    certFile = path.join(tmp, 'client.pem');
    keyFile = path.join(tmp, 'client.key');
    caFile = path.join(tmp, 'ca.pem');
    await fs.writeFile(certFile, CERT);
    await fs.writeFile(keyFile, KEY);
    await fs.writeFile(caFile, CA);
  });
  after(async () => {
    await fs.rm(tmp, { recursive: true, force: true });
  });

  void it('defaults to the local dev server over plaintext, one training per GPU', () => {
    const env = readWorkerEnv({});
    assert.equal(env.TEMPORAL_ADDRESS, 'localhost:7233');
    assert.equal(env.TEMPORAL_NAMESPACE, 'default');
    assert.equal(env.temporalTls, undefined);
    assert.equal(env.MLOPS_GPU_CONCURRENCY, 1);
    assert.equal(env.MLOPS_SHUTDOWN_GRACE_SECONDS, 30);
    assert.equal(env.MLOPS_GPU_QUEUE, 'ml-gpu');
    assert.deepEqual(temporalConnectionOptions(env), { address: 'localhost:7233' });
    assert.equal(describeTemporalConnection(env), 'localhost:7233 namespace default (plaintext)');
  });

  void it('turns TLS on for a Temporal Cloud API key, trimming the newline a mounted secret ends with', () => {
    const env = readWorkerEnv({
      TEMPORAL_ADDRESS: 'us-east-1.aws.api.temporal.io:7233',
      TEMPORAL_NAMESPACE: 'ml.a1b2c',
      TEMPORAL_API_KEY: 'secret-key\n',
    });
    assert.deepEqual(temporalConnectionOptions(env), {
      address: 'us-east-1.aws.api.temporal.io:7233',
      tls: {},
      apiKey: 'secret-key',
    });
    const line = describeTemporalConnection(env);
    assert.equal(line, 'us-east-1.aws.api.temporal.io:7233 namespace ml.a1b2c (TLS, API key)');
    assert.doesNotMatch(line, /secret/);
  });

  void it('reads the mTLS client pair, CA and server name at start', () => {
    const env = readWorkerEnv({
      TEMPORAL_ADDRESS: 'ml.a1b2c.tmprl.cloud:7233',
      TEMPORAL_TLS_CERT: certFile,
      TEMPORAL_TLS_KEY: keyFile,
      TEMPORAL_TLS_CA: caFile,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
    });
    const options = temporalConnectionOptions(env);
    assert.equal(Buffer.from(options.tls!.clientCertPair!.crt).toString(), CERT);
    assert.equal(Buffer.from(options.tls!.clientCertPair!.key).toString(), KEY);
    assert.equal(Buffer.from(options.tls!.serverRootCACertificate!).toString(), CA);
    assert.equal(options.tls!.serverNameOverride, 'temporal.internal');
    assert.equal(options.apiKey, undefined);
    assert.match(
      describeTemporalConnection(env),
      /\(TLS, mTLS client certificate, custom CA, server name temporal\.internal\)$/,
    );
  });

  void it('connects with TLS and the system roots when only TEMPORAL_TLS is set', () => {
    for (const value of ['true', '1']) {
      assert.deepEqual(temporalConnectionOptions(readWorkerEnv({ TEMPORAL_TLS: value })).tls, {});
    }
    assert.equal(readWorkerEnv({ TEMPORAL_TLS: 'false' }).temporalTls, undefined);
  });

  void it('names a missing certificate file, together with every other problem', () => {
    const missing = path.join(tmp, 'nope.pem');
    const message = problemsOf({
      TEMPORAL_ADDRESS: 'https://temporal.internal:7233',
      TEMPORAL_TLS_CERT: missing,
      TEMPORAL_TLS_KEY: keyFile,
      MLOPS_GPU_CONCURRENCY: '0',
    });
    assert.match(message, /^Invalid environment:$/m);
    assert.match(message, /^ {2}TEMPORAL_ADDRESS: must be host:port without a scheme/m);
    assert.match(message, /^ {2}MLOPS_GPU_CONCURRENCY: /m);
    assert.ok(
      message.includes(`  TEMPORAL_TLS_CERT: cannot read certificate file ${missing} (no such file)`),
      message,
    );
    assert.equal(message.split('\n').length, 4, message);
  });

  void it('requires the certificate and key as a pair', () => {
    assert.match(
      problemsOf({ TEMPORAL_TLS_CERT: certFile }),
      /TEMPORAL_TLS_KEY: required with TEMPORAL_TLS_CERT/,
    );
    assert.match(
      problemsOf({ TEMPORAL_TLS_KEY: keyFile }),
      /TEMPORAL_TLS_CERT: required with TEMPORAL_TLS_KEY/,
    );
  });

  void it('refuses TEMPORAL_TLS=false beside settings that need TLS', () => {
    assert.match(
      problemsOf({ TEMPORAL_TLS: 'false', TEMPORAL_API_KEY: 'k', TEMPORAL_TLS_CA: caFile }),
      /TEMPORAL_TLS: is false but TEMPORAL_TLS_CA, TEMPORAL_API_KEY need TLS/,
    );
    assert.match(problemsOf({ TEMPORAL_TLS: 'yes' }), /^ {2}TEMPORAL_TLS: /m);
  });

  void it('says which file is not PEM, and which holds no private key', async () => {
    const der = path.join(tmp, 'client.der');
    await fs.writeFile(der, Buffer.from([0x30, 0x82, 0x01, 0x0a]));
    const message = problemsOf({ TEMPORAL_TLS_CERT: der, TEMPORAL_TLS_KEY: certFile });
    assert.ok(message.includes(`TEMPORAL_TLS_CERT: ${der} is not a PEM certificate`), message);
    assert.ok(message.includes(`TEMPORAL_TLS_KEY: ${certFile} holds no PEM private key`), message);
  });

  void it('treats blank variables as unset, as an empty Kubernetes value means', () => {
    const env = readWorkerEnv({ TEMPORAL_ADDRESS: ' ', TEMPORAL_TLS_CERT: '', MLOPS_PROMETHEUS_URL: '' });
    assert.equal(env.TEMPORAL_ADDRESS, 'localhost:7233');
    assert.equal(env.temporalTls, undefined);
    assert.equal(env.MLOPS_PROMETHEUS_URL, undefined);
  });

  void it('reads the tracing variables, trimming the service name', () => {
    const env = readWorkerEnv({
      MLOPS_TRACING: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://tempo.example/v1/traces',
      OTEL_SERVICE_NAME: ' ctr-workers\n',
    });
    assert.equal(env.MLOPS_TRACING, 'otlp');
    assert.equal(env.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://otel-collector:4318');
    assert.equal(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, 'https://tempo.example/v1/traces');
    assert.equal(env.OTEL_SERVICE_NAME, 'ctr-workers');
    assert.equal(readWorkerEnv({}).MLOPS_TRACING, undefined);
  });

  void it('names every bad tracing variable, with an example of a good value', () => {
    const message = problemsOf({
      MLOPS_TRACING: 'jaeger',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'otel-collector:4318',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'grpc://otel-collector:4317',
    });
    assert.match(message, /^ {2}MLOPS_TRACING: must be otlp, console or off$/m);
    assert.match(
      message,
      /^ {2}OTEL_EXPORTER_OTLP_ENDPOINT: must be an http\(s\) URL such as http:\/\/otel-collector:4318$/m,
    );
    assert.match(message, /^ {2}OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: must be an http\(s\) URL/m);
    assert.equal(message.split('\n').length, 4, message);
  });

  void it('leaves workers unversioned unless a deployment name and build id are both set', () => {
    const unversioned = readWorkerEnv({});
    assert.equal(workerDeploymentFromEnv(unversioned), undefined);
    assert.deepEqual(workerVersioningOptions(workerDeploymentFromEnv(unversioned)), {});

    const env = readWorkerEnv({ MLOPS_WORKER_DEPLOYMENT_NAME: ' mlops ', MLOPS_WORKER_BUILD_ID: 'v1.4.2\n' });
    assert.deepEqual(workerDeploymentFromEnv(env), { deploymentName: 'mlops', buildId: 'v1.4.2' });
    assert.deepEqual(workerVersioningOptions(workerDeploymentFromEnv(env)), {
      workerDeploymentOptions: {
        useWorkerVersioning: true,
        version: { deploymentName: 'mlops', buildId: 'v1.4.2' },
        defaultVersioningBehavior: 'PINNED',
      },
    });
  });

  void it('refuses a deployment name without a build id, and the other way round', () => {
    assert.match(
      problemsOf({ MLOPS_WORKER_DEPLOYMENT_NAME: 'mlops' }),
      /^ {2}MLOPS_WORKER_BUILD_ID: required with MLOPS_WORKER_DEPLOYMENT_NAME/m,
    );
    assert.match(
      problemsOf({ MLOPS_WORKER_BUILD_ID: '1a2b3c', MLOPS_WORKER_DEPLOYMENT_NAME: ' ' }),
      /^ {2}MLOPS_WORKER_DEPLOYMENT_NAME: required with MLOPS_WORKER_BUILD_ID/m,
    );
  });

  void it('refuses a deployment name Temporal would reject', () => {
    const message = problemsOf({
      MLOPS_WORKER_DEPLOYMENT_NAME: 'mlops.prod',
      MLOPS_WORKER_BUILD_ID: '1a2b3c',
    });
    assert.match(message, /^ {2}MLOPS_WORKER_DEPLOYMENT_NAME: must not contain "\." or ":"/m);
  });
});
