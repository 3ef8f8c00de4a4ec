/**
 * The shadow step, before the first canary step: stable serves every user while each replica
 * copies a share of their requests to the candidate and compares the two on the same requests.
 * A regression here rolls back before any user was served by the candidate; promote skips it,
 * abort ends it, pause holds it in shadow. Workflow-safe.
 */
import { checkAbort } from './checks';
import { rollBack } from './compensation';
import { control, untilNextAnalysis, type CanaryContext } from './context';
import { compareShadow } from './shadow-analysis';
import { FAILURE } from '../../contracts/failures';
import type { PipelineConfig } from '../../contracts/pipeline-config';

/** Runs the shadow step when the rollout has one; returns once it passed (or was skipped by promote). */
export async function runShadowStep(ctx: CanaryContext): Promise<void> {
  const { input, state, candidate, stable } = ctx;
  // Undefined in a rollout whose pipeline parsed its config before the setting existed: no shadow.
  const settings = input.rollout.shadow as PipelineConfig['rollout']['shadow'] | undefined;
  // A rollout straight to 100% asked for no gradual check: it deploys at once, as before.
  if (!settings || input.rollout.steps[0]!.weight === 100) return;
  const { status } = state;
  status.phase = 'shadow';
  status.step = 0;
  status.weight = 0;
  await control.applyDeployment({
    model: input.modelName,
    stable,
    shadow: { ...candidate, percent: settings.percent },
  });
  const baseline = await control.snapshotTraffic({ model: input.modelName });
  const startedAt = Date.now();
  const intervalMs = input.rollout.analysisIntervalSeconds * 1000;
  ctx.showDetails();
  for (;;) {
    await checkAbort(ctx);
    await untilNextAnalysis(state, intervalMs);
    await checkAbort(ctx);
    if (state.promoteRequested) return;
    const elapsedSeconds = (Date.now() - startedAt) / 1000;
    const comparison = compareShadow({
      baseline,
      current: await control.snapshotTraffic({ model: input.modelName }),
      stableVersion: stable.version,
      shadowVersion: candidate.version,
      elapsedSeconds,
      shadow: settings,
      thresholds: input.rollout.thresholds,
    });
    status.shadow = comparison;
    ctx.showDetails();
    if (comparison.verdict === 'fail') {
      return rollBack(
        ctx,
        `candidate v${candidate.version} failed in shadow (no user was served by it): ${comparison.reason}`,
        FAILURE.CanaryRegression,
      );
    }
    // Paused: the shadow goes on (it serves no one) but does not hand over to the canary steps.
    if (state.paused) continue;
    if (comparison.verdict === 'pass') return;
    if (elapsedSeconds >= input.rollout.maxWaitSeconds) {
      return rollBack(
        ctx,
        `candidate v${candidate.version} failed in shadow: ${comparison.reason} within rollout.maxWaitSeconds ` +
          `(${input.rollout.maxWaitSeconds}s); not enough evidence to serve it`,
        FAILURE.CanaryInconclusive,
      );
    }
  }
}
