/**
 * Evaluate: stream the eval split once, scoring each record batch with the candidate and the
 * production model and keeping only per-row scalars; compute overall and per-slice metrics from
 * those scores (and the best possible, from the true click probabilities of synthetic data), write
 * report.json, report.md and report.html, and bless the candidate only if it clears the absolute
 * and change thresholds.
 */
import { diffFeatureSpecs, type FeatureSpecComparison } from '../../contracts/feature-spec-diff';
import { ApplicationFailure } from '@temporalio/common';
import { Context, log } from '@temporalio/activity';
import { findThresholdFailures } from './blessing';
import { pipelineConfigSchema, type PipelineConfig } from '../../contracts/pipeline-config';
import { evaluationReportHtml } from './report-html';
import {
  evaluationReportMarkdown,
  type EvaluationCurves,
  type EvaluationReportData,
  type ModelCurves,
} from './report-markdown';
import { GroundTruthError, groundTruthUriOf, readGroundTruth } from './ground-truth';
import {
  computeBinaryMetrics,
  computeCalibrationBins,
  computeRocCurve,
  hasBothClasses,
  type BinaryMetrics,
} from '../../lib/model/metrics';
import { disposeModel, loadModelBundle, type ModelBundle } from '../../lib/model/index';
import { scoreEvalSplit, type EvalScores } from './scores';
import { joinUri, readJsonIfExists, storageFor, writeJson } from '../../lib/storage/index';
import type { ModelMetrics } from '../../contracts/temporal';
import type {
  BestPossibleMetrics,
  EvaluationSummary,
  ProductionMetrics,
  SliceComparison,
  SliceFeature,
} from '../../contracts/evaluation';
import { catalogValues } from '../../contracts/metric-catalog';
import { type ActivityDeps, stageUri } from '../deps';

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

/** Values kept per slice feature, largest first; the rest would only grow workflow history. */
export const MAX_SLICE_VALUES = 20;

/** The `evaluate` defaults, for pipelines whose config predates a setting (it was validated at the edge). */
const DEFAULT_THRESHOLDS = pipelineConfigSchema.shape.evaluate.parse({});

/** The production model, or undefined when it cannot be loaded (the reviewer sees no comparison was made). */
async function loadProduction(production: EvaluateInput['production']): Promise<ModelBundle | undefined> {
  if (!production) return undefined;
  try {
    return await loadModelBundle(production.modelUri);
  } catch (err) {
    log.warn('could not score the production model on this eval split', { error: (err as Error).message });
    return undefined;
  }
}

/**
 * Both models' scores on the eval split, streamed batch by batch with a heartbeat after each, so
 * memory stays a record batch plus a few scalars per row however large the split is.
 */
async function scoreEvalRows(
  input: EvaluateInput,
): Promise<{ scores: EvalScores; featureSpec?: FeatureSpecComparison }> {
  const context = Context.current();
  const candidate = await loadModelBundle(input.candidateModelUri);
  let production: ModelBundle | undefined;
  try {
    production = await loadProduction(input.production);
    const scores = await scoreEvalSplit({
      shardUris: input.evalUris ?? [input.evalUri],
      candidate,
      ...(production ? { production } : {}),
      // The candidate's spec says what to slice by: the reviewer sees its slices, whatever production's were.
      sliceFeatures: candidate.preprocessing.spec.slices,
      onProgress: (progress) => context.heartbeat(progress),
      signal: context.cancellationSignal,
    });
    if (scores.productionError) {
      // A production model we cannot score (other image size, broken files) must not block a new
      // candidate forever; the reviewer sees that no comparison was made.
      log.warn('could not score the production model on this eval split', {
        error: scores.productionError.message,
      });
    }
    // Compared even when production could not score: a dropped column is often why.
    const featureSpec =
      production && input.production
        ? {
            productionVersion: input.production.version,
            changes: diffFeatureSpecs(production.preprocessing.spec, candidate.preprocessing.spec),
          }
        : undefined;
    return { scores, ...(featureSpec ? { featureSpec } : {}) };
  } finally {
    disposeModel(candidate.model);
    if (production) disposeModel(production.model);
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
        `The eval split ${evalUri} has ${clicked} positive and ${labels.length - clicked} negative rows; ` +
        `AUC needs both, so the candidate cannot be evaluated. Supply more data or more varied data.`,
      details: [{ evalUri, rows: labels.length, clicked }],
    });
  }
}

function overall(metrics: BinaryMetrics): ModelMetrics {
  // checkEvalSplit guarantees both classes, so AUC is defined here.
  return {
    ...catalogValues(metrics),
    auc: metrics.auc ?? Number.NaN,
    clickRate: metrics.clickRate,
    count: metrics.count,
  };
}

/**
 * Per value of each slice feature, largest first and at most MAX_SLICE_VALUES, both models' metrics;
 * `sliceValues` holds each feature's value per row, aligned with the labels and scores.
 */
export function computeSlices(
  sliceValues: Readonly<Record<SliceFeature, readonly string[]>>,
  labels: Float64Array,
  candidate: ArrayLike<number>,
  production?: ArrayLike<number>,
): SliceComparison[] {
  const slices: SliceComparison[] = [];
  for (const [feature, values] of Object.entries(sliceValues)) {
    const groups = new Map<string, number[]>();
    values.forEach((value, index) => {
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
        candidate: catalogValues(candidateMetrics),
      };
      if (production) {
        slice.production = catalogValues(
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
  adIds: readonly string[],
): Promise<Float64Array | undefined> {
  if (!dataUri) return undefined;
  const uri = groundTruthUriOf(dataUri);
  let truth: Map<string, number> | undefined;
  try {
    truth = await readGroundTruth(uri, new Set(adIds));
  } catch (err) {
    // The ground truth only adds a comparison; a broken file must not hold a candidate back.
    if (!(err instanceof GroundTruthError)) throw err;
    log.warn('ignoring the ground truth', { error: err.message });
    return undefined;
  }
  if (!truth) return undefined;
  const known = truth;
  return Float64Array.from(adIds, (adId) => known.get(adId) ?? Number.NaN);
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
    // Small enough for workflow history: slices are capped.
    async evaluateModel(input: EvaluateInput): Promise<EvaluationSummary> {
      const outUri = stageUri(deps.storeUri, 'evaluate');
      const reportUri = joinUri(outUri, 'report.json');
      const reportMarkdownUri = joinUri(outUri, 'report.md');
      const reportHtmlUri = joinUri(outUri, 'report.html');
      const previous = await readJsonIfExists<Partial<EvaluationReportData>>(reportUri);
      if (isReport(previous)) return summaryOf(previous);
      // Settings added after a pipeline started are absent from its config: they take their defaults.
      const thresholds = { ...DEFAULT_THRESHOLDS, ...input.thresholds };

      // One streamed pass; the split's classes are known only once it has been read.
      const { scores, featureSpec } = await scoreEvalRows(input);
      const { labels, candidate: candidateScores, production: productionScores } = scores;
      checkEvalSplit(input.evalUri, labels);
      const trueProbabilities = await readTrueProbabilities(input.dataUri, scores.adIds);

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
        slices: computeSlices(scores.sliceValues, labels, candidateScores, productionScores),
        ...(best ? { bestPossible: best.metrics } : {}),
        blessed: failedThresholds.length === 0,
        failures: failedThresholds.map((failure) => failure.message),
        failedThresholds,
        reportUri,
        reportMarkdownUri,
        reportHtmlUri,
        ...(featureSpec ? { featureSpec } : {}),
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
