/**
 * Batch prediction: score every row of an ingested dataset with one registered model version.
 *
 * resolveBatchModel (control) turns `production` or a version number into a model URI and fixes
 * the output folder; predictShard (GPU) scores one ingested Arrow shard into
 * `predictions-NNNNN.jsonl` and then writes its done-marker; finishBatchPredict (control) writes
 * manifest.json. Every output lives at a URI fixed by the workflow id and shard index, so a retried
 * or re-run job finds finished shards (output plus a matching marker) and skips them.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type {
  BatchModel,
  BatchPredictManifest,
  FinishBatchPredictInput,
  PredictShardInput,
  PredictShardResult,
  ResolveBatchModelInput,
} from '../../contracts/batch-predict';
import { streamShard } from '../../lib/dataset/shards';
import {
  disposeModel,
  loadBundlePreprocessing,
  loadModelBundle,
  ModelBundleError,
  predictProbabilities,
} from '../../lib/model/index';
import { idOf } from '../../lib/dataset/example';
import { ModelRegistry, normalizeVersion } from '../../lib/registry/index';
import { joinUri, readJsonIfExists, storageFor, writeJson } from '../../lib/storage/index';
import type { ActivityDeps } from '../deps';
import { FAILURE } from '../../contracts/failures';

/** What a done-marker records: an output is reused only for the same input and model. */
interface DoneMarker {
  inputUri: string;
  modelUri: string;
  version: string;
  rows: number;
}

/** The predictions file of shard `index` under `outputUri`. */
export function predictionsUri(outputUri: string, index: number): string {
  return joinUri(outputUri, `predictions-${String(index).padStart(5, '0')}.jsonl`);
}

const doneMarkerUri = (uri: string) => `${uri}.done.json`;

/** Control-queue activities: resolving the model and writing the manifest. */
export function createPredictControlActivities(deps: Pick<ActivityDeps, 'storeUri'>) {
  const registry = new ModelRegistry(deps.storeUri);
  return {
    /** Resolves `production` or a version number to a registered model, its image size and the output folder. */
    async resolveBatchModel(input: ResolveBatchModelInput): Promise<BatchModel> {
      const wanted = input.version === 'production' ? 'production' : normalizeVersion(input.version);
      if (!wanted) {
        throw ApplicationFailure.create({
          nonRetryable: true,
          type: FAILURE.BadInput,
          message: `version must be a number like 3 or "production", got "${input.version}"`,
        });
      }
      const record =
        wanted === 'production'
          ? await registry.getProduction(input.model)
          : await registry.getVersion(input.model, wanted);
      if (!record) {
        throw ApplicationFailure.create({
          nonRetryable: true,
          type: FAILURE.UnknownModelVersion,
          message:
            wanted === 'production'
              ? `${input.model} has no production version; name one with --version (see mlops models list --model ${input.model})`
              : `${input.model} has no version ${wanted} in the registry (see mlops models list --model ${input.model})`,
        });
      }
      let preprocessing;
      try {
        preprocessing = await loadBundlePreprocessing(record.modelUri);
      } catch (err) {
        if (!(err instanceof ModelBundleError)) throw err;
        throw ApplicationFailure.create({
          nonRetryable: true,
          type: FAILURE.BadModel,
          message: `${input.model} v${record.version}: ${err.message}`,
        });
      }
      const workflowId = Context.current().info.workflowExecution?.workflowId ?? 'standalone';
      const outputUri = input.outputUri ?? joinUri(deps.storeUri, 'predictions', input.model, workflowId);
      // The rows are read by the spec the version was trained on, saved beside its predictions.
      const featureSpecUri = joinUri(outputUri, 'features.json');
      await writeJson(featureSpecUri, preprocessing.spec);
      return {
        model: record.model,
        version: record.version,
        modelUri: record.modelUri,
        imageSize: preprocessing.imageSize,
        outputUri,
        featureSpecUri,
      };
    },

    /** Writes manifest.json listing every shard's predictions; the job's result. */
    async finishBatchPredict(
      input: FinishBatchPredictInput,
    ): Promise<BatchPredictManifest & { manifestUri: string }> {
      const manifest: BatchPredictManifest = {
        model: input.model,
        version: input.version,
        modelUri: input.modelUri,
        dataUri: input.dataUri,
        rows: input.shards.reduce((sum, shard) => sum + shard.rows, 0),
        shards: input.shards.map(({ shardIndex, inputUri, predictionsUri, rows }) => ({
          shardIndex,
          inputUri,
          predictionsUri,
          rows,
        })),
        skipped: input.skipped ?? { rows: 0, reasons: {}, quarantineUris: [] },
      };
      const manifestUri = joinUri(input.outputUri, 'manifest.json');
      await writeJson(manifestUri, manifest);
      return { ...manifest, manifestUri };
    },
  };
}

/** GPU-queue activity: scoring one shard. */
export function createPredictGpuActivities() {
  return {
    /**
     * Scores one ingested shard and writes its predictions, then its done-marker; skips the work
     * when both already exist for the same input and model.
     */
    async predictShard(input: PredictShardInput): Promise<PredictShardResult> {
      const outUri = predictionsUri(input.outputUri, input.shardIndex);
      const result = { shardIndex: input.shardIndex, inputUri: input.inputUri, predictionsUri: outUri };
      const done = await readJsonIfExists<DoneMarker>(doneMarkerUri(outUri));
      if (
        done?.inputUri === input.inputUri &&
        done.modelUri === input.modelUri &&
        (await storageFor(outUri).exists(outUri))
      ) {
        return { ...result, rows: done.rows, reused: true };
      }
      const bundle = await loadModelBundle(input.modelUri);
      Context.current().heartbeat({ shardIndex: input.shardIndex, rows: 0 });
      const lines: string[] = [];
      try {
        const { spec } = bundle.preprocessing;
        for await (const chunk of streamShard(input.inputUri)) {
          const probabilities = await predictProbabilities(bundle, chunk.examples);
          chunk.examples.forEach((example, i) => {
            // Each row named by its id (or its place in the shard), its score by the spec's output name.
            const id = idOf(example, spec);
            lines.push(
              JSON.stringify({
                ...(spec.id && id !== undefined ? { [spec.id]: id } : { row: lines.length }),
                [spec.output]: probabilities[i],
                model_version: input.version,
              }),
            );
          });
          Context.current().heartbeat({ shardIndex: input.shardIndex, rows: lines.length });
        }
      } finally {
        disposeModel(bundle.model);
      }
      // Storage writes are atomic, and the marker follows the data: a crash between them only redoes this shard.
      await storageFor(outUri).write(outUri, lines.length ? `${lines.join('\n')}\n` : '');
      const marker: DoneMarker = {
        inputUri: input.inputUri,
        modelUri: input.modelUri,
        version: input.version,
        rows: lines.length,
      };
      await writeJson(doneMarkerUri(outUri), marker);
      return { ...result, rows: lines.length, reused: false };
    },
  };
}
