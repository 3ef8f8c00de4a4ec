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
} from '../../lib/worker-env';

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
});
