/**
 * The pipeline configuration: one zod schema, validated at the edge (CLI, API), passed whole to
 * workflows. Every object is strict, so a misspelt key is refused instead of silently defaulted.
 */
import { z } from 'zod';

/**
 * Default of `thresholds.logLossSignificanceZ`: one-sided 0.023%. Every analysis interval tests the
 * growing window again, so a step makes many tests: at 2.33 (1%), one of 30 canaries of a model
 * identical to production was rolled back on log loss in bench/canary-false-alarms.ts.
 */
export const DEFAULT_LOG_LOSS_SIGNIFICANCE_Z = 3.5;
/** What a rollout started before `logLossSignificanceZ` existed is judged by (its thresholds lack it). */
export const LEGACY_LOG_LOSS_SIGNIFICANCE_Z = 2.33;
/** 3.09 is p = 0.001, one-sided: the latency and score tests' default bar for "not chance". */
export const DEFAULT_SIGNIFICANCE_Z = 3.09;

const rolloutStepSchema = z.strictObject({
  weight: z.number().int().min(1).max(100).describe('percent of traffic sent to the canary'),
  bakeSeconds: z.number().min(0).default(10),
  minRequests: z.number().int().min(0).default(20),
});

/**
 * Drift thresholds, shared by the validate stage (data.validation.drift) and the production monitor:
 * the same measures, so the same settings mean the same thing in both.
 */
export const driftConfigSchema = z
  .strictObject({
    psiWarning: z.number().min(0).default(0.1),
    psiCritical: z.number().min(0).default(0.25),
    jsWarning: z.number().min(0).max(1).default(0.02),
    jsCritical: z.number().min(0).max(1).default(0.05),
    /** Quantile bins of the baseline per numeric feature. */
    bins: z.number().int().min(2).max(100).default(10),
    /** Categories compared per categorical feature: the baseline's most frequent; the rest as one. */
    maxCategories: z.number().int().min(1).max(1000).default(20),
    /** Fewer rows on either side: drift is not measured (sampling noise would swamp it). */
    minRows: z.number().int().min(1).default(300),
    /** Drift past a critical threshold fails the pipeline instead of warning. */
    failOnCritical: z.boolean().default(false),
  })
  .prefault({})
  .refine(
    (t) => t.psiWarning <= t.psiCritical && t.jsWarning <= t.jsCritical,
    'drift warning thresholds must not exceed critical ones',
  );

