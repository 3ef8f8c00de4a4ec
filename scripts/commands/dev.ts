/** `mlops dev`: start the whole local stack and keep it running until Ctrl-C. */
import type { Command } from 'commander';
import { startLocalStack } from '../../lib/stack/local-stack';
import { readWorkerEnv } from '../../workers/env';

export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description(
      'start Temporal (Web UI :8233), both workers and the prediction server (:8080); Ctrl-C stops them',
    )
    .option('--state-dir <dir>', 'where the SQLite database, store and logs live', '.mlops')
    .action(async (options: { stateDir: string }) => {
      const env = readWorkerEnv();
      const stack = await startLocalStack({
        stateDir: options.stateDir,
        temporalPort: 7233,
        uiPort: 8233,
        servingPort: 8080,
        adminToken: env.MLOPS_ADMIN_TOKEN,
        // Every model the user trains is served (MLOPS_MODELS in the environment may narrow it).
        // MLOPS_STORE (e.g. gs://bucket/mlops) when set; otherwise the store lives in the state folder.
        ...(process.env.MLOPS_STORE ? { storeUri: env.MLOPS_STORE } : {}),
        log: (line) => console.log(line),
      });
      console.log(`
Local stack is up:
  Temporal         ${stack.temporalAddress} (namespace ${stack.namespace})
  Web UI           ${stack.uiUrl}
  Predictions      ${stack.servingUrl}/v1/models/<model>:predict (every model you deploy)
  Store            ${stack.storeUri}
  Logs             ${stack.logDir}

Try: npm run mlops -- data generate --out .mlops/data/ads --rows 1000
     npm run mlops -- pipeline start --model ctr --data .mlops/data/ads --follow
Ctrl-C stops everything.`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      console.log('stopping…');
      await stack.stop();
    });
}
