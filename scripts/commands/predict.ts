/**
 * `mlops predict --model NAME (--data URI [--features FILE] | --instances FILE)`: a client for the prediction API
 * (`POST /v1/models/{model}:predict`); `mlops predict feedback`: reports an observed click (`POST /v1/feedback`).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import type { Command } from 'commander';
import { z } from 'zod';
import { ADS_FEATURE_SPEC } from '../../lib/dataset/synthetic-spec';
import { schemeOf } from '../../lib/storage/index';
import { loadTrafficSamples } from '../../lib/traffic/samples';
import { readFeatureSpecFile } from './feature-spec-upload';
import { MAX_INSTANCES } from '../../serving/routes/predict-schema';
import { formatTable } from './format-table';

/** Where the client goes without `--url` or `$MLOPS_SERVING_URL`: the server `mlops dev` starts. */
export const DEFAULT_SERVING_URL = 'http://localhost:8080';
const REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_ROWS = 5;

const serverUrl = z
  .string()
  .trim()
  .refine(
    (value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol),
    '--url must be an http(s) URL like http://localhost:8080',
  )
  .transform((value) => value.replace(/\/+$/, ''));

const predictOptionsSchema = z
  .object({
    model: z
      .string({ error: "required option '--model <name>' not specified" })
      // The predict route's own pattern for model names.
      .regex(/^[\w.-]+$/, '--model: model names use letters, digits, ., - and _'),
    url: serverUrl,
    data: z.string().trim().min(1, '--data must name a dataset folder').optional(),
    features: z.string().trim().min(1, '--features must name a feature spec file').optional(),
    rows: z
      .string()
      .regex(/^\d+$/, '--rows must be a positive integer')
      .transform(Number)
      .refine((n) => n >= 1 && n <= MAX_INSTANCES, `--rows must be between 1 and ${MAX_INSTANCES}`)
      .optional(),
    instances: z.string().trim().min(1, '--instances must name a JSON file, or - for stdin').optional(),
    routingKey: z.string().min(1).max(256, '--routing-key is at most 256 characters').optional(),
    json: z.boolean().optional(),
  })
  .refine((o) => (o.data === undefined) !== (o.instances === undefined), {
    message: 'give exactly one of --data DIR or --instances FILE',
  })
  .refine((o) => o.rows === undefined || o.data !== undefined, { message: '--rows goes with --data' })
  .refine((o) => o.features === undefined || o.data !== undefined, {
    message: '--features goes with --data',
  });

const feedbackOptionsSchema = z.object({
  url: serverUrl,
  predictionId: z.string({ error: "required option '--prediction-id <id>' not specified" }).min(1),
  clicked: z.enum(['0', '1'], { error: '--clicked must be 0 or 1' }).transform(Number),
  json: z.boolean().optional(),
});

const SHAPE = 'expected {"instances": [{…}, …]} or a JSON array of instance objects';

// Shape only: the server validates each instance's fields and says which one is wrong.
const instancesFileSchema = z.preprocess(
  (json) => (Array.isArray(json) ? { instances: json } : json),
  z.object(
    {
      instances: z
        .array(z.record(z.string(), z.unknown(), { error: 'each instance must be a JSON object' }), {
          error: SHAPE,
        })
        .min(1, 'holds no instances'),
    },
    { error: SHAPE },
  ),
);

/** One prediction: its id and the probability under the model's output name, whatever that is. */
const predictionSchema = z.looseObject({ prediction_id: z.string() }).transform((prediction, context) => {
  const outputs = Object.entries(prediction).filter(
    (entry): entry is [string, number] => entry[0] !== 'prediction_id' && typeof entry[1] === 'number',
  );
  if (outputs.length !== 1) {
    context.addIssue({
      code: 'custom',
      message: 'each prediction needs one numeric output beside prediction_id',
    });
    return z.NEVER;
  }
  const [[output, probability]] = outputs as [[string, number]];
  return { output, probability, prediction_id: prediction.prediction_id };
});

const predictResponseSchema = z.object({
  predictions: z.array(predictionSchema),
  model_version: z.union([z.string(), z.number()]).transform(String),
});

const feedbackResponseSchema = z.object({
  accepted: z.number(),
  unknown: z.array(z.string()),
  duplicates: z.array(z.string()).default([]),
});

