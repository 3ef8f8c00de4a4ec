/** `mlops monitor start|stop|status`: the production monitor of a model. */
import os from 'node:os';
import type { Command } from 'commander';
import { z } from 'zod';
import { buildMonitorInput, queryMonitor, startMonitor, stopMonitor } from '../clients/monitor-client';
import type { MonitorStatus } from '../../contracts/monitor';
import { modelNameSchema, readConfigFile } from './pipeline-options';
import { withClient } from './with-client';

export const startOptionsSchema = z.object({
  model: modelNameSchema,
  action: z.enum(['retrain', 'alert']).optional(),
  interval: z.coerce.number().int().min(1).optional(),
  data: z.string().min(1).optional(),
  config: z.string().optional(),
  pipelineConfig: z.string().optional(),
  approval: z.boolean(),
});

/** The `monitor status` text: last measurement and recent actions. */
export function formatMonitorStatus(status: MonitorStatus): string {
  const lines = [
    `${status.modelName}: every ${status.intervalSeconds}s, on decay: ${status.action}; ${status.iterations} measurements${status.stopping ? ' (stopping)' : ''}`,
  ];
  const last = status.last;
  if (last) {
    lines.push(
      `last ${last.at}: production v${last.productionVersion ?? '-'}, ${last.predictions} new predictions, ${last.labels} new labels, ` +
        `log loss ${last.logLoss ?? '-'}, AUC ${last.auc ?? '-'}`,
    );
    for (const drift of last.drift ?? [])
      lines.push(
        `  drift ${drift.feature}: ${drift.metric} ${drift.value} (noise ${drift.noise}) ${drift.level}`,
      );
    for (const note of last.notes) lines.push(`  ${note}`);
  }
  for (const action of status.actions)
    lines.push(
      `${action.at} ${action.kind}${action.workflowId ? ` ${action.workflowId}` : ''}${action.alertUri ? ` ${action.alertUri}` : ''}: ${action.triggers.map((t) => t.message).join('; ')}`,
    );
  return lines.join('\n');
}

export function registerMonitorCommands(program: Command): void {
  const monitor = program
    .command('monitor')
    .description("watch a model's live quality and input drift (workflow mlops-monitor-<model>)");

  monitor
    .command('start')
    .description('start the monitor: measures every interval, then retrains or alerts on decay or drift')
    .requiredOption('--model <name>', 'model name, e.g. ctr')
    .option('--action <action>', "'retrain' or 'alert' (default: the config's, else alert)")
    .option('--interval <seconds>', "seconds between measurements (default: the config's, else 300)")
    .option('--data <uri>', 'dataset the retraining pipeline trains on (needed with retrain)')
    .option('--config <file>', 'monitor configuration (JSON): intervalSeconds, action, thresholds, drift')
    .option('--pipeline-config <file>', 'pipeline configuration of the retraining (JSON)')
    .option('--no-approval', 'deploy retrained models without waiting for a human approval')
    .action(async (raw: unknown) => {
      const options = startOptionsSchema.parse(raw);
      const config = { ...((options.config ? await readConfigFile(options.config) : {}) as object) };
      if (options.action) Object.assign(config, { action: options.action });
      if (options.interval) Object.assign(config, { intervalSeconds: options.interval });
      const pipelineConfig = options.pipelineConfig ? await readConfigFile(options.pipelineConfig) : {};
      const request = {
        modelName: options.model,
        config,
        pipelineConfig,
        approvalRequired: options.approval,
        ...(options.data ? { dataUri: options.data } : {}),
      };
      // Checked before connecting, as `pipeline start` does.
      buildMonitorInput(request);
      await withClient(async (client, _namespace, env) => {
        const handle = await startMonitor(client, {
          ...request,
          taskQueue: env.MLOPS_CONTROL_QUEUE,
          gpuTaskQueue: env.MLOPS_GPU_QUEUE,
        });
        console.log(`Started monitor ${handle.workflowId}`);
      });
    });

  monitor
    .command('stop')
    .description('stop the monitor after its current measurement')
    .requiredOption('--model <name>', 'model name')
    .option('--by <who>', 'who stops it', os.userInfo().username)
    .action(async (raw: { model: string; by: string }) => {
      const model = modelNameSchema.parse(raw.model);
      await withClient(async (client) => {
        await stopMonitor(client, model, raw.by);
        console.log(`Asked the monitor of ${model} to stop`);
      });
    });

  monitor
    .command('status')
    .description('the last measurement and the recent retrainings or alerts')
    .requiredOption('--model <name>', 'model name')
    .option('--json', 'print as JSON')
    .action(async (raw: { model: string; json?: boolean }) => {
      const model = modelNameSchema.parse(raw.model);
      await withClient(async (client) => {
        const status = await queryMonitor(client, model);
        console.log(raw.json ? JSON.stringify(status, null, 2) : formatMonitorStatus(status));
      });
    });
}
