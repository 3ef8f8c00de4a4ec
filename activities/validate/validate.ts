/**
 * Validate: decide whether an ingested dataset is fit to train on, and say exactly why not, in the
 * manner of TFX's StatisticsGen, SchemaGen and ExampleValidator. Statistics are streamed over the
 * shards; the model's schema is inferred from its first dataset and checked on every later one;
 * drift is measured against the production model's training data. Critical anomalies fail the
 * pipeline; warnings are returned for the reviewer and the registry.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { sortAnomalies, type Anomaly } from '../../lib/dataset/anomalies';
import { checkDataset } from './dataset-checks';
import type { DriftResult, FeatureDrift } from '../../contracts/drift';
import { driftAnomalies, measureDrift } from '../../lib/dataset/drift';
import { listShardFiles } from '../../lib/dataset/record-batches';
import { widenSchema } from './schema-evolution';
import { checkAgainstSchema, inferSchema, type DatasetSchema } from './schema-inference';
import { ensureSchema, readSchema, schemaUriFor } from './schema-store';
import { specOfIngest } from '../../lib/dataset/feature-spec-file';
import {
  STATISTICS_FORMAT,
  computeStatistics,
  truncateVocabularies,
  type DatasetStatistics,
} from '../../lib/dataset/statistics';
import { dataValidationConfigSchema, type DataValidationConfigInput } from './validation-config';
import { validationReportMarkdown } from './report';
import { NotFoundError, joinUri, readJsonIfExists, storageFor, writeJson } from '../../lib/storage/index';
import { type ActivityDeps, stageUri } from '../deps';
import type { IngestResult } from '../../contracts/ingest';
import { FAILURE } from '../../contracts/failures';

export interface ValidateInput {
  ingest: IngestResult;
  /** data.maxBadRowFraction */
  maxBadRowFraction: number;
  /** data.minRows */
  minRows: number;
  /** The model whose schema the data is checked against (inferred from its first dataset); unchecked without it. */
  modelName?: string;
  /** data.validation; every default when absent. */
  validation?: DataValidationConfigInput;
  /** statistics.json of the production model's training run: drift is measured against it when given. */
  baselineStatisticsUri?: string;
  /**
   * The data is expected to have moved (a retraining the production monitor started on drift or decay):
   * drift, out-of-range and out-of-vocabulary findings are warnings, and the schema changes that would
   * admit the data are returned, to be adopted when the model reaches production.
   */
  expectedShift?: { reason: string };
}

export interface ValidationResult {
  /** statistics.json in the validate stage folder: the baseline for later datasets' drift. */
  statisticsUri: string;
  /** report.md: verdict, anomalies, drift and every feature's statistics, for people. */
  reportUri: string;
  /** anomalies.json: every anomaly and drift measure, for programs. */
  anomaliesUri: string;
  /** The model's schema.json, when a model was named. */
  schemaUri?: string;
  /** True when this run inferred and stored the model's schema. */
  schemaCreated: boolean;
  rowsRead: number;
  validRows: number;
  badRows: number;
  badRowFraction: number;
  clickRate: number;
  /** The warnings' messages, as the reviewer sees them (at most MAX_RETURNED_ANOMALIES). */
  warnings: string[];
  /** The same warnings with their kind, feature, value and threshold (critical ones fail instead). */
  anomalies: Anomaly[];
  /** Warnings left out of the two lists above; report.md and anomalies.json hold them all. */
  omittedWarnings: number;
  drift?: {
    baselineStatisticsUri: string;
    measured: boolean;
    skippedReason?: string;
    features: FeatureDrift[];
  };
  /** With expectedShift: how the schema widens to admit this data (adoptSchemaChanges applies them). */
  schemaChanges?: string[];
}

/** Findings that mean "the data moved", which a retraining for a data shift expects. */
const SHIFT_KINDS: ReadonlySet<Anomaly['kind']> = new Set(['drift', 'out_of_range', 'out_of_vocabulary']);

