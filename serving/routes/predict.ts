/**
 * `POST /v1/models/{model}[/versions/{v}|/labels/{label}]:predict`, TensorFlow Serving's REST predict:
 * routes the request to stable or canary (or the version it names), decodes images, predicts.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ModelRegistry } from '../../lib/registry/model-registry';
import { SIGNATURE_NAME } from '../signature';
import type { DatasetExample } from '../../lib/dataset/example';
import type { ServingContext } from '../context';
import type { ServedModel } from '../deployment-watcher';
import { HttpError } from '../errors';
import { decodeInstanceImage } from '../image-input';
import { recordPrediction, recordScores } from '../metrics';
import type { PredictionLogRecord } from '../../lib/traffic/prediction-log-records';
import { chooseRoute, type Role, type RouteChoice } from '../router';
import { predictSchema, type PredictBody, type PredictInstance } from './predict-schema';
import type { ReadInstance } from '../instance-reader';

/**
 * One prediction in the answer: the probability under the spec's output name (the ads say
 * `click_probability`), and the `prediction_id` that `POST /v1/feedback` takes back (see prediction-id.ts).
 */
export type Prediction<Output extends string = 'click_probability'> = { prediction_id: string } & {
  [name in Output]: number;
};

/** The answer of the predict route. */
export interface PredictResponse<Output extends string = 'click_probability'> {
  predictions: Array<Prediction<Output>>;
  model_version: string;
}

type PredictParams = { model: string; version?: string; label?: string };
type PredictRequest = FastifyRequest<{ Params: PredictParams; Body: PredictBody }>;

/** The columnar answer: one array per output, in the order of the request's values. */
export interface ColumnarPredictResponse {
  outputs: Record<string, number[] | string[]>;
  model_version: string;
}

/** How a request names what serves it: the rollout's split, a version, or a label. */
type Addressing = 'split' | 'version' | 'label';

/** The labels a request may name, and the deployment role or registry alias each stands for. */
export const VERSION_LABELS = ['production', 'canary', 'previous'] as const;

/**
 * Registers the predict routes: `/v1/models/{m}:predict` (stable or canary, by the rollout's
 * weights), `/versions/{v}:predict` and `/labels/{label}:predict` (that version only, counted as
 * `pinned`, apart from the split canary analysis compares). The `::` escapes a literal colon.
 */
export function registerPredictRoute(app: FastifyInstance, context: ServingContext): void {
  const routes: Array<[string, Addressing]> = [
    ['/v1/models/:model(^[\\w.-]+)::predict', 'split'],
    ['/v1/models/:model(^[\\w.-]+)/versions/:version(^[\\w.-]+)::predict', 'version'],
    ['/v1/models/:model(^[\\w.-]+)/labels/:label(^[\\w.-]+)::predict', 'label'],
  ];
  for (const [url, addressing] of routes) {
    app.post<{ Params: PredictParams; Body: PredictBody }>(url, { schema: predictSchema }, (request, reply) =>
      predict(context, addressing, request, reply),
    );
  }
}

async function predict(
  context: ServingContext,
  addressing: Addressing,
  request: PredictRequest,
  reply: FastifyReply,
): Promise<PredictResponse<string> | ColumnarPredictResponse> {
  const { instances, columnar } = instancesOf(request.body);
  const served = servedOrThrow(context, request.params.model);
  const choice = await chooseFor(context, served, addressing, request);
  const { output, probabilities, ids } = await predictInstances(context, served, choice, instances, reply, {
    label: request.params.label,
  });
  if (columnar) {
    return {
      outputs: { [output]: Array.from(probabilities), prediction_id: ids },
      model_version: choice.version,
    };
  }
  const predictions = Array.from(probabilities, (p, index) => ({
    [output]: p,
    prediction_id: ids[index]!,
  })) as Array<Prediction<string>>;
  return { predictions, model_version: choice.version };
}

/** What one served prediction request gave: a probability and a prediction id per instance. */
export interface InstancePredictions {
  /** The spec's output name, e.g. `click_probability`. */
  output: string;
  probabilities: Float32Array;
  ids: string[];
}

