/**
 * Evaluate: score the candidate and the production model once each on the same eval split, compute
 * overall and per-slice metrics from those scores, write report.json and report.md, and bless the
 * candidate only if it clears the absolute and relative thresholds.
 */
import { ApplicationFailure } from '@temporalio/common';
import { log } from '@temporalio/activity';
import type { PipelineConfig } from '../lib/config-schema';
import { readShard } from '../lib/dataset/shards';
import type { AdExample } from '../lib/dataset/schema';
import { evaluationReportMarkdown } from '../lib/evaluation-report';
import { computeBinaryMetrics, type BinaryMetrics } from '../lib/metrics';
import { disposeModel, loadModelBundle, predictProbabilities } from '../lib/model';
import { joinUri, readJsonIfExists, storageFor, writeJson } from '../lib/storage';
import type { ModelMetrics } from '../workflows/definitions';
import type {
  EvaluationSummary,
  ProductionMetrics,
  SliceComparison,
  SliceFeature,
  SliceMetrics,
} from '../workflows/evaluation-types';
import { type ActivityDeps, stageUri } from './deps';

export interface EvaluateInput {
  candidateModelUri: string;
  evalUri: string;
  production?: { version: string; modelUri: string };
  thresholds: PipelineConfig['evaluate'];
  /** Names the model in report.md's title. */
  modelName?: string;
}

/** What evaluateModel answers: small enough for workflow history (slices capped). */
export type EvaluationResult = EvaluationSummary;

/** Columns evaluation slices by. */
export const SLICE_FEATURES: readonly SliceFeature[] = ['device', 'placement'];
/** Values kept per slice feature, largest first; the rest would only grow workflow history. */
export const MAX_SLICE_VALUES = 20;

async function scoreModel(modelUri: string, examples: AdExample[]): Promise<Float32Array> {
  const bundle = await loadModelBundle(modelUri);
  try {
    return await predictProbabilities(bundle, examples);
  } finally {
    disposeModel(bundle.model);
  }
}

function checkEvalSplit(evalUri: string, labels: Float64Array): void {
  let clicked = 0;
  for (const label of labels) clicked += label;
  if (clicked === 0 || clicked === labels.length) {
    // Retrying cannot add the missing class; a person has to supply more or different data.
    throw ApplicationFailure.create({
      nonRetryable: true,
      message:
        `The eval split ${evalUri} has ${clicked} clicked and ${labels.length - clicked} unclicked rows; ` +
        `AUC needs both, so the candidate cannot be evaluated. Supply more data or more varied data.`,
      details: [{ evalUri, rows: labels.length, clicked }],
    });
  }
}

function overall(metrics: BinaryMetrics): ModelMetrics {
  // checkEvalSplit guarantees both classes, so AUC is defined here.
  return {
    auc: metrics.auc ?? Number.NaN,
    logLoss: metrics.logLoss,
    accuracy: metrics.accuracy,
    ece: metrics.ece,
    clickRate: metrics.clickRate,
    count: metrics.count,
  };
}

function sliceMetrics({ auc, logLoss, accuracy, ece }: BinaryMetrics): SliceMetrics {
  return { auc, logLoss, accuracy, ece };
}

