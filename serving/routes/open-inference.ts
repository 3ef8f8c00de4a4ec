/**
 * The Open Inference Protocol (KServe v2, as Triton speaks it) over HTTP/REST with JSON tensors:
 * health, server and model metadata, model readiness, and `infer` with one input tensor per
 * feature column (BYTES for categorical, text and an image's base64, INT64/FP32/FP64 for numeric),
 * answered with the probability as an FP32 output and the prediction ids as a BYTES one. Errors
 * are `{"error": message}` as the protocol says (with our `code` beside it).
 * See kserve/kserve docs/predict-api/v2/required_api.md.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { FeatureSpec } from '../../contracts/feature-spec';
import { API_VERSION, type ServingContext } from '../context';
import type { ServedModel } from '../deployment-watcher';
import { HttpError } from '../errors';
import { chooseRoute, type RouteChoice } from '../router';
import { MAX_INSTANCES, type PredictInstance } from './predict-schema';
import { notServing, predictInstances, servedOrThrow } from './predict';

/** The server's name and version in `GET /v2`. */
const SERVER_NAME = 'temporal-mlops';
/** The output that carries each prediction's id, for `POST /v1/feedback`. */
const PREDICTION_ID_OUTPUT = 'prediction_id';

type Datatype = 'BYTES' | 'FP32' | 'FP64' | 'INT64';
const NUMERIC_DATATYPES = new Set([
  'INT8',
  'INT16',
  'INT32',
  'INT64',
  'UINT8',
  'UINT16',
  'UINT32',
  'UINT64',
  'FP16',
  'FP32',
  'FP64',
]);

interface MetadataTensor {
  name: string;
  datatype: Datatype;
  shape: number[];
}

interface InferInput {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown[];
  parameters?: Record<string, unknown>;
}

interface InferBody {
  id?: string;
  parameters?: Record<string, unknown>;
  inputs: InferInput[];
  outputs?: Array<{ name: string; parameters?: Record<string, unknown> }>;
}

type ModelParams = { model: string; version?: string };

const inferSchema = {
  body: {
    type: 'object',
    required: ['inputs'],
    properties: {
      id: { type: 'string', maxLength: 256 },
      parameters: { type: 'object' },
      inputs: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          required: ['name', 'shape', 'datatype', 'data'],
          properties: {
            name: { type: 'string', minLength: 1 },
            shape: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 1, maxItems: 2 },
            datatype: { type: 'string' },
            data: { type: 'array' },
            parameters: { type: 'object' },
          },
        },
      },
      outputs: {
        type: 'array',
        items: {
          type: 'object',
          required: ['name'],
          properties: { name: { type: 'string' }, parameters: { type: 'object' } },
        },
      },
    },
  },
} as const;

/** The model's inputs and outputs as the protocol's tensor metadata: one batch dimension (-1). */
function tensorsOf(spec: FeatureSpec): { inputs: MetadataTensor[]; outputs: MetadataTensor[] } {
  const inputs = spec.features
    .filter((feature) => feature.kind !== 'ignored')
    .map((feature): MetadataTensor => ({
      name: feature.column,
      datatype: feature.kind === 'numeric' ? 'FP32' : 'BYTES',
      shape: [-1],
    }));
  return {
    inputs,
    outputs: [
      { name: spec.output, datatype: 'FP32', shape: [-1] },
      { name: PREDICTION_ID_OUTPUT, datatype: 'BYTES', shape: [-1] },
    ],
  };
}

/** Registers the Open Inference Protocol routes under /v2, in their own scope (see acceptingAnyBody). */
export function registerOpenInferenceRoutes(app: FastifyInstance, context: ServingContext): void {
  void app.register((scope, _options, done) => {
    acceptingAnyBody(scope);
    openInferenceRoutes(scope, context);
    done();
  });
}

/**
 * The protocol's clients send JSON without saying so (tritonclient sends no Content-Type), so in
 * this scope every body is read as JSON whatever its declared type; bad JSON is a 400 as elsewhere.
 */
function acceptingAnyBody(scope: FastifyInstance): void {
  scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      done(
        new HttpError(400, 'invalid_json', `the body is not valid JSON: ${(err as Error).message}`),
        undefined,
      );
    }
  });
}