/** The shift findings as warnings that say why they do not fail this run. */
function expectShift(anomalies: Anomaly[], reason: string): Anomaly[] {
  return anomalies.map((anomaly) =>
    SHIFT_KINDS.has(anomaly.kind)
      ? { ...anomaly, severity: 'warning', message: `expected (${reason}): ${anomaly.message}` }
      : anomaly,
  );
}

/** Anomalies returned at most, as the result goes into workflow history; the files hold them all. */
export const MAX_RETURNED_ANOMALIES = 50;

/**
 * Where the validate stage of a pipeline run wrote statistics.json (the stage folder of stageUri):
 * the drift baseline for the model that run trained, found from its lineage.run.
 */
export function statisticsUriOfRun(storeUri: string, run: { workflowId: string; runId: string }): string {
  return joinUri(storeUri, 'runs', run.workflowId, run.runId, 'validate', 'statistics.json');
}

async function readBaseline(uri: string): Promise<DatasetStatistics | string> {
  try {
    const baseline = await readJsonIfExists<{ format?: unknown }>(uri);
    if (!baseline) return `no statistics at ${uri} (a model trained before statistics were recorded?)`;
    if (baseline.format !== STATISTICS_FORMAT) return `${uri} is not ${STATISTICS_FORMAT} statistics`;
    return baseline as DatasetStatistics;
  } catch (err) {
    if (err instanceof NotFoundError) return `no statistics at ${uri}`;
    if (err instanceof SyntaxError) return `${uri} is not valid JSON (${err.message})`;
    throw err;
  }
}