/**
 * Predicts `instances` with the chosen version: reads them by its spec, decodes images, predicts,
 * counts, logs and issues prediction ids. Shared by every protocol's predict route.
 */
export async function predictInstances(
  context: ServingContext,
  served: ServedModel,
  choice: RouteChoice,
  instances: readonly PredictInstance[],
  reply: FastifyReply,
  naming: { label?: string | undefined } = {},
): Promise<InstancePredictions> {
  const loaded = served.versions.get(choice.version);
  if (!loaded) throw notLoaded(served.model, choice.version, naming.label);
  // Acquired in the same tick as the table was read, so a concurrent reload cannot dispose it under us.
  const release = loaded.acquire();
  // Shadow copies wait while user requests are in flight here.
  const answered = context.shadow.userRequestStarted();
  // Set before any failure too, so an error answer still tells which version produced it.
  void reply.header('x-model-version', choice.version);
  const labels = { model: served.model, version: choice.version, role: choice.role };
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  try {
    const { imageSize, spec } = loaded.bundle.preprocessing;
    // Read by this version's own spec: a canary with a new column validates apart from stable.
    const read = instances.map((instance, index) => loaded.readInstance(instance, index));
    // Malformed images are the client's fault, not the version's: rejected before any outcome is counted.
    const hasImage = spec.features.some((feature) => feature.kind === 'image');
    const pixels = hasImage
      ? await Promise.all(
          read.map((instance, index) =>
            decodeInstanceImage(instance.image ?? {}, index, imageSize, context.imageUriRoots),
          ),
        )
      : [];
    const inputs: DatasetExample[] = read.map((instance, index) => {
      const pixelsOfRow = pixels[index];
      return pixelsOfRow ? { ...instance.features, pixels: pixelsOfRow } : instance.features;
    });
    let probabilities: Float32Array;
    let modelSeconds: number;
    try {
      await context.faults?.apply(served.model, choice.version);
      const modelStarted = process.hrtime.bigint();
      probabilities = await context.predictor.predict(loaded, inputs);
      modelSeconds = Number(process.hrtime.bigint() - modelStarted) / 1e9;
    } catch (err) {
      recordPrediction(context.metrics, labels, 'error', seconds());
      throw err;
    }
    const latency = seconds();
    recordPrediction(context.metrics, labels, 'success', latency);
    recordScores(context.metrics, labels, probabilities);
    const issuedAt = Date.now();
    const ids = Array.from(probabilities, (p) =>
      context.feedback.ids.issue({ ...labels, probability: p }, issuedAt),
    );
    context.logs?.recordPredictions(predictionRecords(labels, read, probabilities, ids, issuedAt, latency));
    // Only the split's stable answers are mirrored: the shadow is compared with what users get from stable.
    if (choice.role === 'stable' && served.table.shadow) {
      context.shadow.offer({
        served,
        stableVersion: choice.version,
        instances,
        stableRead: read,
        stablePixels: pixels,
        stableImageSize: imageSize,
        stableProbabilities: probabilities,
        stableIds: ids,
        stableModelSeconds: modelSeconds,
      });
    }
    return { output: spec.output, probabilities, ids };
  } finally {
    answered();
    release();
  }
}

/** The request's examples as rows, from either form; a body in neither form, or both, is a 400. */
function instancesOf(body: PredictBody): { instances: PredictInstance[]; columnar: boolean } {
  if (body.signature_name !== undefined && body.signature_name !== SIGNATURE_NAME) {
    throw new HttpError(
      400,
      'invalid_request',
      `signature_name "${body.signature_name}" is not served here: the one signature is "${SIGNATURE_NAME}"`,
    );
  }
  if (body.instances && body.inputs) {
    throw new HttpError(
      400,
      'invalid_request',
      'send either "instances" (one object per example) or "inputs" (one array per column), not both',
    );
  }
  if (body.instances) return { instances: body.instances, columnar: false };
  if (!body.inputs) {
    throw new HttpError(
      400,
      'invalid_request',
      'the body needs "instances" (one object per example) or "inputs" (one array per column)',
    );
  }
  const columns = Object.entries(body.inputs);
  const rows = columns[0]![1].length;
  const uneven = columns.find(([, values]) => values.length !== rows);
  if (uneven) {
    throw new HttpError(
      400,
      'invalid_request',
      `inputs.${uneven[0]} has ${uneven[1].length} values where inputs.${columns[0]![0]} has ${rows}: ` +
        'every column needs one value per example',
    );
  }
  const instances = Array.from({ length: rows }, (_, row) =>
    Object.fromEntries(columns.map(([column, values]) => [column, values[row]])),
  );
  return { instances, columnar: true };
}