function openInferenceRoutes(app: FastifyInstance, context: ServingContext): void {
  // Health answers carry no body: the status code is the answer (200 true, 4xx false).
  app.get('/v2/health/live', (_request, reply) => reply.code(200).send());
  app.get('/v2/health/ready', (_request, reply) => reply.code(context.watcher.isReady() ? 200 : 400).send());
  app.get('/v2', () => ({ name: SERVER_NAME, version: API_VERSION, extensions: [] }));

  const ready = (params: ModelParams, reply: FastifyReply) => {
    const served = context.watcher.servedModel(params.model);
    const version = params.version ?? served?.table.stable?.version ?? served?.table.canary?.version;
    const loaded = version !== undefined && served?.versions.has(version) === true;
    return reply.code(loaded ? 200 : 400).send();
  };
  app.get<{ Params: ModelParams }>('/v2/models/:model/ready', (request, reply) =>
    ready(request.params, reply),
  );
  app.get<{ Params: ModelParams }>('/v2/models/:model/versions/:version/ready', (request, reply) =>
    ready(request.params, reply),
  );

  const metadata = ({ model, version }: ModelParams) => {
    const served = servedOrThrow(context, model);
    const wanted = version ?? served.table.stable?.version ?? served.table.canary?.version;
    const loaded = wanted === undefined ? undefined : served.versions.get(wanted);
    if (!loaded) throw versionNotLoaded(model, wanted);
    return {
      name: model,
      versions: [...served.versions.keys()],
      platform: 'tensorflowjs',
      ...tensorsOf(loaded.bundle.preprocessing.spec),
    };
  };
  app.get<{ Params: ModelParams }>('/v2/models/:model', (request) => metadata(request.params));
  app.get<{ Params: ModelParams }>('/v2/models/:model/versions/:version', (request) =>
    metadata(request.params),
  );

  const infer = async (params: ModelParams, body: InferBody, reply: FastifyReply, requestId: string) => {
    const served = servedOrThrow(context, params.model);
    const choice: RouteChoice =
      params.version === undefined ? splitChoice(served) : { version: params.version, role: 'pinned' };
    const loaded = served.versions.get(choice.version);
    if (!loaded) throw versionNotLoaded(params.model, choice.version);
    const spec = loaded.bundle.preprocessing.spec;
    const wanted = requestedOutputs(body, spec);
    const instances = instancesOf(body.inputs, spec);
    const { probabilities, ids } = await predictInstances(context, served, choice, instances, reply);
    const outputs = [
      {
        name: spec.output,
        datatype: 'FP32',
        shape: [probabilities.length, 1],
        data: Array.from(probabilities),
      },
      { name: PREDICTION_ID_OUTPUT, datatype: 'BYTES', shape: [ids.length, 1], data: ids },
    ].filter((output) => wanted.has(output.name));
    return { model_name: served.model, model_version: choice.version, id: body.id ?? requestId, outputs };
  };
  for (const url of ['/v2/models/:model/infer', '/v2/models/:model/versions/:version/infer']) {
    app.post<{ Params: ModelParams; Body: InferBody }>(url, { schema: inferSchema }, (request, reply) => {
      // Triton's binary tensor extension puts raw bytes after the JSON; only JSON tensors are read here.
      if (request.headers['inference-header-content-length'] !== undefined) {
        throw new HttpError(
          400,
          'invalid_request',
          'binary tensor data is not supported: send JSON tensors (tritonclient: binary_data=False, images as base64 BYTES)',
        );
      }
      return infer(request.params, request.body, reply, request.id);
    });
  }
}

function splitChoice(served: ServedModel): RouteChoice {
  const choice = chooseRoute(served.table);
  if (!choice) throw notServing(served.model);
  return choice;
}

function versionNotLoaded(model: string, version: string | undefined): HttpError {
  return version === undefined
    ? new HttpError(503, 'model_not_deployed', `model ${model} has no version deployed`)
    : new HttpError(404, 'version_not_loaded', `version ${version} of model ${model} is not loaded here`);
}

function requestedOutputs(body: InferBody, spec: FeatureSpec): Set<string> {
  const known = [spec.output, PREDICTION_ID_OUTPUT];
  if (!body.outputs || body.outputs.length === 0) return new Set(known);
  for (const { name } of body.outputs) {
    if (!known.includes(name)) {
      throw new HttpError(
        400,
        'invalid_request',
        `unknown output "${name}": the outputs are ${known.join(', ')}`,
      );
    }
  }
  return new Set(body.outputs.map((output) => output.name));
}

/**
 * The input tensors as one instance per row: every tensor must have shape [N] or [N, 1] with the
 * same N, data with N elements (flat or nested), and a datatype its column's kind accepts.
 */
function instancesOf(inputs: InferInput[], spec: FeatureSpec): PredictInstance[] {
  const kinds = new Map(spec.features.map((feature) => [feature.column, feature.kind]));
  const rows = inputs[0]!.shape[0]!;
  if (rows > MAX_INSTANCES) {
    throw new HttpError(400, 'invalid_request', `at most ${MAX_INSTANCES} rows a request; got ${rows}`);
  }
  const seen = new Set<string>();
  const columns = inputs.map((input) => {
    const where = `input "${input.name}"`;
    if (seen.has(input.name)) throw new HttpError(400, 'invalid_request', `${where} is sent twice`);
    seen.add(input.name);
    const [batch, width = 1] = input.shape;
    if (batch !== rows || width !== 1) {
      throw new HttpError(
        400,
        'invalid_request',
        `${where} has shape [${input.shape.join(', ')}]: every input must be [${rows}] or [${rows}, 1], one value per row`,
      );
    }
    const data = input.data.flat(2);
    if (data.length !== rows) {
      throw new HttpError(
        400,
        'invalid_request',
        `${where} has ${data.length} values for shape [${input.shape.join(', ')}]`,
      );
    }
    const kind = kinds.get(input.name);
    if (
      kind === 'numeric'
        ? !NUMERIC_DATATYPES.has(input.datatype)
        : kind !== undefined && input.datatype !== 'BYTES'
    ) {
      throw new HttpError(
        400,
        'invalid_request',
        `${where} is ${input.datatype}, but ${input.name} is a ${kind} column: send it as ${kind === 'numeric' ? 'FP32, FP64 or INT64' : 'BYTES'}`,
      );
    }
    // An image travels as the base64 of its file, the JSON form of BYTES.
    const values =
      kind === 'image' ? data.map((value) => (typeof value === 'string' ? { b64: value } : value)) : data;
    return [input.name, values] as const;
  });
  return Array.from({ length: rows }, (_, row) =>
    Object.fromEntries(columns.map(([name, values]) => [name, values[row]])),
  );
}