/** Per value of each slice feature, largest first and at most MAX_SLICE_VALUES, both models' metrics. */
export function computeSlices(
  examples: readonly Pick<AdExample, SliceFeature>[],
  labels: Float64Array,
  candidate: ArrayLike<number>,
  production?: ArrayLike<number>,
): SliceComparison[] {
  const slices: SliceComparison[] = [];
  for (const feature of SLICE_FEATURES) {
    const groups = new Map<string, number[]>();
    examples.forEach((example, index) => {
      const value = example[feature];
      let rows = groups.get(value);
      if (!rows) groups.set(value, (rows = []));
      rows.push(index);
    });
    const largest = [...groups]
      .sort(([a, rowsA], [b, rowsB]) => rowsB.length - rowsA.length || (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, MAX_SLICE_VALUES);
    for (const [value, rows] of largest) {
      const sliceLabels = Float64Array.from(rows, (i) => labels[i]!);
      const candidateMetrics = computeBinaryMetrics(
        sliceLabels,
        Float64Array.from(rows, (i) => candidate[i]!),
      );
      const slice: SliceComparison = {
        feature,
        value,
        count: rows.length,
        clickRate: candidateMetrics.clickRate,
        candidate: sliceMetrics(candidateMetrics),
      };
      if (production) {
        slice.production = sliceMetrics(
          computeBinaryMetrics(
            sliceLabels,
            Float64Array.from(rows, (i) => production[i]!),
          ),
        );
      }
      slices.push(slice);
    }
  }
  return slices;
}

function blessingFailures(
  candidate: ModelMetrics,
  production: ProductionMetrics | undefined,
  thresholds: PipelineConfig['evaluate'],
): string[] {
  const { minAuc, maxAucDropVsProduction } = thresholds;
  const failures: string[] = [];
  if (candidate.auc < minAuc) {
    failures.push(`AUC ${candidate.auc.toFixed(4)} is below the minimum ${minAuc} (evaluate.minAuc)`);
  }
  if (production && candidate.auc < production.auc - maxAucDropVsProduction) {
    failures.push(
      `AUC ${candidate.auc.toFixed(4)} is ${(production.auc - candidate.auc).toFixed(4)} below production ` +
        `v${production.version} (${production.auc.toFixed(4)}); allowed drop is ${maxAucDropVsProduction} ` +
        `(evaluate.maxAucDropVsProduction)`,
    );
  }
  return failures;
}

function isSummary(value: Partial<EvaluationSummary> | undefined): value is EvaluationSummary {
  // A report.json written by an older version of this activity lacks slices; it is computed again.
  return value !== undefined && Array.isArray(value.slices) && typeof value.reportMarkdownUri === 'string';
}

export function createEvaluateActivities(deps: ActivityDeps) {
  return {
    /**
     * Computes AUC, log loss, accuracy, ECE and per-slice metrics for the candidate (and production),
     * decides the blessing and writes report.json and report.md; a retry in the same run reuses them.
     */
    async evaluateModel(input: EvaluateInput): Promise<EvaluationResult> {
      const outUri = stageUri(deps.storeUri, 'evaluate');
      const reportUri = joinUri(outUri, 'report.json');
      const reportMarkdownUri = joinUri(outUri, 'report.md');
      const previous = await readJsonIfExists<Partial<EvaluationSummary>>(reportUri);
      if (isSummary(previous)) return previous;

      // The shard first: were it read alongside and failed, a model already loaded would never be freed.
      const { examples } = await readShard(input.evalUri);
      const labels = Float64Array.from(examples, (example) => example.clicked);
      checkEvalSplit(input.evalUri, labels);

      const candidateScores = await scoreModel(input.candidateModelUri, examples);
      let productionScores: Float32Array | undefined;
      if (input.production) {
        try {
          productionScores = await scoreModel(input.production.modelUri, examples);
        } catch (err) {
          // A production model we cannot score (other image size, deleted files) must not block a
          // new candidate forever; the reviewer sees that no comparison was made.
          log.warn('could not score the production model on this eval split', {
            error: (err as Error).message,
          });
        }
      }

      const candidate = overall(computeBinaryMetrics(labels, candidateScores));
      const production: ProductionMetrics | undefined =
        input.production && productionScores
          ? { ...overall(computeBinaryMetrics(labels, productionScores)), version: input.production.version }
          : undefined;
      const failures = blessingFailures(candidate, production, input.thresholds);
      const summary: EvaluationSummary = {
        candidate,
        ...(production ? { production } : {}),
        slices: computeSlices(examples, labels, candidateScores, productionScores),
        blessed: failures.length === 0,
        failures,
        reportUri,
        reportMarkdownUri,
      };
      // report.json last: its presence tells a retry that both files are complete.
      await storageFor(reportMarkdownUri).write(
        reportMarkdownUri,
        evaluationReportMarkdown(summary, input.modelName ? { modelName: input.modelName } : {}),
      );
      await writeJson(reportUri, summary);
      log.info('evaluated candidate', {
        auc: candidate.auc,
        productionAuc: production?.auc,
        slices: summary.slices.length,
        blessed: summary.blessed,
      });
      return summary;
    },
  };
}