export const pipelineConfigSchema = z.strictObject({
  taskQueues: z
    .strictObject({
      /** Where training and evaluation run; GPU workers poll it. */
      gpu: z.string().min(1).default('ml-gpu'),
    })
    .prefault({}),
  data: z
    .strictObject({
      imageSize: z.number().int().min(8).max(256).default(32),
      evalFraction: z.number().gt(0).lt(1).default(0.2),
      maxBadRowFraction: z.number().min(0).max(1).default(0.1),
      minRows: z.number().int().min(2).default(20),
      /** Rows per ingest shard: each shard is one activity, holding this many decoded images at most. */
      shardRows: z.number().int().min(1).max(1_000_000).default(50_000),
      /** Ingest shard activities in flight at once. */
      ingestConcurrency: z.number().int().min(1).max(256).default(4),
      /** Images one shard activity fetches and decodes at once. */
      imageConcurrency: z.number().int().min(1).max(256).default(8),
      /**
       * Statistics, schema and drift checks, in the manner of TFX's StatisticsGen, SchemaGen and
       * ExampleValidator. A fraction or divergence strictly above `warning` warns (returned, shown to
       * the reviewer, recorded with the model); strictly above `critical` fails the pipeline.
       */
      validation: z
        .strictObject({
          /** Most frequent values per categorical feature kept in statistics.json; the rest count as "other". */
          vocabularyTopK: z.number().int().min(1).max(100_000).default(1000),
          /** A categorical feature gets a vocabulary in the inferred schema up to this many distinct values. */
          maxDomainSize: z.number().int().min(1).max(100_000).default(1000),
          /**
           * Fraction of a feature's values not in the schema's vocabulary. A new advertiser is normal;
           * half the rows unknown is a broken feed.
           */
          outOfVocabulary: z
            .strictObject({
              warning: z.number().min(0).max(1).default(0.01),
              critical: z.number().min(0).max(1).default(0.5),
            })
            .prefault({})
            .refine((t) => t.warning <= t.critical, 'outOfVocabulary.warning must not exceed critical'),
          /**
           * Numeric ranges: the schema's [min, max] widened by `tolerance` × (max − min) on each side;
           * thresholds on the fraction of values outside it.
           */
          outOfRange: z
            .strictObject({
              tolerance: z.number().min(0).default(0.1),
              warning: z.number().min(0).max(1).default(0),
              critical: z.number().min(0).max(1).default(0.05),
            })
            .prefault({})
            .refine((t) => t.warning <= t.critical, 'outOfRange.warning must not exceed critical'),
          /**
           * Drift from the production model's training data. PSI 0.1 / 0.25 are the usual "moderate" /
           * "significant" shift levels; a small shift measured as Jensen-Shannon divergence (bits) is
           * about PSI / (8 ln 2), hence 0.02 / 0.05, which catch a device mix moving from 10% to 40% tablets
           * (JS 0.09) that 0.1 would miss. Values are compared after subtracting the sampling noise.
           */
          drift: driftConfigSchema,
          /** Shards whose statistics are computed at once within the validate activity. */
          concurrency: z.number().int().min(1).max(32).default(2),
        })
        // Widening a schema reads the stored (truncated) vocabularies: a domain needs all its values there.
        .refine((v) => v.vocabularyTopK >= v.maxDomainSize, {
          message: 'vocabularyTopK must be at least maxDomainSize (a domain needs every value counted)',
          path: ['vocabularyTopK'],
        })
        .prefault({}),
    })
    .prefault({}),
  train: z
    .strictObject({
      epochs: z.number().int().min(1).max(1000).default(4),
      batchSize: z.number().int().min(1).max(4096).default(32),
      learningRate: z.number().positive().max(1).default(0.005),
      seed: z.number().int().default(42),
      conv: z
        .strictObject({
          filters: z.array(z.number().int().min(1).max(256)).min(1).max(4).default([8, 16]),
          denseUnits: z.number().int().min(1).max(1024).default(16),
        })
        .prefault({}),
      embeddingDim: z.number().int().min(1).max(64).default(4),
      /**
       * Your own model code (TFX's module file): a .ts or .js file (a path the GPU workers can read,
       * or gs://) exporting createModel(inputs, spec, config) that returns a TF.js layers model of
       * standard layers. Absent: the built-in architecture. See docs/model-module.md.
       */
      modelModule: z.string().min(1, 'train.modelModule must name a file').optional(),
      /** Weights and optimizer state are saved every this many epochs (and after the last); a retry resumes there. */
      checkpointEveryEpochs: z.number().int().min(1).max(1000).default(1),
      /** Rows the streaming shuffle holds (tf.data's buffer_size); at least the split's size shuffles fully. */
      shuffleBufferSize: z.number().int().min(1).max(1_000_000).default(4096),
      /**
       * How long the train activity may go without a heartbeat before Temporal retries it elsewhere.
       * Heartbeats come from a timer every few seconds whatever the training does, so this bounds how
       * long a dead GPU worker holds the pipeline up.
       */
      heartbeatTimeoutSeconds: z.number().int().min(5).max(3600).default(60),
    })
    .prefault({}),
  /**
   * Blessing, in the manner of TFX's Evaluator: absolute thresholds on the candidate, and change
   * thresholds against the production model scored on the same eval rows (skipped when there is
   * none). A candidate is blessed only if it clears every one; a value exactly on a threshold passes.
   */
  evaluate: z
    .strictObject({
      /** Absolute: the candidate's AUC must reach this (0.5 is a coin flip). */
      minAuc: z.number().min(0).max(1).default(0.55),
      /** Absolute, off unless set: the highest log loss a candidate may have (ln 2 ≈ 0.693 is a coin flip). */
      maxLogLoss: z.number().positive().optional(),
      /** Absolute, off unless set: the highest expected calibration error (10 bins) a candidate may have. */
      maxEce: z.number().min(0).max(1).optional(),
      /** How much worse than production (in AUC) a candidate may be and still pass. */
      maxAucDropVsProduction: z.number().min(0).max(1).default(0.01),
      /**
       * How much higher than production's its log loss may be. Looser than the AUC drop: on a few
       * hundred eval rows log loss moves by 0.01 between equally good models (seen: AUC up 0.014,
       * log loss up 0.013 on 76 rows).
       */
      maxLogLossIncreaseVsProduction: z.number().min(0).default(0.02),
      /**
       * How much higher than production's its expected calibration error may be. Loose, as ECE over
       * 10 bins is noisy on small splits, and a barely trained baseline that predicts the click rate
       * everywhere is well calibrated; 0.05 is a real miscalibration at a 30% click rate.
       */
      maxEceIncreaseVsProduction: z.number().min(0).max(1).default(0.05),
    })
    .prefault({}),
  approval: z
    .strictObject({
      required: z.boolean().default(true),
      timeoutHours: z.number().positive().default(72),
      /** What a gate decides when nobody has by its deadline. */
      timeoutOutcome: z.enum(['reject', 'approve']).default('reject'),
      /** A second gate: hold the canary at its last partial step until a person approves 100%. */
      beforeFullTraffic: z.boolean().default(false),
    })
    .prefault({}),
  rollout: z
    .strictObject({
      steps: z
        .array(rolloutStepSchema)
        .min(1)
        .default([
          { weight: 10, bakeSeconds: 10, minRequests: 20 },
          { weight: 50, bakeSeconds: 10, minRequests: 20 },
          { weight: 100, bakeSeconds: 0, minRequests: 0 },
        ])
        .refine((steps) => steps.at(-1)?.weight === 100, 'the last rollout step must send 100% of traffic')
        .refine(
          (steps) => steps.every((step, i) => i === 0 || step.weight > steps[i - 1]!.weight),
          'rollout step weights must increase',
        ),
      /**
       * Before any user is served by the candidate (when a production version exists): stable answers
       * every request, `percent` of them are copied to the candidate off the request path, and the
       * two are compared on the same requests for at least `seconds` and `minRequests` mirrored
       * requests. A regression there ends the rollout with no user served by the candidate.
       * `false` skips it.
       */
      shadow: z
        .union([
          z.literal(false),
          z.strictObject({
            seconds: z.number().min(0).default(10),
            minRequests: z.number().int().min(0).default(50),
            percent: z.number().min(1).max(100).default(100),
            /**
             * Fails when the root-mean-square difference of the candidate's and stable's scores on the
             * same instances exceeds this: a model that answers unlike stable on the same inputs.
             * Loose: a better model moves scores too.
             */
            maxScoreShift: z.number().min(0).max(1).default(0.5),
          }),
        ])
        .default({ seconds: 10, minRequests: 50, percent: 100, maxScoreShift: 0.5 }),
      /** How often a baking step compares canary with stable: bounds the time to detect a regression. */
      analysisIntervalSeconds: z.number().min(0.2).max(60).default(1),
      thresholds: z
        .strictObject({
          /** Canary fails when its error rate exceeds stable's by more than this (absolute). */
          maxErrorRateIncrease: z.number().min(0).max(1).default(0.01),
          /** Canary fails when its p99 latency exceeds stable's times this ratio… */
          maxP99LatencyRatio: z.number().min(1).default(1.5),
          /** …and by at least this many milliseconds (tiny latencies are noisy)… */
          minP99LatencyIncreaseMs: z.number().min(0).default(20),
          /**
           * …and significantly so: the canary requests slower than stable's p99 with that margin are
           * too many to be chance (exceedance test over both sides' request counts), at p below the
           * standard normal's upper tail at this z (3.09: 0.001). 0 fails on the p99s alone.
           */
          latencySignificanceZ: z.number().min(0).default(DEFAULT_SIGNIFICANCE_Z),
          /**
           * Canary fails when its score distribution diverges from stable's (Jensen-Shannon, base 2, 0..1).
           * Loose by default: a better model legitimately moves scores (0.27 seen for a 0.66 → 0.76 AUC step).
           */
          maxScoreDivergence: z.number().min(0).max(1).default(0.5),
          /**
           * The divergence fails only with its small-sample bias taken off and when the two score
           * samples differ significantly: a G-test of homogeneity whose z (Wilson–Hilferty) exceeds
           * this. 0 fails on the bias-corrected divergence alone.
           */
          scoreSignificanceZ: z.number().min(0).default(DEFAULT_SIGNIFICANCE_Z),
          /** Observations each side needs before latency and score checks count. */
          minSamples: z.number().int().min(1).default(20),
          /**
           * Canary fails when its online log loss from feedback exceeds stable's by more than this,
           * and significantly so (see logLossSignificanceZ).
           */
          maxLogLossIncrease: z.number().min(0).default(0.05),
          /**
           * How many standard errors the canary's log loss must exceed stable + maxLogLossIncrease by
           * to fail: (difference of means − margin) / √(var_c/n_c + var_s/n_s), one-sided. 3.5 is
           * 0.023% a comparison, and every analysis interval is a new comparison of the same step.
           * Higher needs more labels before failing; 0 fails on the margin alone.
           */
          logLossSignificanceZ: z.number().min(0).default(DEFAULT_LOG_LOSS_SIGNIFICANCE_Z),
          /** Feedback labels each side needs before the log-loss check counts. */
          minFeedback: z.number().int().min(1).default(30),
        })
        .prefault({}),
      /** How long a step may wait for its minimum number of canary requests before rolling back. */
      maxWaitSeconds: z.number().positive().default(300),
    })
    .prefault({}),
});

export type PipelineConfigInput = z.input<typeof pipelineConfigSchema>;
export type PipelineConfig = z.output<typeof pipelineConfigSchema>;
