/** The demo's pipeline settings; bench/canary-false-alarms.ts runs its canaries with the same rollout. */
import type { PipelineConfigInput } from '../../contracts/pipeline-config';

/** Small enough for a 2-core CPU in a few minutes, big enough for the image signal to matter. */
export const DEMO_CONFIG: PipelineConfigInput = {
  data: { imageSize: 24 },
  train: { epochs: 8, batchSize: 32, conv: { filters: [8, 16], denseUnits: 32 } },
  evaluate: { minAuc: 0.65 },
  rollout: {
    steps: [
      { weight: 10, bakeSeconds: 8, minRequests: 30 },
      { weight: 50, bakeSeconds: 5, minRequests: 30 },
      { weight: 100, bakeSeconds: 0, minRequests: 0 },
    ],
    maxWaitSeconds: 120,
    // Five seconds at 40 requests/s are 200 mirrored requests and, a second later, their labels.
    shadow: { seconds: 5 },
  },
};
/** The baseline the demo's candidate is compared with, when no model is in production yet. */
export const BASELINE_CONFIG: PipelineConfigInput = {
  ...DEMO_CONFIG,
  train: { ...DEMO_CONFIG.train, epochs: 1 },
  evaluate: { minAuc: 0 },
};