export function createValidateActivities(deps: ActivityDeps) {
  return {
    /** Computes statistics, checks the schema and drift; fails non-retryably listing every critical anomaly. */
    async validateDataset(input: ValidateInput): Promise<ValidationResult> {
      const { ingest } = input;
      const config = dataValidationConfigSchema.parse(input.validation ?? {});
      const context = Context.current();
      const execution = context.info.workflowExecution;
      if (!execution) throw new Error('the validate activity must run inside a workflow');
      const folder = stageUri(deps.storeUri, 'validate');
      const statisticsUri = joinUri(folder, 'statistics.json');
      const reportUri = joinUri(folder, 'report.md');
      const anomaliesUri = joinUri(folder, 'anomalies.json');
      const notes: string[] = [];

      // Sharded ingest lists every shard; the single ingest names one file per split.
      const splits = [
        { name: 'train', shardUris: ingest.trainUris ?? (await listShardFiles(ingest.trainUri)) },
        { name: 'eval', shardUris: ingest.evalUris ?? (await listShardFiles(ingest.evalUri)) },
      ];
      const spec = await specOfIngest(ingest);
      const statistics = await computeStatistics(splits, {
        spec,
        concurrency: config.concurrency,
        onProgress: (progress) => context.heartbeat(progress),
      });
      await writeJson(statisticsUri, truncateVocabularies(statistics, config.vocabularyTopK));

      const anomalies = checkDataset(statistics, {
        dataUri: ingest.dataUri,
        rowsRead: ingest.rowsRead,
        quarantinedRows: ingest.quarantinedRows,
        quarantineReasons: ingest.quarantineReasons,
        quarantineUri: ingest.quarantineUri,
        maxBadRowFraction: input.maxBadRowFraction,
        minRows: input.minRows,
      });
      const datasetFailed = anomalies.some((anomaly) => anomaly.severity === 'critical');

      let schema: DatasetSchema | undefined;
      let schemaCreated = false;
      const { modelName } = input;
      const schemaUri = modelName === undefined ? undefined : schemaUriFor(deps.storeUri, modelName);
      if (modelName === undefined || schemaUri === undefined) {
        notes.push('schema not checked: no model name was given');
      } else if (datasetFailed) {
        // A dataset that failed is checked against an existing schema, never made into one.
        schema = await readSchema(schemaUri);
        if (!schema) notes.push(`no schema inferred for ${modelName}: this dataset failed validation`);
      } else {
        const { workflowId, runId } = execution;
        const candidate = inferSchema(statistics, {
          model: modelName,
          maxDomainSize: config.maxDomainSize,
          inferredFrom: {
            dataUri: ingest.dataUri,
            fingerprint: ingest.fingerprint,
            workflowId,
            runId,
            at: new Date().toISOString(),
          },
        });
        schema = await ensureSchema(schemaUri, candidate);
        // A retry of the run that created it created it too.
        schemaCreated = schema.inferredFrom.workflowId === workflowId && schema.inferredFrom.runId === runId;
      }
      if (schema && schemaUri) {
        anomalies.push(
          ...checkAgainstSchema(statistics, schema, {
            outOfVocabulary: config.outOfVocabulary,
            outOfRange: config.outOfRange,
            schemaUri,
            spec,
          }),
        );
      }

      let drift: DriftResult | undefined;
      if (input.baselineStatisticsUri) {
        const baseline = await readBaseline(input.baselineStatisticsUri);
        if (typeof baseline === 'string') {
          anomalies.push({
            severity: 'warning',
            kind: 'drift_not_measured',
            message: `drift from the production model's training data not measured: ${baseline}`,
          });
        } else {
          drift = measureDrift(baseline, statistics, config.drift);
          anomalies.push(...driftAnomalies(drift, config.drift));
        }
      }

      let schemaChanges: string[] | undefined;
      if (input.expectedShift && schema && !schemaCreated) {
        schemaChanges = widenSchema(schema, truncateVocabularies(statistics, config.vocabularyTopK), {
          maxDomainSize: config.maxDomainSize,
        }).changes;
        notes.push(
          schemaChanges.length > 0
            ? `the schema widens when this version reaches production: ${schemaChanges.join('; ')}`
            : 'the data fits the schema: nothing to widen',
        );
      }
      const sorted = sortAnomalies(
        input.expectedShift ? expectShift(anomalies, input.expectedShift.reason) : anomalies,
      );
      await writeJson(anomaliesUri, { anomalies: sorted, drift, statisticsUri, schemaUri });
      await storageFor(reportUri).write(
        reportUri,
        validationReportMarkdown({
          dataUri: ingest.dataUri,
          statistics,
          statisticsUri,
          anomalies: sorted,
          rowsRead: ingest.rowsRead,
          quarantinedRows: ingest.quarantinedRows,
          quarantineUri: ingest.quarantineUri,
          ...(schemaUri && schema ? { schemaUri } : {}),
          schemaCreated,
          ...(input.baselineStatisticsUri ? { baselineStatisticsUri: input.baselineStatisticsUri } : {}),
          ...(drift ? { drift } : {}),
          notes,
        }),
      );

      const critical = sorted.filter((anomaly) => anomaly.severity === 'critical');
      if (critical.length > 0) {
        const problems = critical.map((anomaly) => anomaly.message);
        throw ApplicationFailure.create({
          nonRetryable: true,
          type: FAILURE.DataValidationFailed,
          message: `Data validation failed for ${ingest.dataUri}: ${problems.join('; ')}. Report: ${reportUri}`,
          details: [{ problems, anomalies: critical, reportUri, statisticsUri, anomaliesUri }],
        });
      }
      const warnings = sorted.slice(0, MAX_RETURNED_ANOMALIES);
      return {
        statisticsUri,
        reportUri,
        anomaliesUri,
        ...(schemaUri && schema ? { schemaUri } : {}),
        schemaCreated,
        rowsRead: ingest.rowsRead,
        validRows: statistics.rows,
        badRows: ingest.quarantinedRows,
        badRowFraction: ingest.rowsRead === 0 ? 0 : ingest.quarantinedRows / ingest.rowsRead,
        clickRate: statistics.positiveRate,
        warnings: warnings.map((anomaly) => anomaly.message),
        anomalies: warnings,
        omittedWarnings: sorted.length - warnings.length,
        ...(drift && input.baselineStatisticsUri
          ? {
              drift: {
                baselineStatisticsUri: input.baselineStatisticsUri,
                measured: drift.measured,
                ...(drift.skippedReason ? { skippedReason: drift.skippedReason } : {}),
                features: drift.features,
              },
            }
          : {}),
        ...(schemaChanges ? { schemaChanges } : {}),
      };
    },
  };
}