const errorBodySchema = z.object({ error: z.string(), code: z.string() });

/** Turns zod issues into one line naming every problem (the entry point prints Error messages). */
function parseWith<T extends z.ZodType>(schema: T, raw: unknown): z.output<T> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new Error(parsed.error.issues.map((issue) => issue.message).join('; '));
}

function resolveUrl(raw: Record<string, unknown>): { url: unknown } {
  return { url: raw.url ?? (process.env.MLOPS_SERVING_URL || DEFAULT_SERVING_URL) };
}

/** The instances to send, with the label each row gets in the table and that column's header. */
interface LabelledInstances {
  /** The id column's name (the spec's id, else "row"), or "index" for instances from a file. */
  header: string;
  labels: string[];
  instances: unknown[];
}

/** Rows of a dataset read by its spec (the ads' without --features), as instances by their column names. */
async function instancesFromData(
  dataUri: string,
  rows: number,
  featuresFile: string | undefined,
): Promise<LabelledInstances> {
  const spec = featuresFile ? await readFeatureSpecFile(featuresFile) : ADS_FEATURE_SPEC;
  if (schemeOf(dataUri) === 'file') {
    const stat = await fs.stat(dataUri).catch(() => undefined);
    if (!stat) throw new Error(`--data ${dataUri}: no such file or folder`);
    if (
      !featuresFile &&
      stat.isDirectory() &&
      !(await fs.stat(path.join(dataUri, 'ads.csv')).catch(() => undefined))
    ) {
      throw new Error(
        `--data ${dataUri} has no ads.csv (write a dataset with mlops data generate --out ${dataUri}, ` +
          'or give your own data with --features FILE)',
      );
    }
  }
  // Rows to score: they need no label, and may have no label column.
  const samples = await loadTrafficSamples(dataUri, rows, spec, { unlabelled: true });
  return {
    header: spec.id ?? 'row',
    labels: samples.map((sample) => sample.id),
    instances: samples.map((sample) => sample.instance),
  };
}

async function instancesFromFile(file: string): Promise<LabelledInstances> {
  const where = file === '-' ? 'stdin' : file;
  let content: string;
  try {
    content = file === '-' ? await text(process.stdin) : await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`--instances ${where}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(content);
  } catch (err) {
    throw new Error(`--instances ${where} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const parsed = instancesFileSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) =>
      issue.path.length > 1 ? `instances[${String(issue.path[1])}]: ${issue.message}` : issue.message,
    );
    throw new Error(`--instances ${where}: ${issues.join('; ')}`);
  }
  const list = parsed.data.instances;
  // The server ignores extra fields, so a file may carry each instance's ad_id to label its row.
  const adIds = list.map((instance) => instance.ad_id);
  return adIds.every((id) => typeof id === 'string')
    ? { header: 'ad_id', labels: adIds, instances: list }
    : { header: 'index', labels: list.map((_, index) => String(index)), instances: list };
}

/** POSTs JSON to the prediction server; any failure becomes a message naming the server and the reason. */
async function postJson(baseUrl: string, route: string, body: unknown): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(`${baseUrl}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') {
      throw new Error(
        `the prediction server at ${baseUrl} did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`,
        { cause: err },
      );
    }
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(
      `cannot reach the prediction server at ${baseUrl} (${cause?.code ?? cause?.message ?? (err as Error).message}). ` +
        'Is it running? Start the local stack with `mlops dev`, or point --url (or MLOPS_SERVING_URL) at a server.',
      { cause: err },
    );
  }
  const raw = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    json = undefined;
  }
  if (response.ok && json !== undefined) return json;
  const error = errorBodySchema.safeParse(json);
  if (error.success) {
    const { code, error: message } = error.data;
    const hint = code === 'route_not_found' ? ` (is ${baseUrl} a prediction server?)` : '';
    throw new Error(`the prediction server answered ${response.status} ${code}: ${message}${hint}`);
  }
  throw new Error(
    `${baseUrl}${route} answered ${response.status} with something other than the prediction API ` +
      `(${raw.slice(0, 200) || 'an empty body'}); is ${baseUrl} a prediction server?`,
  );
}

function unexpectedAnswer(baseUrl: string, error: z.ZodError): Error {
  return new Error(
    `unexpected answer from ${baseUrl}: ${error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
  );
}

