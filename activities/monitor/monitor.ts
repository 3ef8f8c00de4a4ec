/**
 * Production monitoring: reads the prediction and feedback log parts the prediction servers wrote since
 * the monitor's cursor, measures live log loss and AUC of the production version from the joined
 * feedback records, and drift of the live inputs against the production model's training statistics.
 */
import { Context, log } from '@temporalio/activity';
import { Float64, Int32, Utf8, vectorFromArray, type DataType } from 'apache-arrow';
import type { DriftResult } from '../../contracts/drift';
import type { FeatureSpec } from '../../contracts/feature-spec';
import { measureDrift } from '../../lib/dataset/drift';
import { FeatureAccumulator } from '../../lib/dataset/feature-accumulator';
import { specOfIngest } from '../../lib/dataset/feature-spec-file';
import {
  STATISTICS_FORMAT,
  type DatasetStatistics,
  type FeatureStatistics,
} from '../../lib/dataset/statistics';
import { computeAuc, computeLogLoss, hasBothClasses } from '../../lib/model/metrics';
import { ModelRegistry } from '../../lib/registry/index';
import { joinUri, readJsonIfExists, storageFor } from '../../lib/storage/index';
import type {
  FeedbackLogRecord,
  LogStream,
  PredictionLogRecord,
} from '../../lib/traffic/prediction-log-records';
import type {
  LogCursor,
  MeasureHealthInput,
  MonitorMeasurement,
  MonitorTrigger,
  RecordAlertInput,
} from '../../contracts/monitor';
import type { ActivityDeps } from '../deps';

/** The live inputs compared with training: the spec's categorical and numeric columns (the log has no image). */
function driftColumns(spec: FeatureSpec): string[] {
  return spec.features
    .filter((feature) => feature.kind === 'categorical' || feature.kind === 'numeric')
    .map((feature) => feature.column);
}

/** `<day>/<hh>` of a part's path relative to its stream folder, e.g. `2026-11-25/21-r1-000003.jsonl`. */
function hourOf(relative: string): string {
  const [day = '', file = ''] = relative.split('/');
  return `${day}/${file.slice(0, 2)}`;
}

/** Parts of one stream not yet read: hours before the cursor's are done, later ones by name. */
async function newParts(storeUri: string, model: string, stream: LogStream, cursor: LogCursor) {
  const root = joinUri(storeUri, 'logs', model, stream);
  const seen = new Set(cursor.seen);
  // A part's name starts with its hour (`<day>/<hh>-`), so listing from the cursor's hour skips every
  // closed day and hour, however long the log: the store lists only the open hours and anything later
  // (whatever the clocks say, and all days since the cursor if the monitor was down). '' lists everything.
  const uris = await storageFor(root).listFrom(root, cursor.hour);
  return uris
    .map((uri) => ({ uri, relative: uri.slice(root.length + 1) }))
    .filter(({ relative }) => relative.endsWith('.jsonl') && hourOf(relative) >= cursor.hour)
    .filter(({ relative }) => !seen.has(relative));
}

async function readRecords<T>(uris: string[]): Promise<T[]> {
  const records: T[] = [];
  for (const uri of uris) {
    const text = (await storageFor(uri).read(uri)).toString('utf8');
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        records.push(JSON.parse(line) as T);
      } catch {
        // A torn line cannot happen (parts are written whole); a hand-edited one is skipped, not fatal.
      }
    }
  }
  return records;
}

/**
 * The cursor after reading `parts`: hours older than two hours are closed (a replica flushes every second),
 * so only names within the open hours are remembered and the cursor stays small.
 */
function advance(cursor: LogCursor, parts: Array<{ relative: string }>, now: Date): LogCursor {
  const closed = new Date(now.getTime() - 2 * 3600_000).toISOString();
  const hour = `${closed.slice(0, 10)}/${closed.slice(11, 13)}`;
  const next = hour > cursor.hour ? hour : cursor.hour;
  const seen = [...cursor.seen, ...parts.map((part) => part.relative)].filter((r) => hourOf(r) >= next);
  return { hour: next, seen: [...new Set(seen)].sort() };
}