/** The version that serves the request: by the rollout's split, or the one it names. */
async function chooseFor(
  context: ServingContext,
  served: ServedModel,
  addressing: Addressing,
  request: PredictRequest,
): Promise<RouteChoice> {
  const { model, version, label } = request.params;
  if (addressing === 'split') {
    const choice = chooseRoute(served.table, routingKeyOf(request));
    if (!choice) throw notServing(model);
    return choice;
  }
  if (addressing === 'version') return { version: version!, role: 'pinned' };
  switch (label) {
    case 'production':
      if (!served.table.stable) throw notServing(model);
      return { version: served.table.stable.version, role: 'pinned' };
    case 'canary':
      if (!served.table.canary) {
        throw new HttpError(404, 'version_not_loaded', `model ${model} has no canary now (label canary)`);
      }
      return { version: served.table.canary.version, role: 'pinned' };
    case 'previous': {
      const previous = (await new ModelRegistry(context.storeUri).getAliases(model)).previous;
      if (previous === undefined) {
        throw new HttpError(404, 'version_not_loaded', `model ${model} has no previous production version`);
      }
      return { version: previous, role: 'pinned' };
    }
    default:
      throw new HttpError(
        404,
        'label_not_found',
        `model ${model} has no label ${label}: the labels are ${VERSION_LABELS.join(', ')}`,
      );
  }
}

function notLoaded(model: string, version: string, label: string | undefined): HttpError {
  const named = label === undefined ? `version ${version}` : `version ${version} (label ${label})`;
  return new HttpError(
    404,
    'version_not_loaded',
    `${named} of model ${model} is not loaded here: this server loads the versions its deployment serves`,
  );
}

function predictionRecords(
  labels: { model: string; version: string; role: Role },
  instances: readonly ReadInstance[],
  probabilities: Float32Array,
  ids: readonly string[],
  issuedAt: number,
  latencySeconds: number,
): PredictionLogRecord[] {
  const ts = new Date(issuedAt).toISOString();
  const latency_ms = Math.round(latencySeconds * 1e6) / 1e3;
  return instances.map((instance, index) => {
    // The features as the model saw them (trimmed), never the image bytes; a URI is kept to find the image again.
    const imageUri = instance.image?.image_uri;
    return {
      ts,
      prediction_id: ids[index]!,
      ...labels,
      features: imageUri === undefined ? instance.features : { ...instance.features, image_uri: imageUri },
      click_probability: probabilities[index]!,
      latency_ms,
    };
  });
}

export function servedOrThrow(context: ServingContext, model: string): ServedModel {
  if (!context.watcher.isConfigured(model)) {
    throw new HttpError(404, 'model_not_found', `no model named ${model} is served here`);
  }
  const served = context.watcher.servedModel(model);
  if (!served) throw notServing(model, context);
  return served;
}

export function notServing(model: string, context?: ServingContext): HttpError {
  const status = context?.watcher.status(model);
  if (!status || (status.checked && status.desiredRevision === undefined)) {
    return new HttpError(503, 'model_not_deployed', `model ${model} has no version deployed`);
  }
  if (status.lastError !== undefined) {
    return new HttpError(503, 'model_unavailable', `model ${model} failed to load; see the server logs`);
  }
  return new HttpError(503, 'model_loading', `model ${model} is loading`);
}

function routingKeyOf(request: PredictRequest): string | undefined {
  const header = request.headers['x-routing-key'];
  const fromHeader = Array.isArray(header) ? header[0] : header;
  return fromHeader !== undefined && fromHeader.length > 0 ? fromHeader : request.body.routing_key;
}
