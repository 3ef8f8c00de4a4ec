/**
 * `mlops batch-predict --model NAME --data URI [...] [--wait]`: a batch prediction job (a `batchPredict`
 * workflow); `mlops batch-predict status ID`: its progress.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Command } from 'commander';
import { z } from 'zod';
import {
  absoluteUri,
  checkBatchPredictInput,
  queryBatchPredictStatus,
  startBatchPredict,
} from '../clients/batch-client';
import { workflowUiUrl } from '../clients/temporal-client';
import { readWorkerEnv } from '../../workers/env';
import {
  formatReasons,
  type BatchPredictResult,
  type BatchPredictStatus,
} from '../../contracts/batch-predict';
import { withClient } from './with-client';
import { rootMessage } from '../../contracts/failures';

const positiveInt = (name: string) =>
  z
    .string()
    .regex(/^\d+$/, `--${name} must be a positive integer`)
    .transform(Number)
    .refine((value) => value >= 1, `--${name} must be a positive integer`)
    .optional();

const batchPredictOptionsSchema = z.object({
  model: z
    .string({ error: "required option '--model <name>' not specified" })
    .regex(/^[a-z0-9][a-z0-9-_]*$/i, '--model: model names use letters, digits, - and _'),
  data: z
    .string({ error: "required option '--data <uri>' not specified" })
    .trim()
    .min(1, '--data must name a dataset (a folder or CSV, local or gs://)'),
  version: z
    .string()
    .regex(/^(production|v?\d+)$/i, '--version must be a number like 3 or production')
    .transform((value) => (value.toLowerCase() === 'production' ? 'production' : value.replace(/^v/i, ''))),
  out: z.string().trim().min(1).optional(),
  shardRows: positiveInt('shard-rows'),
  concurrency: positiveInt('concurrency'),
  id: z.string().trim().min(1).optional(),
  store: z.string().trim().min(1).optional(),
  wait: z.boolean().optional(),
});

/** Turns zod issues into one line naming every problem (the entry point prints Error messages). */
function parseOptions(raw: unknown): z.output<typeof batchPredictOptionsSchema> {
  const parsed = batchPredictOptionsSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new Error(parsed.error.issues.map((issue) => issue.message).join('; '));
}

/** One line of progress, for `--wait`. */
export function describeBatchProgress(status: BatchPredictStatus): string {
  const skipped = status.rowsSkipped ? `, ${status.rowsSkipped} rows skipped` : '';
  switch (status.stage) {
    case 'resolving':
      return `[resolving] ${status.modelName} ${status.requestedVersion === 'production' ? 'production' : `v${status.requestedVersion}`}`;
    case 'ingesting':
      return status.ingest
        ? `[ingesting] ${status.ingest.shardsDone}/${status.ingest.shardCount} shards read (${status.ingest.rowsPlanned} rows)`
        : '[ingesting] planning shards';
    case 'failed':
    case 'cancelled':
      return `[${status.stage}] ${status.message ?? ''}`;
    default:
      return (
        `[${status.stage}] ${status.shardsDone}/${status.shardsTotal} shards, ${status.rowsScored} rows scored` +
        `${status.shardsReused ? ` (${status.shardsReused} shards reused)` : ''}${skipped}`
      );
  }
}

/** The `batch-predict status` text. */
export function formatBatchStatus(workflowId: string, status: BatchPredictStatus): string {
  const version = status.version ? `v${status.version}` : '—';
  const lines = [
    `Batch prediction ${workflowId}`,
    `  stage:    ${status.stage}${status.message ? ` — ${status.message}` : ''}`,
    `  model:    ${status.modelName} ${version}${status.requestedVersion === 'production' ? ' (production)' : ''}`,
    `  data:     ${status.dataUri}`,
  ];
  if (status.ingest) {
    lines.push(
      `  ingest:   ${status.ingest.shardsDone}/${status.ingest.shardCount} shards, ${status.ingest.rowsPlanned} rows`,
    );
  }
  lines.push(
    `  scoring:  ${status.shardsDone}/${status.shardsTotal} shards, ${status.rowsScored} rows scored, ${status.shardsReused} shards reused`,
    `  skipped:  ${status.rowsSkipped} rows${status.rowsSkipped ? ` (${formatReasons(status.skipReasons)})` : ''}`,
    `  output:   ${status.outputUri ?? '—'}`,
  );
  if (status.manifestUri) lines.push(`  manifest: ${status.manifestUri}`);
  return lines.join('\n');
}