function arrowTypeFor(feature: FeatureStatistics): { type: DataType; name: string } {
  if (feature.type === 'int') return { type: new Int32(), name: 'Int32' };
  if (feature.type === 'float') return { type: new Float64(), name: 'Float64' };
  return { type: new Utf8(), name: 'Utf8' };
}

/** Statistics of the live inputs in the baseline's feature types, so measureDrift compares like with like. */
function liveStatistics(
  records: PredictionLogRecord[],
  baseline: DatasetStatistics,
  columns: readonly string[],
): DatasetStatistics {
  const features: Record<string, FeatureStatistics> = {};
  for (const name of columns) {
    const before = baseline.features[name];
    if (!before) continue;
    const { type, name: typeName } = arrowTypeFor(before);
    const values = records.map((record) => {
      const value = record.features[name];
      if (typeof value !== 'number' && typeof value !== 'string') return null;
      return before.type === 'int' || before.type === 'float' ? Number(value) : String(value);
    });
    const accumulator = new FeatureAccumulator(before.type, typeName, false);
    accumulator.addVector(vectorFromArray(values as never[], type), before.type, typeName);
    features[name] = accumulator.result(records.length);
  }
  return {
    format: STATISTICS_FORMAT,
    rows: records.length,
    label: baseline.label,
    labelCounts: {},
    positiveRate: 0,
    splits: {},
    features,
  };
}

function round(value: number): number {
  return Math.round(value * 1e4) / 1e4;
}

