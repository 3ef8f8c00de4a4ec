/** `mlops predict --model NAME --data URI [--version V] [--out URI] [--wait]`: a batch prediction job. */
import type { Command } from 'commander';
import { startBatchPredict } from '../../lib/batch-client';
import { workflowUiUrl } from '../../lib/temporal-client';
import type { BatchPredictResult } from '../../workflows/batch-predict';
import { withClient } from './with-client';

interface PredictOptions {
  model: string;
  data: string;
  version: string;
  out?: string;
  shardRows?: string;
  concurrency?: string;
  wait?: boolean;
}

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new Error(`--${name} must be a positive integer, got "${value}"`);
  return Number(value);
}

export function registerPredictCommand(program: Command): void {
  program
    .command('predict')
    .description('score every row of a dataset with a model version (a batchPredict workflow)')
    .requiredOption('--model <name>', 'model name')
    .requiredOption('--data <uri>', 'dataset folder (ads.csv + images), local or gs://')
    .option('--version <v>', 'registry version number, or production', 'production')
    .option('--out <uri>', 'where predictions go (default: <store>/predictions/<model>/<workflow id>)')
    .option('--shard-rows <n>', 'rows per shard')
    .option('--concurrency <n>', 'shards scored at once')
    .option('--wait', 'wait for the job and print where its predictions are')
    .action(async (options: PredictOptions) => {
      if (options.version !== 'production' && !/^v?\d+$/i.test(options.version))
        throw new Error(`--version must be a number like 3 or production, got "${options.version}"`);
      const shardRows = positiveInt('shard-rows', options.shardRows);
      const concurrency = positiveInt('concurrency', options.concurrency);
      await withClient(async (client, namespace, env) => {
        const handle = await startBatchPredict(client, {
          modelName: options.model,
          version: options.version,
          dataUri: options.data,
          taskQueue: env.MLOPS_CONTROL_QUEUE,
          gpuTaskQueue: env.MLOPS_GPU_QUEUE,
          ...(options.out ? { outputUri: options.out } : {}),
          ...(shardRows ? { shardRows } : {}),
          ...(concurrency ? { concurrency } : {}),
        });
        console.log(
          `Started batch prediction ${handle.workflowId}\nWeb UI: ${workflowUiUrl(namespace, handle.workflowId)}`,
        );
        if (!options.wait) return;
        const result = (await handle.result()) as BatchPredictResult;
        console.log(
          `${result.model} v${result.version}: ${result.rows} predictions in ${result.shards.length} shards` +
            `${result.reusedShards ? ` (${result.reusedShards} reused)` : ''}\nManifest: ${result.manifestUri}`,
        );
      });
    });
}
