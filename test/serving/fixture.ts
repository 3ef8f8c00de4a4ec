/** Test fixture for the prediction server: a temp store with real tiny models, deployments, and a running server. */
import type { FeatureSpec } from '../../contracts/feature-spec';
import { ADS_FEATURE_SPEC } from '../../lib/dataset/synthetic-spec';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { pipelineConfigSchema } from '../../contracts/pipeline-config';
import type { AdExample } from '../../lib/dataset/schema';
import { writeDeployment, type DeploymentState } from '../../lib/registry/deployment';
import { createModel, fitPreprocessing, saveModelBundle } from '../../lib/model';
import {
  createPredictionServer,
  type PredictionServer,
  type PredictionServerOptions,
} from '../../serving/server';

/** Token the fixture's servers accept on admin routes. */
export const ADMIN_TOKEN = 'test-admin-token';
/** Image size of the fixture's models: small, so the CPU backend answers in milliseconds. */
export const IMAGE_SIZE = 8;

const VOCABULARY = {
  advertiser: ['acme', 'globex'],
  category: ['shoes', 'travel'],
  placement: ['feed', 'sidebar'],
  device: ['mobile', 'desktop'],
};

function examples(): Array<AdExample & { ad_age_days: number }> {
  return Array.from({ length: 8 }, (_, i) => ({
    ad_id: `ad-${i}`,
    clicked: i % 2,
    advertiser: VOCABULARY.advertiser[i % 2]!,
    category: VOCABULARY.category[(i >> 1) % 2]!,
    placement: VOCABULARY.placement[(i >> 2) % 2]!,
    device: VOCABULARY.device[i % 2]!,
    hour: (i * 3) % 24,
    headline_length: 20 + i * 5,
    // Read only by a spec that adds it (a canary with a new column).
    ad_age_days: i * 7,
    pixels: new Uint8Array(IMAGE_SIZE * IMAGE_SIZE * 3).fill(i * 30),
  }));
}

/** A started server and how to reach it. */
export interface RunningServer {
  url: string;
  server: PredictionServer;
}

/** A temporary store and the servers started on it; close() stops them and deletes the store. */
export interface ServingFixture extends AsyncDisposable {
  storeUri: string;
  /** Saves an untrained model with weights from `seed` as `version`, trained on `spec` (the ads'); answers its URI. */
  saveVersion(version: string, seed?: number, spec?: FeatureSpec): Promise<string>;
  /** Writes the model's deployment state (model defaults to ctr). */
  deploy(state: Omit<DeploymentState, 'model' | 'updatedAt'> & { model?: string }): Promise<void>;
  start(options?: Partial<PredictionServerOptions>): Promise<RunningServer>;
  close(): Promise<void>;
}

/** Creates an empty temp store. */
export async function createServingFixture(): Promise<ServingFixture> {
  const storeUri = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-serving-'));
  const servers: PredictionServer[] = [];
  const close = async () => {
    await Promise.all(servers.map((server) => server.stop()));
    await fs.rm(storeUri, { recursive: true, force: true });
  };
  return {
    storeUri,
    async saveVersion(version, seed = Number(version) || 1, spec = ADS_FEATURE_SPEC) {
      const preprocessing = fitPreprocessing(examples(), IMAGE_SIZE, spec);
      const train = pipelineConfigSchema.parse({
        train: { seed, conv: { filters: [2], denseUnits: 4 }, embeddingDim: 2 },
      }).train;
      const model = createModel(train, preprocessing);
      const modelUri = path.join(storeUri, 'models', 'ctr', version);
      await saveModelBundle({ model, preprocessing }, modelUri);
      model.dispose();
      return modelUri;
    },
    async deploy(state) {
      await writeDeployment(storeUri, { model: 'ctr', updatedAt: new Date().toISOString(), ...state });
    },
    async start(options = {}) {
      const server = createPredictionServer({
        storeUri,
        models: ['ctr'],
        adminToken: ADMIN_TOKEN,
        port: 0,
        pollIntervalMs: 60_000,
        faultInjection: true,
        ...options,
      });
      servers.push(server);
      const { url } = await server.start();
      return { url, server };
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

let png: string | undefined;

/** A small valid PNG, base64-encoded. */
export async function pngBase64(): Promise<string> {
  png ??= (
    await sharp({ create: { width: 12, height: 12, channels: 3, background: { r: 200, g: 40, b: 90 } } })
      .png()
      .toBuffer()
  ).toString('base64');
  return png;
}

/** A valid prediction instance; override fields to break it. */
export async function validInstance(
  overrides: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  return {
    advertiser: 'acme',
    category: 'shoes',
    placement: 'feed',
    device: 'mobile',
    hour: 13,
    headline_length: 42,
    image_b64: await pngBase64(),
    ...overrides,
  };
}

/** An HTTP answer with its JSON body parsed. */
export interface JsonResponse<T> {
  status: number;
  headers: Headers;
  /** The parsed JSON, typed as the caller expects (tests assert on it); text when not JSON. */
  body: T;
}

/** Sends a request; `body` objects are sent as JSON, strings as given. */
export async function request<T = unknown>(
  url: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<JsonResponse<T>> {
  const headers: Record<string, string> = { ...init.headers };
  let body: string | undefined;
  if (typeof init.body === 'string') body = init.body;
  else if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(url, {
    method: init.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    body,
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Non-JSON answers (/metrics) stay text.
  }
  return { status: response.status, headers: response.headers, body: parsed as T };
}

/** Admin headers with the fixture's token. */
export const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };

/**
 * The value of one sample line on a server's /metrics (e.g. `mlops_feedback_total` or
 * `mlops_prediction_score_count`) whose labels include `labels`, or 0 when absent. Read line by line because
 * parse-prometheus-text-format merges a labelled histogram's series into one and drops their labels.
 */
export async function metricValue(
  baseUrl: string,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const text = (await request<string>(`${baseUrl}/metrics`)).body;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const sampleLabels = new Map(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([key, value]) => sampleLabels.get(key) === value))
      return Number(match[3]);
  }
  return 0;
}