/** Creates the monitoring activities over the store the prediction servers log to. */
export function createMonitorActivities(deps: Pick<ActivityDeps, 'storeUri'>) {
  const registry = new ModelRegistry(deps.storeUri);

  return {
    /**
     * One measurement: quality from feedback and drift from predictions since the cursors. A stream's
     * cursor only moves once it had enough records to measure, so sparse traffic accumulates across
     * intervals instead of being measured on a handful of rows. Idempotent: the record's name is keyed
     * by the monitor's run and iteration.
     */
    async measureModelHealth(input: MeasureHealthInput): Promise<MonitorMeasurement> {
      const { modelName, thresholds, drift: driftOptions } = input;
      const now = new Date();
      const production = await registry.getProduction(modelName);
      const triggers: MonitorTrigger[] = [];
      const notes: string[] = [];
      const measurement: MonitorMeasurement = {
        at: now.toISOString(),
        modelName,
        iteration: input.iteration,
        ...(production ? { productionVersion: production.version } : {}),
        predictionsCursor: input.predictionsCursor,
        feedbackCursor: input.feedbackCursor,
        predictions: 0,
        labels: 0,
        triggers,
        notes,
      };
      if (!production) {
        notes.push(`${modelName} has no production version yet; nothing to monitor`);
        return measurement;
      }

      const feedbackParts = await newParts(deps.storeUri, modelName, 'feedback', input.feedbackCursor);
      const feedback = (await readRecords<FeedbackLogRecord>(feedbackParts.map((p) => p.uri))).filter(
        (record) => record.version === production.version,
      );
      measurement.labels = feedback.length;
      if (feedback.length >= thresholds.minLabels) {
        const labels = feedback.map((record) => record.clicked);
        const scores = feedback.map((record) => record.click_probability);
        const logLoss = round(computeLogLoss(labels, scores));
        measurement.logLoss = logLoss;
        if (hasBothClasses(labels)) measurement.auc = round(computeAuc(labels, scores));
        if (thresholds.maxLogLoss !== undefined && logLoss > thresholds.maxLogLoss)
          triggers.push({
            kind: 'log-loss',
            message: `live log loss ${logLoss} of ${modelName} v${production.version} over ${labels.length} labels > ${thresholds.maxLogLoss} (thresholds.maxLogLoss)`,
          });
        if (
          thresholds.minAuc !== undefined &&
          measurement.auc !== undefined &&
          measurement.auc < thresholds.minAuc
        )
          triggers.push({
            kind: 'auc',
            message: `live AUC ${measurement.auc} of ${modelName} v${production.version} over ${labels.length} labels < ${thresholds.minAuc} (thresholds.minAuc)`,
          });
        measurement.feedbackCursor = advance(input.feedbackCursor, feedbackParts, now);
      } else {
        notes.push(
          `${feedback.length} new labels, quality needs ${thresholds.minLabels} (thresholds.minLabels)`,
        );
      }

      const predictionParts = await newParts(
        deps.storeUri,
        modelName,
        'predictions',
        input.predictionsCursor,
      );
      const predictions = (await readRecords<PredictionLogRecord>(predictionParts.map((p) => p.uri))).filter(
        (record) => record.version === production.version,
      );
      measurement.predictions = predictions.length;
      const statisticsUri = production.lineage.data.statisticsUri;
      const baseline = statisticsUri ? await readJsonIfExists<DatasetStatistics>(statisticsUri) : undefined;
      if (!baseline) {
        notes.push(
          `v${production.version} has no training statistics (lineage.data.statisticsUri); drift not measured`,
        );
        measurement.predictionsCursor = advance(input.predictionsCursor, predictionParts, now);
      } else if (predictions.length >= driftOptions.minRows) {
        // The version's own columns: its lineage's spec (the ads' for versions trained before specs).
        const columns = driftColumns(
          await specOfIngest({ featureSpecUri: production.lineage.data.featureSpecUri }),
        );
        const drift: DriftResult = measureDrift(
          baseline,
          liveStatistics(predictions, baseline, columns),
          driftOptions,
        );
        measurement.drift = drift.features.map((f) => ({
          ...f,
          value: round(f.value),
          noise: round(f.noise),
        }));
        notes.push(
          `drift measured on the logged inputs (${columns.join(', ')}); images and text are not compared`,
        );
        const drifted = drift.features.filter((f) => f.level === 'critical');
        if (drifted.length > 0)
          triggers.push({
            kind: 'drift',
            message:
              `drift of ${modelName}'s live inputs from v${production.version}'s training data over ${predictions.length} predictions: ` +
              drifted
                .map((f) => `${f.feature} ${f.metric} ${round(f.value)} (noise ${round(f.noise)})`)
                .join(', '),
          });
        measurement.predictionsCursor = advance(input.predictionsCursor, predictionParts, now);
      } else {
        notes.push(
          `${predictions.length} new predictions, drift needs ${driftOptions.minRows} (drift.minRows)`,
        );
      }

      const { workflowExecution } = Context.current().info;
      const runId = workflowExecution?.runId ?? 'no-run';
      const uri = joinUri(
        deps.storeUri,
        'monitoring',
        modelName,
        'measurements',
        measurement.at.slice(0, 10),
        `${runId}-${String(input.iteration).padStart(6, '0')}.jsonl`,
      );
      await storageFor(uri).write(uri, `${JSON.stringify(measurement)}\n`);
      return measurement;
    },

    /** Writes an alert file and a warning log line; keyed by run and iteration, so a retry rewrites the same file. */
    async recordMonitorAlert(input: RecordAlertInput): Promise<string> {
      const { workflowExecution } = Context.current().info;
      const runId = workflowExecution?.runId ?? 'no-run';
      const uri = joinUri(
        deps.storeUri,
        'monitoring',
        input.modelName,
        'alerts',
        input.at.slice(0, 10),
        `${runId}-${String(input.iteration).padStart(6, '0')}.json`,
      );
      await storageFor(uri).write(uri, JSON.stringify(input, null, 2));
      log.warn('model monitor alert', {
        model: input.modelName,
        triggers: input.triggers.map((t) => t.message),
        uri,
      });
      return uri;
    },
  };
}
