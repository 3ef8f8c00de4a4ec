/** `POST /v1/models/{model}:predict`: routes the request to stable or canary, decodes images, predicts. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DatasetExample } from '../../lib/dataset/example';
import type { ServingContext } from '../context';
import type { ServedModel } from '../deployment-watcher';
import { HttpError } from '../errors';
import { decodeInstanceImage } from '../image-input';
import { recordPrediction, recordScores } from '../metrics';
import type { PredictionLogRecord } from '../../lib/traffic/prediction-log-records';
import { chooseRoute, type Role } from '../router';
import { predictSchema, type PredictBody } from './predict-schema';
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

type PredictRequest = FastifyRequest<{ Params: { model: string }; Body: PredictBody }>;

/** Registers the predict route. The `::` escapes a literal colon after the model-name parameter. */
export function registerPredictRoute(app: FastifyInstance, context: ServingContext): void {
  app.post<{ Params: { model: string }; Body: PredictBody }>(
    '/v1/models/:model(^[\\w.-]+)::predict',
    { schema: predictSchema },
    async (request, reply): Promise<PredictResponse<string>> => {
      const served = servedOrThrow(context, request.params.model);
      const choice = chooseRoute(served.table, routingKeyOf(request));
      const loaded = choice && served.versions.get(choice.version);
      if (!choice || !loaded) throw notServing(request.params.model);
      // Acquired in the same tick as the table was read, so a concurrent reload cannot dispose it under us.
      const release = loaded.acquire();
      // Set before any failure too, so an error answer still tells which version produced it.
      void reply.header('x-model-version', choice.version);
      const labels = { model: served.model, version: choice.version, role: choice.role };
      const started = process.hrtime.bigint();
      const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
      try {
        const { imageSize, spec } = loaded.bundle.preprocessing;
        // Read by this version's own spec: a canary with a new column validates apart from stable.
        const read = request.body.instances.map((instance, index) => loaded.readInstance(instance, index));
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
        try {
          await context.faults.apply(served.model, choice.version);
          probabilities = await context.predictor.predict(loaded, inputs);
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
        const predictions = Array.from(probabilities, (p, index) => ({
          [spec.output]: p,
          prediction_id: ids[index]!,
        })) as Array<Prediction<string>>;
        context.logs?.recordPredictions(
          predictionRecords(labels, read, probabilities, ids, issuedAt, latency),
        );
        return { predictions, model_version: choice.version };
      } finally {
        release();
      }
    },
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

function servedOrThrow(context: ServingContext, model: string): ServedModel {
  if (!context.watcher.isConfigured(model)) {
    throw new HttpError(404, 'model_not_found', `no model named ${model} is served here`);
  }
  const served = context.watcher.servedModel(model);
  if (!served) throw notServing(model, context);
  return served;
}

function notServing(model: string, context?: ServingContext): HttpError {
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
