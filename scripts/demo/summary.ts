/** The demo's closing summary. */
import type { CanaryComparison, ShadowComparison } from '../../contracts/temporal';
import type { CandidateRun } from './run-candidate';

function describeStep(c: CanaryComparison): string {
  const loss = (v: number | undefined) => (v === undefined ? '—' : v.toFixed(3));
  return (
    `${c.weight}% ${c.verdict}: canary ${c.canary.requests} req, ${c.canary.errors} err, log loss ${loss(c.canary.onlineLogLoss)}; ` +
    `stable ${c.stable.requests} req, log loss ${loss(c.stable.onlineLogLoss)}`
  );
}

function describeShadow(s: ShadowComparison | undefined, canaryRequests: number): string {
  if (!s) return '— (no production version to compare with, or rollout.shadow is false)';
  const signed = (v: number | undefined) =>
    v === undefined ? '—' : `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(3)}`;
  return (
    `${s.verdict}: v${s.shadowVersion} scored ${s.requests} copies of stable's requests in ${s.elapsedSeconds.toFixed(0)} s ` +
    `(${s.errors} failed, ${s.dropped} dropped), score shift ${signed(s.meanScoreShift)}, ` +
    `log loss ${signed(s.meanLogLossDifference)} over ${s.feedback} paired labels; users served by it: ${canaryRequests}`
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
Shadow           ${describeShadow(run.rollout?.shadow, steps.reduce((sum, c) => sum + c.canary.requests, 0) + (run.rollout?.live && !steps.includes(run.rollout.live) ? run.rollout.live.canary.requests : 0))}
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
