/**
 * Evaluate: score the candidate and the production model once each on the same eval split, compute
 * overall and per-slice metrics from those scores (and the best possible, from the true click
 * probabilities of synthetic data), write report.json, report.md and report.html, and bless the
 * candidate only if it clears the absolute and change thresholds.
 */
import { ApplicationFailure } from '@temporalio/common';
import { log } from '@temporalio/activity';
import { findThresholdFailures } from '../lib/blessing';
import { pipelineConfigSchema, type PipelineConfig } from '../lib/config-schema';
import { readShard } from '../lib/dataset/shards';
import type { AdExample } from '../lib/dataset/schema';
import { evaluationReportHtml } from '../lib/evaluation-html';
import {
  evaluationReportMarkdown,
  type EvaluationCurves,
  type EvaluationReportData,
  type ModelCurves,
} from '../lib/evaluation-report';
import { GroundTruthError, groundTruthUriOf, readGroundTruth } from '../lib/ground-truth';
import {
  computeBinaryMetrics,
  computeCalibrationBins,
  computeRocCurve,
  hasBothClasses,
  type BinaryMetrics,
} from '../lib/metrics';
import { disposeModel, loadModelBundle, predictProbabilities } from '../lib/model';
import { joinUri, readJsonIfExists, storageFor, writeJson } from '../lib/storage';
import type { ModelMetrics } from '../workflows/definitions';
import type {
  BestPossibleMetrics,
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
  /** Every eval shard of a sharded ingest; `evalUri` alone otherwise. */
  evalUris?: string[];
  production?: { version: string; modelUri: string };
  /** The `evaluate` config; keys a pipeline started before they existed take their defaults. */
  thresholds: Partial<PipelineConfig['evaluate']>;
  /** Names the model in the reports' titles. */
  modelName?: string;
  /**
   * The dataset the eval split came from (a folder or its ads.csv). When ground_truth.csv lies beside
   * ads.csv (synthetic data), the AUC of the true click probabilities is reported as the best possible.
   */
  dataUri?: string;
}

/** What evaluateModel answers: small enough for workflow history (slices capped). */
export type EvaluationResult = EvaluationSummary;

/** Columns evaluation slices by. */
export const SLICE_FEATURES: readonly SliceFeature[] = ['device', 'placement'];
/** Values kept per slice feature, largest first; the rest would only grow workflow history. */
export const MAX_SLICE_VALUES = 20;

/** The `evaluate` defaults, for pipelines whose config predates a setting (it was validated at the edge). */
const DEFAULT_THRESHOLDS = pipelineConfigSchema.shape.evaluate.parse({});

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

/** The true click probabilities of the eval rows, aligned with them; undefined without ground truth. */
async function readTrueProbabilities(
  dataUri: string | undefined,
  examples: readonly Pick<AdExample, 'ad_id'>[],
): Promise<Float64Array | undefined> {
  if (!dataUri) return undefined;
  const uri = groundTruthUriOf(dataUri);
  let truth: Map<string, number> | undefined;
  try {
    truth = await readGroundTruth(uri, new Set(examples.map((example) => example.ad_id)));
  } catch (err) {
    // The ground truth only adds a comparison; a broken file must not hold a candidate back.
    if (!(err instanceof GroundTruthError)) throw err;
    log.warn('ignoring the ground truth', { error: err.message });
    return undefined;
  }
  if (!truth) return undefined;
  const known = truth;
  return Float64Array.from(examples, (example) => known.get(example.ad_id) ?? Number.NaN);
}

/** Metrics of the true probabilities on the eval rows the ground truth lists, when both classes are among them. */
function bestPossibleMetrics(
  labels: Float64Array,
  trueProbabilities: Float64Array,
): { metrics: BestPossibleMetrics; labels: Float64Array; scores: Float64Array } | undefined {
  const rows = Array.from(labels.keys()).filter((i) => !Number.isNaN(trueProbabilities[i]!));
  const known = Float64Array.from(rows, (i) => labels[i]!);
  if (rows.length < labels.length) {
    log.warn('the ground truth lacks some eval rows; the best possible is computed without them', {
      missing: labels.length - rows.length,
    });
  }
  if (!hasBothClasses(known)) return undefined;
  const scores = Float64Array.from(rows, (i) => trueProbabilities[i]!);
  const { auc, logLoss } = computeBinaryMetrics(known, scores);
  return { metrics: { auc: auc!, logLoss, count: rows.length }, labels: known, scores };
}

