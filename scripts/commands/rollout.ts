/** `mlops rollout pause|resume|promote|abort ID`: manual control of a running canary. */
import os from 'node:os';
import type { Command } from 'commander';
import type { Client } from '@temporalio/client';
import { queryPipelineStatus } from '../clients/pipeline-client';
import {
  abortRolloutSignal,
  deploymentWorkflowId,
  pauseRolloutSignal,
  promoteRolloutSignal,
  resumeRolloutSignal,
  ROLLOUT_COMMANDS,
  type RolloutCommand,
} from '../../contracts/temporal';
import { withClient } from './with-client';

const SIGNALS = {
  pause: pauseRolloutSignal,
  resume: resumeRolloutSignal,
  promote: promoteRolloutSignal,
  abort: abortRolloutSignal,
} as const;

const DESCRIPTIONS: Record<RolloutCommand, string> = {
  pause: 'hold the canary at its current weight (regressions still roll back)',
  resume: 'continue a paused canary',
  promote:
    'skip the remaining steps: to 100% of traffic, or to the full-traffic approval when one is required',
  abort: 'send all traffic back to stable and fail the rollout',
};

/** Accepts a rollout's workflow id, or a pipeline id whose rollout is found through its status. */
async function rolloutId(client: Client, id: string): Promise<string> {
  if (id.startsWith(deploymentWorkflowId(''))) return id;
  const status = await queryPipelineStatus(client, id);
  if (!status.rolloutWorkflowId || status.stage !== 'canary')
    throw new Error(`pipeline ${id} has no rollout running (stage ${status.stage})`);
  return status.rolloutWorkflowId;
}

/**
 * Who is asking when `--by` is not given. Resolved when a command runs, not when commands are
 * registered: os.userInfo throws for a UID without a passwd entry (common in containers).
 */
export function defaultRequester(env: NodeJS.ProcessEnv = process.env): string {
  try {
    return os.userInfo().username;
  } catch {
    return env.USER || 'unknown';
  }
}

/** Registers `mlops rollout pause|resume|promote|abort`. */
export function registerRolloutCommands(program: Command): void {
  const rollout = program.command('rollout').description('manual control of a running canary rollout');
  for (const command of ROLLOUT_COMMANDS) {
    rollout
      .command(`${command} <id>`)
      .description(`${DESCRIPTIONS[command]} (id: the pipeline's or the rollout's workflow id)`)
      .option('--by <who>', 'who asks (default: your user name, else $USER)')
      .option('--reason <text>')
      .action(async (id: string, options: { by?: string; reason?: string }) => {
        const by = options.by ?? defaultRequester();
        await withClient(async (client) => {
          const workflowId = await rolloutId(client, id);
          await client.workflow.getHandle(workflowId).signal(SIGNALS[command], {
            by,
            ...(options.reason ? { reason: options.reason } : {}),
          });
          console.log(
            `Sent ${command} to ${workflowId} (by ${by}). Check with: ${workflowId === id ? `temporal workflow query --workflow-id ${id} --name status` : `mlops pipeline status ${id}`}`,
          );
        });
      });
  }
}
