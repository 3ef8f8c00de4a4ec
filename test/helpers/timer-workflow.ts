/** Test-only workflows for the time-skipping server: long timers and a custom search attribute. */
import { sleep, upsertSearchAttributes } from '@temporalio/workflow';
import { ML_STAGE } from '../../contracts/temporal';

/** Input of {@link waitThenPromote}. */
export interface WaitThenPromoteInput {
  hours: number;
}

/** Marks itself awaiting approval, sleeps `hours` of workflow time, then marks itself in production. */
export async function waitThenPromote({ hours }: WaitThenPromoteInput): Promise<{ sleptMs: number }> {
  upsertSearchAttributes([{ key: ML_STAGE, value: 'awaiting-approval' }]);
  const started = Date.now();
  await sleep(hours * 3_600_000);
  upsertSearchAttributes([{ key: ML_STAGE, value: 'production' }]);
  return { sleptMs: Date.now() - started };
}
