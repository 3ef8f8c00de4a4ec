/**
 * modelRollback: put an earlier production version of a model back, through the same deployment
 * path as a canary (applyDeployment reaches every replica) and under the same deployment
 * workflow id, so it never runs beside a canary of that model. Every step lands in the registry.
 */
import { proxyActivities, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import type { ControlActivities } from '../activities';
import { withSummaries } from './activity-summaries';
import {
  ML_MODEL,
  ML_MODEL_VERSION,
  ML_STAGE,
  type RollbackInput,
  type RollbackResult,
} from '../contracts/temporal';

const control = withSummaries(
  proxyActivities<ControlActivities>({
    startToCloseTimeout: '2 minutes',
    heartbeatTimeout: '20 seconds',
    retry: { maximumAttempts: 10, initialInterval: '500 milliseconds', maximumInterval: '5 seconds' },
  }),
);

export async function modelRollback(input: RollbackInput): Promise<RollbackResult> {
  const { modelName, by } = input;
  const { target, current } = await control.resolveRollbackTarget({
    model: modelName,
    ...(input.toVersion ? { to: input.toVersion } : {}),
  });
  const note = `rollback by ${by}${input.reason ? `: ${input.reason}` : ''}`;
  upsertSearchAttributes([
    { key: ML_MODEL, value: modelName },
    { key: ML_MODEL_VERSION, value: target.version },
    { key: ML_STAGE, value: 'rollback' },
  ]);
  setCurrentDetails(
    `Rolling ${modelName} back from v${current?.version ?? '—'} to v${target.version} (${note}).`,
  );

  await control.applyDeployment({
    model: modelName,
    stable: { version: target.version, modelUri: target.modelUri },
  });
  await control.setProductionAlias({ model: modelName, version: target.version, by, reason: note });
  if (current) {
    await control.setModelVersionStatus({
      model: modelName,
      version: current.version,
      status: 'rolled-back',
      by,
      note,
    });
  }
  await control.setModelVersionStatus({
    model: modelName,
    version: target.version,
    status: 'production',
    by,
    note,
  });
  setCurrentDetails(
    `${modelName} v${target.version} serves production again, replacing v${current?.version ?? '—'} (${note}).`,
  );
  return { modelName, ...(current ? { from: current.version } : {}), to: target.version };
}