/** The table `mlops predict` prints: one row per instance, in request order. */
export function formatPredictions(
  model: string,
  answer: z.output<typeof predictResponseSchema>,
  labels: readonly string[],
  labelHeader: string,
): string {
  const rows = answer.predictions.map((p, i) => [
    labels[i] ?? String(i),
    p.probability.toFixed(4),
    p.prediction_id,
  ]);
  // The model's own output name: click_probability for the ads, probability by default.
  const output = answer.predictions[0]?.output ?? 'probability';
  return (
    `${model} v${answer.model_version}: ${rows.length} prediction${rows.length === 1 ? '' : 's'}\n` +
    formatTable([labelHeader, output, 'prediction_id'], rows)
  );
}

/** Registers `mlops predict` and `mlops predict feedback`. */
export function registerPredictCommand(program: Command): void {
  const predict = program
    .command('predict')
    .description('ask the prediction API for click probabilities (POST /v1/models/<model>:predict)')
    // Not requiredOption: commander would then demand them of `predict feedback` too; zod checks them.
    .option('--model <name>', 'model name (required)')
    .option('--url <url>', `prediction server (default: $MLOPS_SERVING_URL, else ${DEFAULT_SERVING_URL})`)
    .option(
      '--data <uri>',
      'build instances from rows of a dataset (a CSV or a folder of them, local or gs://; the ads folder by default)',
    )
    .option('--features <file>', "with --data: the dataset's feature spec (default: the synthetic ads')")
    .option(
      '--rows <n>',
      `with --data: how many rows to send (default ${DEFAULT_ROWS}, at most ${MAX_INSTANCES})`,
    )
    .option('--instances <file>', 'a JSON file ({"instances": [...]} or an array), or - for stdin')
    .option('--routing-key <key>', 'pins the request to one version during a canary (X-Routing-Key)')
    .option('--json', "print the server's JSON answer")
    .action(async (raw: Record<string, unknown>) => {
      const options = parseWith(predictOptionsSchema, { ...raw, ...resolveUrl(raw) });
      const sent = options.data
        ? await instancesFromData(options.data, options.rows ?? DEFAULT_ROWS, options.features)
        : await instancesFromFile(options.instances ?? '-');
      const json = await postJson(options.url, `/v1/models/${options.model}:predict`, {
        instances: sent.instances,
        ...(options.routingKey ? { routing_key: options.routingKey } : {}),
      });
      if (options.json) {
        console.log(JSON.stringify(json, null, 2));
        return;
      }
      const answer = predictResponseSchema.safeParse(json);
      if (!answer.success) throw unexpectedAnswer(options.url, answer.error);
      if (answer.data.predictions.length !== sent.instances.length) {
        throw new Error(
          `${options.url} answered ${answer.data.predictions.length} predictions for ${sent.instances.length} instances`,
        );
      }
      console.log(formatPredictions(options.model, answer.data, sent.labels, sent.header));
    });

  predict
    .command('feedback')
    .description('report whether a prediction was clicked (POST /v1/feedback)')
    .option('--prediction-id <id>', 'the prediction_id the predict answer carried (required)')
    .option('--clicked <0|1>', '1 if the ad was clicked, else 0 (required)')
    .option('--json', "print the server's JSON answer")
    .action(async (_raw: unknown, command: Command) => {
      // optsWithGlobals: `--url` belongs to `predict` and commander gives it to the parent wherever it is typed.
      const raw = command.optsWithGlobals<Record<string, unknown>>();
      const options = parseWith(feedbackOptionsSchema, { ...raw, ...resolveUrl(raw) });
      const json = await postJson(options.url, '/v1/feedback', {
        feedback: [{ prediction_id: options.predictionId, clicked: options.clicked }],
      });
      if (options.json) {
        console.log(JSON.stringify(json, null, 2));
        return;
      }
      const answer = feedbackResponseSchema.safeParse(json);
      if (!answer.success) throw unexpectedAnswer(options.url, answer.error);
      if (answer.data.duplicates.length) {
        console.log('already counted: the same feedback is not counted twice');
      } else if (answer.data.accepted === 0) {
        throw new Error(
          'the server did not count it: the prediction id is unknown, forged or expired (ids are signed with MLOPS_FEEDBACK_KEY)',
        );
      } else {
        console.log(`feedback counted: clicked=${options.clicked}`);
      }
    });
}
