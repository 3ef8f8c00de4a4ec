/** `mlops schedule create|delete|list`: retraining on a Temporal Schedule. */
import type { Command } from 'commander';
import { z } from 'zod';
import { parsePipelineConfig } from '../clients/pipeline-client';
import {
  createRetrainSchedule,
  DEFAULT_RETRAIN_CRON,
  deleteRetrainSchedule,
  listRetrainSchedules,
  type RetrainScheduleInfo,
} from '../clients/schedule-client';
import { modelNameSchema, readConfigFile } from './pipeline-options';
import { withClient } from './with-client';

const modelName = modelNameSchema;

export const createOptionsSchema = z.object({
  model: modelName,
  data: z.string().min(1),
  cron: z
    .string()
    .trim()
    .refine((cron) => cron.split(/\s+/).length >= 5 || cron.startsWith('@'), {
      message:
        "a cron expression has five fields (minute hour day-of-month month day-of-week), e.g. '0 3 1 * *', or is a macro such as @monthly",
    }),
  config: z.string().optional(),
  approval: z.boolean(),
  replace: z.boolean().optional(),
});

export const deleteOptionsSchema = z.object({ model: modelName });

/** The `schedule list` table, one schedule per line. */
export function formatScheduleList(schedules: RetrainScheduleInfo[]): string {
  if (schedules.length === 0) return 'No retraining schedules.';
  const rows = schedules.map((s) => [
    s.scheduleId,
    s.model,
    s.dataUri,
    s.cron,
    s.nextRuns.length
      ? s.nextRuns
          .slice(0, 2)
          .map((d) => d.toISOString())
          .join(', ')
      : '-',
    s.lastRun ? `${s.lastRun.at.toISOString()} (${s.lastRun.workflowId})` : 'never',
    s.paused ? 'yes' : 'no',
  ]);
  const header = ['ID', 'MODEL', 'DATA', 'CRON', 'NEXT RUNS', 'LAST RUN', 'PAUSED'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function registerScheduleCommands(program: Command): void {
  const schedule = program
    .command('schedule')
    .description('retrain a model on a Temporal Schedule (one schedule per model)');

  schedule
    .command('create')
    .description(
      'create the schedule mlops-retrain-<model> that starts a modelPipeline on each tick; ' +
        "a tick while that model's pipeline still runs waits for it (at most one waits)",
    )
    .requiredOption('--model <name>', 'model name, e.g. ctr')
    .requiredOption('--data <uri>', 'dataset folder (ads.csv + images), local path or gs://')
    .option('--cron <expr>', 'when to retrain, a cron expression in UTC', DEFAULT_RETRAIN_CRON)
    .option('--config <file>', 'pipeline configuration (JSON)')
    .option('--no-approval', 'deploy without waiting for a human approval')
    .option('--replace', "replace the model's existing schedule instead of failing")
    .action(async (raw: unknown) => {
      const options = createOptionsSchema.parse(raw);
      const config = options.config ? await readConfigFile(options.config) : {};
      // Checked before connecting, as `pipeline start` does.
      parsePipelineConfig(config);
      await withClient(async (client, _namespace, env) => {
        const handle = await createRetrainSchedule(client, {
          modelName: options.model,
          dataUri: options.data,
          cron: options.cron,
          config,
          approvalRequired: options.approval,
          taskQueue: env.MLOPS_CONTROL_QUEUE,
          gpuTaskQueue: env.MLOPS_GPU_QUEUE,
          replace: options.replace ?? false,
        });
        const description = await handle.describe();
        const next = description.info.nextActionTimes[0];
        console.log(`Created schedule ${handle.scheduleId} (${options.cron})`);
        console.log(`Next run: ${next ? next.toISOString() : 'none'}`);
      });
    });

  schedule
    .command('delete')
    .description("delete a model's retraining schedule (pipelines it started keep running)")
    .requiredOption('--model <name>', 'model name')
    .action(async (raw: unknown) => {
      const options = deleteOptionsSchema.parse(raw);
      await withClient(async (client) => {
        await deleteRetrainSchedule(client, options.model);
        console.log(`Deleted the retraining schedule of ${options.model}`);
      });
    });

  schedule
    .command('list')
    .description('list retraining schedules: model, data, cron, next runs, last run, paused')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      await withClient(async (client) => {
        const schedules = await listRetrainSchedules(client);
        console.log(options.json ? JSON.stringify(schedules, null, 2) : formatScheduleList(schedules));
      });
    });
}
