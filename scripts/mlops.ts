/** The `mlops` command: one entry point for every subcommand. */
import { Command, CommanderError } from 'commander';
import { ZodError } from 'zod';
import { registerBatchPredictCommand } from './commands/batch-predict';
import { registerDataCommands } from './commands/data';
import { registerDemoCommand } from './commands/demo';
import { registerDevCommand } from './commands/dev';
import { registerModelsCommands } from './commands/models';
import { registerMonitorCommands } from './commands/monitor';
import { registerPipelineCommands } from './commands/pipeline';
import { registerPredictCommand } from './commands/predict';
import { registerRollbackCommand } from './commands/rollback';
import { registerRolloutCommands } from './commands/rollout';
import { registerScheduleCommands } from './commands/schedule';

async function main(): Promise<void> {
  const program = new Command('mlops')
    .description('Durable ML pipelines on Temporal: data → model → approval → canary → production')
    .showHelpAfterError();
  registerDevCommand(program);
  registerDemoCommand(program);
  registerDataCommands(program);
  registerPipelineCommands(program);
  registerRolloutCommands(program);
  registerModelsCommands(program);
  registerRollbackCommand(program);
  registerScheduleCommands(program);
  registerMonitorCommands(program);
  registerPredictCommand(program);
  registerBatchPredictCommand(program);
  await program.parseAsync(process.argv);
}

main().catch((err: unknown) => {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  if (err instanceof ZodError) {
    console.error(
      `error: ${err.issues.map((issue) => `--${issue.path.join('.')}: ${issue.message}`).join('; ')}`,
    );
  } else {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    if (process.env.MLOPS_DEBUG) console.error(err);
  }
  process.exit(1);
});
