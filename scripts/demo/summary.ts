/** The demo's closing summary. */
import type { CanaryComparison } from '../../contracts/temporal';
import type { CandidateRun } from './run-candidate';

function describeStep(c: CanaryComparison): string {
  const loss = (v: number | undefined) => (v === undefined ? '—' : v.toFixed(3));
  return (
    `${c.weight}% ${c.verdict}: canary ${c.canary.requests} req, ${c.canary.errors} err, log loss ${loss(c.canary.onlineLogLoss)}; ` +
    `stable ${c.stable.requests} req, log loss ${loss(c.stable.onlineLogLoss)}`
  );
}

export function formatSummary(input: {
  model: string;
  run: CandidateRun;
  served: { version: string; probability: number };
  storeUri: string;
  logDir: string;
  seconds: number;
  /** From the candidate's registry record: the AUC of the true click probabilities, and the HTML report. */
  evaluation?: { bestPossibleAuc?: number; reportUri?: string };
}): string {
  const { run } = input;
  const candidate = run.waiting.candidateVersion;
  const outcome = run.result
    ? `${input.model} v${candidate}: in production (approved by ${run.result.decision?.by})`
    : `${input.model} v${candidate}: ROLLED BACK — ${run.failure}`;
  const steps = [...(run.rollout?.comparisons ?? [])];
  return `
================ temporal-mlops demo summary ================
Candidate        ${outcome}
Offline AUC      v${candidate} ${run.waiting.candidateMetrics?.auc.toFixed(4)} vs production v${run.waiting.productionVersion ?? '—'} ${run.waiting.productionMetrics?.auc.toFixed(4) ?? '—'} (same eval data)${
    input.evaluation?.bestPossibleAuc !== undefined
      ? `\nBest possible    AUC ${input.evaluation.bestPossibleAuc.toFixed(4)} (the true click probabilities on the same rows)`
      : ''
  }${input.evaluation?.reportUri ? `\nReport           ${input.evaluation.reportUri}` : ''}
Canary steps     ${steps.map(describeStep).join('\n                 ') || '—'}
Traffic          ${run.traffic.requests} requests, ${run.traffic.ok} ok, ${run.traffic.failed + run.traffic.errors} failed, p99 ${run.traffic.p99LatencyMs} ms
Click feedback   ${run.feedback.accepted} of ${run.feedback.sent} labels joined to their predictions
Serving now      v${input.served.version} (sample click probability ${input.served.probability.toFixed(3)})
Workflow         ${run.workflowId}   (lineage: mlops models show --model ${input.model} --version ${candidate})
Registry/store   ${input.storeUri}
Logs             ${input.logDir}
Took             ${input.seconds.toFixed(0)}s
The stack is stopped now; run 'npm run dev' to keep it up and browse the Web UI at http://localhost:8233.
==============================================================`;
}