/** The innermost failure message: the activity's own words, not "Activity task failed". */
/** Prints progress lines (when they change) until the job ends, then its summary; throws if it failed. */
async function waitForBatch(client: Client, handle: WorkflowHandle): Promise<void> {
  const outcome = handle.result().then(
    (result) => ({ result: result as BatchPredictResult }),
    (err: unknown) => ({ error: err }),
  );
  let last = '';
  const showProgress = async () => {
    try {
      const line = describeBatchProgress(await queryBatchPredictStatus(client, handle.workflowId));
      if (line !== last) console.log(line);
      last = line;
    } catch {
      // A query needs a worker; the job goes on without one, and so does waiting for it.
    }
  };
  for (;;) {
    await showProgress();
    const ended = await Promise.race([outcome, sleep(1000).then(() => undefined)]);
    if (!ended) continue;
    await showProgress();
    if ('error' in ended)
      throw new Error(`batch prediction ${handle.workflowId} failed: ${rootMessage(ended.error)}`);
    const { result } = ended;
    const skipped = result.skipped.rows
      ? `; ${result.skipped.rows} rows skipped (${formatReasons(result.skipped.reasons)})`
      : '';
    console.log(
      `${result.model} v${result.version}: ${result.rows} predictions in ${result.shards.length} shards` +
        ` (${result.reusedShards} reused)${skipped}\nPredictions: ${result.outputUri}\nManifest: ${result.manifestUri}`,
    );
    return;
  }
}

/** Registers `mlops batch-predict` and `mlops batch-predict status`. */
export function registerBatchPredictCommand(program: Command): void {
  const batchPredict = program
    .command('batch-predict')
    .description('score every row of a dataset with a model version (a batchPredict workflow)')
    // Not requiredOption: commander would then demand them of `batch-predict status` too; zod checks them.
    .option('--model <name>', 'model name (required)')
    .option(
      '--data <uri>',
      "rows to score: a CSV or a folder of CSVs (and their images) by the version's feature spec, the label column optional; local or gs:// (required)",
    )
    .option('--version <v>', 'registry version number, or production', 'production')
    .option('--out <uri>', 'where predictions go (default: <store>/predictions/<model>/<workflow id>)')
    .option('--shard-rows <n>', 'rows per shard (default 1000)')
    .option('--concurrency <n>', 'shards scored at once (default 4)')
    .option(
      '--id <workflowId>',
      'workflow id (default: batch-predict-<model>-<timestamp>); an earlier id resumes that job',
    )
    .option('--store <uri>', 'registry checked before starting (default: $MLOPS_STORE, else .mlops/store)')
    .option('--wait', 'show progress until the job ends, then where its predictions are')
    .action(async (raw: unknown) => {
      const options = parseOptions(raw);
      const dataUri = absoluteUri(options.data);
      // Checked before connecting: bad input starts nothing, and needs no server to be told so.
      await checkBatchPredictInput(options.store ?? readWorkerEnv().MLOPS_STORE, {
        modelName: options.model,
        version: options.version,
        dataUri,
      });
      await withClient(async (client, namespace, env) => {
        const handle = await startBatchPredict(client, {
          modelName: options.model,
          version: options.version,
          dataUri,
          taskQueue: env.MLOPS_CONTROL_QUEUE,
          gpuTaskQueue: env.MLOPS_GPU_QUEUE,
          ...(options.out ? { outputUri: absoluteUri(options.out) } : {}),
          ...(options.shardRows ? { shardRows: options.shardRows } : {}),
          ...(options.concurrency ? { concurrency: options.concurrency } : {}),
          ...(options.id ? { workflowId: options.id } : {}),
        });
        console.log(
          `Started batch prediction ${handle.workflowId}\nWeb UI: ${workflowUiUrl(namespace, handle.workflowId)}`,
        );
        if (options.wait) await waitForBatch(client, handle);
        else console.log(`Progress: mlops batch-predict status ${handle.workflowId}`);
      });
    });

  batchPredict
    .command('status <id>')
    .description("a batch prediction's progress: shards, rows scored and skipped, output")
    .option('--json', 'print the raw status as JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      await withClient(async (client) => {
        const status = await queryBatchPredictStatus(client, id);
        console.log(options.json ? JSON.stringify(status, null, 2) : formatBatchStatus(id, status));
      });
    });
}
