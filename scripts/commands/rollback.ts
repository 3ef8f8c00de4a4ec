/** `mlops rollback --model NAME [--to VERSION]`: an earlier production version back, through the deployment path. */
import type { Command } from 'commander';
import { startRollback } from '../clients/pipeline-client';
import { workflowUiUrl } from '../clients/temporal-client';
import type { RollbackResult } from '../../contracts/temporal';
import { defaultRequester } from './rollout';
import { withClient } from './with-client';

export function registerRollbackCommand(program: Command): void {
  program
    .command('rollback')
    .description('put a previous production version back in production (default: the `previous` alias)')
    .requiredOption('--model <name>', 'model name')
    .option('--to <version>', 'the version to restore; it must have served production before')
    .option('--by <who>', 'who asks (default: your user name, else $USER)')
    .option('--reason <text>')
    .option('--no-wait', 'start the rollback and return without waiting for it')
    .action(async (options: { model: string; to?: string; by?: string; reason?: string; wait: boolean }) => {
      if (options.to !== undefined && !/^\d+$/.test(options.to))
        throw new Error(`--to must be a version number like 3, got "${options.to}"`);
      await withClient(async (client, namespace, env) => {
        const handle = await startRollback(client, {
          modelName: options.model,
          by: options.by ?? defaultRequester(),
          taskQueue: env.MLOPS_CONTROL_QUEUE,
          ...(options.to ? { toVersion: options.to } : {}),
          ...(options.reason ? { reason: options.reason } : {}),
        });
        console.log(
          `Started rollback ${handle.workflowId}\nWeb UI: ${workflowUiUrl(namespace, handle.workflowId)}`,
        );
        if (!options.wait) return;
        try {
          const result = (await handle.result()) as RollbackResult;
          console.log(
            `${result.modelName}: v${result.to} serves production again${result.from ? ` (was v${result.from})` : ''}.`,
          );
        } catch (err) {
          // The reason is in the innermost failure (an activity's RollbackRefused), not the wrappers.
          let inner = err as Error;
          while (inner.cause instanceof Error) inner = inner.cause;
          throw new Error(`rollback failed: ${inner.message}`, { cause: err });
        }
      });
    });
}
