/**
 * The failure catalog: every ApplicationFailure type this project throws, and error text for
 * people. Code throws `type: FAILURE.X` and matches against the same constant, so the thrower and
 * the matcher cannot drift apart. Workflow-safe, so workflows and the CLI share it.
 */

export const FAILURE = {
  /** Ingest: the dataset cannot be read at all (no CSV, a wrong header, …); retrying cannot help. */
  BadDataset: 'BadDataset',
  /** Validate: critical anomalies, or too many bad rows; the report lists them. */
  DataValidationFailed: 'DataValidationFailed',
  /** Train: the training child process exited without a result (a crash inside TensorFlow). */
  TrainingProcessDied: 'TrainingProcessDied',
  /** Evaluate: the candidate failed a blessing threshold. */
  ModelNotBlessed: 'ModelNotBlessed',
  /** Registry: a status move the lifecycle forbids (a rejected version becoming canary). */
  IllegalStatusChange: 'IllegalStatusChange',
  /** Registry: no such model version. */
  UnknownModelVersion: 'UnknownModelVersion',
  /** Registry: any other refusal of the registry. */
  RegistryError: 'RegistryError',
  /** Rollback: the target never served production, or there is nothing to roll back to. */
  RollbackRefused: 'RollbackRefused',
  /** Canary: a live metric regressed; traffic is back on stable. */
  CanaryRegression: 'CanaryRegression',
  /** Canary: a step ended without enough traffic to judge; traffic is back on stable. */
  CanaryInconclusive: 'CanaryInconclusive',
  /** Canary: an operator aborted it, or refused full traffic at the second gate. */
  RolloutAborted: 'RolloutAborted',
  /** Canary: production moved to a newer version than the candidate before it deployed. */
  Superseded: 'Superseded',
  /** Pipeline: its canary ended in a verdict above; the version is rolled back. */
  RolledBack: 'RolledBack',
  /** Pipeline: the rollout ended without a verdict (terminated, timed out, failed). */
  DeploymentFailed: 'DeploymentFailed',
  /** Pipeline: the `decide` Update refused a decision (nothing waiting, another version, …). */
  DecisionRefused: 'DecisionRefused',
  /** Pipeline: a decision could not be passed on to the rollout's full-traffic gate. */
  DecisionNotDelivered: 'DecisionNotDelivered',
  /** Batch prediction: the request itself is wrong (a bad version, an empty dataset). */
  BadInput: 'BadInput',
  /** Batch prediction: the model cannot be loaded. */
  BadModel: 'BadModel',
} as const;

export type FailureType = (typeof FAILURE)[keyof typeof FAILURE];

/** Canary verdicts: the rollout has already put stable back and marked the version. */
export const CANARY_VERDICT_FAILURES: readonly FailureType[] = [
  FAILURE.CanaryRegression,
  FAILURE.CanaryInconclusive,
  FAILURE.RolloutAborted,
];

/** The innermost cause's message: an activity's own words rather than "Activity task failed". */
export function rootMessage(err: unknown): string {
  let inner = err;
  while (inner instanceof Error && inner.cause instanceof Error) inner = inner.cause;
  return inner instanceof Error ? inner.message : String(inner);
}