function curvesOf(labels: Float64Array, scores: ArrayLike<number>): ModelCurves {
  return { roc: computeRocCurve(labels, scores), calibration: computeCalibrationBins(labels, scores) };
}

function isReport(value: Partial<EvaluationReportData> | undefined): value is EvaluationReportData {
  // A report.json written by an older version of this activity lacks slices or curves; it is computed again.
  return (
    value !== undefined &&
    Array.isArray(value.slices) &&
    typeof value.reportHtmlUri === 'string' &&
    value.curves !== undefined
  );
}

/** The activity's result: report.json without the curves, which would only grow workflow history. */
function summaryOf(report: EvaluationReportData): EvaluationSummary {
  const { curves: _curves, ...summary } = report;
  return summary;
}

export function createEvaluateActivities(deps: ActivityDeps) {
  return {
    /**
     * Computes AUC, log loss, accuracy, ECE and per-slice metrics for the candidate (and production),
     * and the best possible when the dataset has ground truth; decides the blessing; writes
     * report.md, report.html and report.json (with the curves). A retry in the same run reuses them.
     */
    async evaluateModel(input: EvaluateInput): Promise<EvaluationResult> {
      const outUri = stageUri(deps.storeUri, 'evaluate');
      const reportUri = joinUri(outUri, 'report.json');
      const reportMarkdownUri = joinUri(outUri, 'report.md');
      const reportHtmlUri = joinUri(outUri, 'report.html');
      const previous = await readJsonIfExists<Partial<EvaluationReportData>>(reportUri);
      if (isReport(previous)) return summaryOf(previous);
      // Settings added after a pipeline started are absent from its config: they take their defaults.
      const thresholds = { ...DEFAULT_THRESHOLDS, ...input.thresholds };

      // The shard first: were it read alongside and failed, a model already loaded would never be freed.
      // Eval shards are read whole and together: the eval split is the small one, scored in one pass.
      const examples: AdExample[] = [];
      for (const uri of input.evalUris ?? [input.evalUri]) {
        for (const example of (await readShard(uri)).examples) examples.push(example);
      }
      const labels = Float64Array.from(examples, (example) => example.clicked);
      checkEvalSplit(input.evalUri, labels);
      const trueProbabilities = await readTrueProbabilities(input.dataUri, examples);

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
      const best = trueProbabilities ? bestPossibleMetrics(labels, trueProbabilities) : undefined;
      const failedThresholds = findThresholdFailures(candidate, production, thresholds);
      const curves: EvaluationCurves = {
        candidate: curvesOf(labels, candidateScores),
        ...(productionScores ? { production: curvesOf(labels, productionScores) } : {}),
        ...(best ? { bestPossible: { roc: computeRocCurve(best.labels, best.scores) } } : {}),
      };
      const summary: EvaluationSummary = {
        candidate,
        ...(production ? { production } : {}),
        slices: computeSlices(examples, labels, candidateScores, productionScores),
        ...(best ? { bestPossible: best.metrics } : {}),
        blessed: failedThresholds.length === 0,
        failures: failedThresholds.map((failure) => failure.message),
        failedThresholds,
        reportUri,
        reportMarkdownUri,
        reportHtmlUri,
      };
      const report: EvaluationReportData = { ...summary, curves };
      const options = input.modelName ? { modelName: input.modelName } : {};
      // report.json last: its presence tells a retry that the other files are complete.
      await storageFor(reportMarkdownUri).write(
        reportMarkdownUri,
        evaluationReportMarkdown(summary, options),
      );
      await storageFor(reportHtmlUri).write(reportHtmlUri, await evaluationReportHtml(report, options));
      await writeJson(reportUri, report);
      log.info('evaluated candidate', {
        auc: candidate.auc,
        productionAuc: production?.auc,
        bestPossibleAuc: best?.metrics.auc,
        slices: summary.slices.length,
        blessed: summary.blessed,
      });
      return summary;
    },
  };
}
