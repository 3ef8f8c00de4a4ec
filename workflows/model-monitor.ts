/**
 * `modelMonitor`: watches one model in production, forever. Every interval an activity measures the
 * live quality and input drift since the last cursor; on a trigger the monitor starts a retraining
 * pipeline (abandoned child, one per production version) or records an alert. The run continues as new
 * when Temporal suggests it or after a number of iterations, carrying only its cursors and last actions.
 */
import {
  condition,
  continueAsNew,
  log,
  makeContinueAsNewFunc,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { ControlActivities } from '../activities';
import { withSummaries } from './activity-summaries';
import { ML_MODEL, ML_STAGE, PIPELINE_WORKFLOW_TYPE, type PipelineTrigger } from '../contracts/temporal';
import {
  monitorStatusQuery,
  retrainWorkflowId,
  stopMonitorSignal,
  type MonitorAction,
  type MonitorInput,
  type MonitorMeasurement,
  type MonitorState,
  type MonitorStatus,
} from '../contracts/monitor';

const { measureModelHealth, recordMonitorAlert } = withSummaries(
  proxyActivities<ControlActivities>({
    startToCloseTimeout: '10 minutes',
    retry: { maximumAttempts: 5, initialInterval: '2 seconds' },
  }),
);

const DEFAULT_MAX_ITERATIONS = 500;
const DEFAULT_RETRAIN_RETRY_SECONDS = 24 * 3600;
const KEPT_ACTIONS = 5;

function monitorDetails(status: MonitorStatus): string {
  const last = status.last;
  const lines = [
    `**modelMonitor** for \`${status.modelName}\`: every ${status.intervalSeconds}s, on decay: ${status.action}`,
    '',
  ];
  if (last) {
    lines.push(
      `- last measurement ${last.at} (iteration ${last.iteration}), production v${last.productionVersion ?? '–'}`,
      `- ${last.predictions} new predictions, ${last.labels} new labels; log loss ${last.logLoss ?? '–'}, AUC ${last.auc ?? '–'}`,
    );
    const drifted = (last.drift ?? []).filter((f) => f.level !== 'none');
    if (drifted.length > 0)
      lines.push(`- drift: ${drifted.map((f) => `${f.feature} ${f.value} (${f.level})`).join(', ')}`);
    for (const note of last.notes) lines.push(`- ${note}`);
  }
  for (const action of status.actions.slice(-3))
    lines.push(`- ${action.at}: ${action.kind}${action.workflowId ? ` \`${action.workflowId}\`` : ''}`);
  return lines.join('\n');
}

/** Watches a model's production version; never returns unless stopped. */
export async function modelMonitor(input: MonitorInput): Promise<MonitorStatus> {
  const state: MonitorState = input.state ?? {
    iterations: 0,
    predictionsCursor: { hour: '', seen: [] },
    feedbackCursor: { hour: '', seen: [] },
    actions: [],
  };
  let last: MonitorMeasurement | undefined;
  let stopping = false;
  const status = (): MonitorStatus => ({
    modelName: input.modelName,
    action: input.action,
    intervalSeconds: input.intervalSeconds,
    iterations: state.iterations,
    ...(last ? { last } : {}),
    actions: state.actions,
    stopping,
  });
  setHandler(monitorStatusQuery, status);
  setHandler(stopMonitorSignal, () => {
    stopping = true;
  });

  const act = async (measurement: MonitorMeasurement): Promise<MonitorAction> => {
    const at = new Date().toISOString();
    const { triggers } = measurement;
    if (input.action === 'retrain' && input.retrain && measurement.productionVersion) {
      const productionVersion = measurement.productionVersion;
      const workflowId = retrainWorkflowId(input.modelName, productionVersion);
      const retryAfterMs = (input.retrainRetryAfterSeconds ?? DEFAULT_RETRAIN_RETRY_SECONDS) * 1000;
      const recent = state.lastRetrain;
      // Monitors that started before the retry delay existed asked for the child on every trigger.
      const throttled = patched('monitor-retrain-retry-delay');
      if (throttled && recent?.workflowId === workflowId && Date.now() - recent.atMs < retryAfterMs)
        return { at, kind: 'retrain-already-started', triggers, workflowId };
      state.lastRetrain = { workflowId, atMs: Date.now() };
      const trigger: PipelineTrigger = {
        by: 'monitor',
        monitorWorkflowId: workflowInfo().workflowId,
        productionVersion,
        reasons: triggers.map((t) => t.message),
        expectShift: input.retrainExpectsDataShift ?? true,
      };
      try {
        await startChild(PIPELINE_WORKFLOW_TYPE, {
          workflowId,
          args: [{ ...input.retrain, trigger }],
          // The pipeline outlives this run: continue-as-new or stopping the monitor must not cancel it.
          parentClosePolicy: ParentClosePolicy.ABANDON,
          // Running or completed: not again for this version. Failed: again, once the retry delay passed.
          workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
          typedSearchAttributes: [
            { key: ML_MODEL, value: input.modelName },
            { key: ML_STAGE, value: 'ingest' },
          ],
          staticSummary: `Retrain ${input.modelName} on ${input.retrain.dataUri}: ${triggers.map((t) => t.kind).join(', ')}`,
        });
        log.warn('model monitor started retraining', {
          workflowId,
          triggers: triggers.map((t) => t.message),
        });
        return { at, kind: 'retrain-started', triggers, workflowId };
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        return { at, kind: 'retrain-already-started', triggers, workflowId };
      }
    }
    const alertUri = await recordMonitorAlert({
      modelName: input.modelName,
      iteration: measurement.iteration,
      at: measurement.at,
      ...(measurement.productionVersion ? { productionVersion: measurement.productionVersion } : {}),
      triggers,
    });
    return { at, kind: 'alert', triggers, alertUri };
  };

  const maxIterations = input.maxIterationsPerRun ?? DEFAULT_MAX_ITERATIONS;
  for (let iteration = 0; ; iteration++) {
    last = await measureModelHealth({
      modelName: input.modelName,
      iteration: state.iterations,
      predictionsCursor: state.predictionsCursor,
      feedbackCursor: state.feedbackCursor,
      thresholds: input.thresholds,
      drift: input.drift,
    });
    state.iterations += 1;
    state.predictionsCursor = last.predictionsCursor;
    state.feedbackCursor = last.feedbackCursor;
    if (last.triggers.length > 0) {
      const action = await act(last);
      // A retraining already started for this version is not news; keep the list to what changed.
      const previous = state.actions.at(-1);
      if (!(action.kind === 'retrain-already-started' && previous?.workflowId === action.workflowId))
        state.actions = [...state.actions, action].slice(-KEPT_ACTIONS);
    }
    setCurrentDetails(monitorDetails(status()));
    if (await condition(() => stopping, input.intervalSeconds * 1000)) return status();
    const info = workflowInfo();
    // With worker versioning, a new release became current: the next run starts on it (a pinned run's
    // successor otherwise stays on this run's build), so with versioning the monitor needs no patched() for
    // its own changes (without it, changes still go behind patched(), as above).
    if (info.targetWorkerDeploymentVersionChanged)
      await makeContinueAsNewFunc<typeof modelMonitor>({ initialVersioningBehavior: 'AUTO_UPGRADE' })({
        ...input,
        state,
      });
    if (info.continueAsNewSuggested || iteration + 1 >= maxIterations)
      await continueAsNew<typeof modelMonitor>({ ...input, state });
  }
}
