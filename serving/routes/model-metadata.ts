/**
 * `GET /v1/models/{model}[/versions/{v}]/metadata`: the signature of the version stable serves, or
 * of the one named, in TensorFlow Serving's GetModelMetadata shape, so a client can read which
 * columns to send before it predicts.
 */
import type { FastifyInstance } from 'fastify';
import type { ServingContext } from '../context';
import { HttpError } from '../errors';
import { SIGNATURE_NAME, signatureOf, type SignatureDef } from '../signature';

export interface ModelMetadataResponse {
  model_spec: { name: string; signature_name: ''; version: string };
  metadata: { signature_def: { signature_def: Record<string, SignatureDef> } };
}

/** Registers both metadata routes. */
export function registerModelMetadataRoutes(app: FastifyInstance, context: ServingContext): void {
  const answer = (model: string, version: string | undefined): ModelMetadataResponse => {
    if (!context.watcher.isConfigured(model)) {
      throw new HttpError(404, 'model_not_found', `no model named ${model} is served here`);
    }
    const served = context.watcher.servedModel(model);
    const wanted = version ?? served?.table.stable?.version;
    const loaded = wanted === undefined ? undefined : served?.versions.get(wanted);
    if (!loaded) {
      throw version === undefined
        ? new HttpError(503, 'model_not_deployed', `model ${model} has no version deployed`)
        : new HttpError(404, 'version_not_loaded', `version ${version} of model ${model} is not loaded here`);
    }
    const signature = signatureOf(loaded.bundle.preprocessing.spec);
    return {
      model_spec: { name: model, signature_name: '', version: loaded.version },
      metadata: { signature_def: { signature_def: { [SIGNATURE_NAME]: signature } } },
    };
  };
  app.get<{ Params: { model: string } }>('/v1/models/:model/metadata', (request) =>
    answer(request.params.model, undefined),
  );
  app.get<{ Params: { model: string; version: string } }>(
    '/v1/models/:model/versions/:version/metadata',
    (request) => answer(request.params.model, request.params.version),
  );
}
