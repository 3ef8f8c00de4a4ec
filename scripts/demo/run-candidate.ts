/** Runs one demo pipeline to its end: approval, canary under simulated traffic with click feedback. */
import { WorkflowFailedError } from '@temporalio/client';
import type { PipelineConfigInput } from '../../contracts/pipeline-config';
import { decidePipeline, startPipeline, waitForStage } from '../clients/pipeline-client';
import type { LocalStack } from '../../lib/stack/local-stack';
import { workflowUiUrl } from '../clients/temporal-client';
import { loadGroundTruth, startFeedbackSender } from '../../lib/traffic/feedback-sender';
import { loadTrafficSamples } from '../../lib/traffic/samples';
import { startTraffic, type TrafficReport } from '../../lib/traffic/simulated-traffic';
import {
  deploymentWorkflowId,
  CONTROL_TASK_QUEUE,
  GPU_TASK_QUEUE,
  rolloutStatusQuery,
  type PipelineResult,
  type PipelineStatus,
  type RolloutStatus,
} from '../../contracts/temporal';

export interface CandidateRun {
  workflowId: string;
  waiting: PipelineStatus;
  /** Set when the candidate reached production. */
  result?: PipelineResult;
  /** Set when the pipeline failed, e.g. rolled back. */
  failure?: string;
  rollout?: RolloutStatus;
  traffic: TrafficReport;
  feedback: { sent: number; accepted: number };
}

export interface CandidateOptions {
  model: string;
  /** What the candidate trains on. */
  trainDataDir: string;
  /** What live clients look like, with the ground truth their clicks are drawn from. */
  liveDataDir: string;
  config: PipelineConfigInput;
  /** The ads' feature spec in the store. */
  featureSpecUri: string;
  say: (line: string) => void;
}

export async function runCandidate(stack: LocalStack, options: CandidateOptions): Promise<CandidateRun> {
  const { client } = stack;
  const handle = await startPipeline(client, {
    modelName: options.model,
    dataUri: options.trainDataDir,
    featureSpecUri: options.featureSpecUri,
    config: options.config,
    taskQueue: CONTROL_TASK_QUEUE,
    gpuTaskQueue: GPU_TASK_QUEUE,
    workflowId: `demo-pipeline-${Date.now()}`,
  });
  options.say(`started pipeline ${handle.workflowId}`);
  options.say(`watch it in the Web UI: ${workflowUiUrl(stack.namespace, handle.workflowId, stack.uiUrl)}`);
  const waiting = await waitForStage(client, handle.workflowId, ['awaiting-approval'], {
    timeoutMs: 900_000,
  });
  options.say(
    `candidate v${waiting.candidateVersion} (offline AUC ${waiting.candidateMetrics?.auc.toFixed(4)}) waits for approval; ` +
      `production v${waiting.productionVersion ?? '—'} scores ${waiting.productionMetrics?.auc.toFixed(4) ?? '—'} on the same eval data`,
  );

  const [samples, groundTruth] = await Promise.all([
    loadTrafficSamples(options.liveDataDir, 256),
    loadGroundTruth(options.liveDataDir),
  ]);
  const feedback = startFeedbackSender({ baseUrl: stack.servingUrl, groundTruth, delayMs: 1_000 });
  options.say(
    'simulated clients send 40 predictions/s and report clicks 1 s later; approving as "mlops demo"',
  );
  const traffic = startTraffic({
    baseUrl: stack.servingUrl,
    model: options.model,
    samples,
    rate: 40,
    feedback,
  });
  const run: Omit<CandidateRun, 'traffic' | 'feedback'> = { workflowId: handle.workflowId, waiting };
  let trafficReport: TrafficReport;
  let feedbackReport: { sent: number; accepted: number };
  try {
    // The `decide` Update, as `mlops pipeline approve` sends it: refused with a reason if it cannot apply.
    await decidePipeline(client, handle.workflowId, {
      decision: 'approve',
      by: 'mlops demo',
      comment: 'approved by the demo script',
      version: waiting.candidateVersion!,
    });
    await waitForStage(client, handle.workflowId, ['canary', 'production', 'rolled-back'], {
      timeoutMs: 120_000,
    });
    options.say(
      'rollout: shadow (stable answers, the candidate scores copies) → 10% → 50% → 100%, ' +
        'comparing error rate, p99 latency, scores and online log loss',
    );
    try {
      run.result = (await handle.result()) as PipelineResult;
    } catch (err) {
      if (!(err instanceof WorkflowFailedError)) throw err;
      run.failure = err.cause?.message ?? err.message;
    }
  } finally {
    trafficReport = await traffic.stop();
    feedbackReport = await feedback.stop();
  }
  run.rollout = await client.workflow
    .getHandle(deploymentWorkflowId(options.model))
    .query(rolloutStatusQuery)
    .catch(() => undefined);
  return { ...run, traffic: trafficReport, feedback: feedbackReport };
}
