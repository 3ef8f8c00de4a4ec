/** `mlops pipeline start|status|approve|reject`. */
import type { Command } from 'commander';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import {
  decidePipeline,
  parsePipelineConfig,
  queryPipelineStatus,
  startPipeline,
} from '../clients/pipeline-client';
import { checkDecidePayload } from '../../contracts/signal-payloads';
import { workflowUiUrl } from '../clients/temporal-client';
import { modelNameSchema, readConfigFile } from './pipeline-options';
import { withClient } from './with-client';
import type { PipelineStatus } from '../../contracts/temporal';
import type { TrainHeartbeat } from '../../activities/train/train';
import { formatStatus } from './format-status';
import { readFeatureSpecFile, uploadFeatureSpec } from './feature-spec-upload';
import { withStoredModelModule } from './model-module-upload';

const startOptionsSchema = z.object({
  model: modelNameSchema,
  data: z.string().min(1),
  config: z.string().optional(),
  features: z.string().min(1).optional(),
  store: z.string().min(1).optional(),
  approval: z.boolean(),
  follow: z.boolean().optional(),
  id: z.string().min(1).optional(),
});

/** One line of training progress from a heartbeat: the phase until batches run, then epoch, batch and loss. */
export function describeTraining(progress: TrainHeartbeat): string {
  const attempt = progress.attempt && progress.attempt > 1 ? `, attempt ${progress.attempt}` : '';
  if (progress.phase && progress.phase !== 'training')
    return `${progress.phase}${progress.checkpoint ? ` (checkpoint: epoch ${progress.checkpoint.epoch})` : ''}${attempt}`;
  return `epoch ${progress.epoch} batch ${progress.batch}/${progress.batchesPerEpoch} loss ${progress.loss.toFixed(4)} (${progress.backend}${attempt})`;
}

/** Prints stage changes and training progress until the workflow closes. */
async function followPipeline(client: Client, workflowId: string): Promise<void> {
  const handle = client.workflow.getHandle(workflowId);
  let lastLine = '';
  for (;;) {
    const description = await handle.describe();
    const closed = description.status.name !== 'RUNNING';
    let line: string;
    try {
      const status: PipelineStatus = await queryPipelineStatus(client, workflowId);
      const training = description.raw.pendingActivities?.find(
        (activity) => activity.activityType?.name === 'trainModel',
      );
      const payload = training?.heartbeatDetails?.payloads?.[0];
      const progress = payload
        ? client.options.loadedDataConverter.payloadConverter.fromPayload<TrainHeartbeat>(payload)
        : undefined;
      line = `[${status.stage}]${progress ? ` ${describeTraining(progress)}` : ''}${
        status.rollout ? ` canary ${status.rollout.weight}% ${status.rollout.phase}` : ''
      }`;
    } catch {
      line = `[${description.status.name.toLowerCase()}]`;
    }
    if (line !== lastLine) console.log(line);
    lastLine = line;
    if (closed) break;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  try {
    const result: unknown = await handle.result();
    console.log(`Finished: ${JSON.stringify(result)}`);
  } catch (err) {
    const cause = (err as Error & { cause?: Error }).cause;
    console.log(`Failed: ${cause?.message ?? (err as Error).message}`);
    process.exitCode = 1;
  }
}

export function registerPipelineCommands(program: Command): void {
  const pipeline = program.command('pipeline').description('start, inspect and decide model pipelines');

  pipeline
    .command('start')
    .description('start a modelPipeline workflow')
    .requiredOption('--model <name>', 'model name, e.g. ctr')
    .requiredOption(
      '--data <uri>',
      'dataset: a CSV or a folder of CSVs (and their images), local path or gs://',
    )
    .option('--config <file>', 'pipeline configuration (JSON)')
    .option(
      '--features <file>',
      "feature spec (JSON, from mlops data describe); default: the production version's, else inferred",
    )
    .option(
      '--store <uri>',
      'artifact store the spec is copied to (default: $MLOPS_STORE, else .mlops/store)',
    )
    .option('--no-approval', 'deploy without waiting for a human approval')
    .option('--follow', 'show live stage and epoch progress until the pipeline ends')
    .option('--id <workflowId>', 'workflow id (default: pipeline-<model>-<timestamp>)')
    .action(async (raw: unknown) => {
      const options = startOptionsSchema.parse(raw);
      const config = options.config ? await readConfigFile(options.config) : {};
      // Checked before connecting, so a bad file fails at once and without a server. The file
      // itself is passed on: only it can say whether it names a GPU queue.
      parsePipelineConfig(config);
      if (options.features) await readFeatureSpecFile(options.features);
      await withClient(async (client, namespace, env) => {
        const storeUri = options.store ?? env.MLOPS_STORE;
        const featureSpecUri = options.features
          ? await uploadFeatureSpec(options.features, storeUri)
          : undefined;
        const handle = await startPipeline(client, {
          modelName: options.model,
          dataUri: options.data,
          ...(featureSpecUri ? { featureSpecUri } : {}),
          config: await withStoredModelModule(config, options.config, storeUri),
          approvalRequired: options.approval,
          taskQueue: env.MLOPS_CONTROL_QUEUE,
          gpuTaskQueue: env.MLOPS_GPU_QUEUE,
          ...(options.id ? { workflowId: options.id } : {}),
        });
        console.log(`Started pipeline ${handle.workflowId}`);
        console.log(
          featureSpecUri
            ? `Features: ${options.features} (stored as ${featureSpecUri})`
            : `Features: no --features, so ingest reads the data by the production version's spec, else one inferred from the data (mlops pipeline status says which)`,
        );
        console.log(`Web UI: ${workflowUiUrl(namespace, handle.workflowId)}`);
        if (options.follow) await followPipeline(client, handle.workflowId);
      });
    });

  pipeline
    .command('status <id>')
    .description("show a pipeline's stage, metrics and decision")
    .option('--json', 'print the raw status as JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      await withClient(async (client) => {
        const status = await queryPipelineStatus(client, id);
        console.log(options.json ? JSON.stringify(status, null, 2) : formatStatus(id, status));
      });
    });

  for (const decision of ['approve', 'reject'] as const) {
    const textOption = decision === 'approve' ? 'comment' : 'reason';
    pipeline
      .command(`${decision} <id>`)
      .description(
        `${decision} the version waiting in a pipeline (the candidate, or 100% of traffic with approval.beforeFullTraffic); ` +
          'the workflow refuses, with the reason, when nothing is waiting or it was already decided',
      )
      .requiredOption('--by <who>', `who ${decision}s`)
      .option(`--${textOption} <text>`)
      .option('--version <v>', 'the version you reviewed; refused if another one is waiting')
      .action(
        async (id: string, options: { by: string; comment?: string; reason?: string; version?: string }) => {
          const payload = checkDecidePayload({
            decision,
            by: options.by,
            ...(options[textOption] !== undefined ? { [textOption]: options[textOption] } : {}),
            ...(options.version !== undefined ? { version: options.version } : {}),
          });
          if (!payload.ok) throw new Error(payload.reason);
          await withClient(async (client) => {
            const result = await decidePipeline(client, id, payload.value);
            const gate = result.gate === 'candidate' ? 'candidate' : 'full traffic for';
            console.log(
              `${gate} v${result.version} ${result.decision.kind} by ${result.decision.by}. Follow with: mlops pipeline status ${id}`,
            );
          });
        },
      );
  }
}
