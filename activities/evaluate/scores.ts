/**
 * Scores an eval split for evaluation without holding it: shards are streamed record batch by
 * record batch, each batch is scored by the candidate (and production) model, and only what the
 * metrics need per row is kept (label, scores, slice values, id), never pixels or tensors. The
 * labels, ids and slice columns are the candidate's feature spec's.
 */
import { idOf, labelOf } from '../../lib/dataset/example';
import { streamShard, type ShardChunk } from '../../lib/dataset/shards';
import type { ModelBundle } from '../../lib/model/index';
import { predictProbabilities } from '../../lib/model/predict';
import { prefetch } from '../../lib/model/prefetch';

/** The slice value of rows whose slice column is missing. */
export const MISSING_SLICE_VALUE = '(missing)';

/** How far scoring has got, reported after every record batch (for heartbeats). */
export interface EvalScoringProgress {
  /** Rows scored so far, over every shard. */
  rows: number;
  /** Index of the shard being read, and how many there are. */
  shard: number;
  shards: number;
}

export interface ScoreEvalSplitOptions {
  /** The split's shards, read in this order; rows keep it. */
  shardUris: readonly string[];
  candidate: ModelBundle;
  /** Scored beside the candidate; a failure drops its scores (see EvalScores.productionError), not the run. */
  production?: ModelBundle;
  /** Categorical columns kept per row, to slice metrics by (a missing value reads as "(missing)"). */
  sliceFeatures: readonly string[];
  onProgress?: (progress: EvalScoringProgress) => void;
  /** Checked between record batches; scoring throws its reason once aborted. */
  signal?: AbortSignal;
  /** Reads a shard chunk by chunk; streamShard unless a test says otherwise. */
  read?: (uri: string) => AsyncIterable<ShardChunk>;
}

/** Per eval row, in shard order: everything evaluation computes its metrics from. */
export interface EvalScores {
  rows: number;
  labels: Float64Array;
  /** Each row's id; empty when the spec has no id column. */
  adIds: string[];
  /** The row's value of each slice feature. */
  sliceValues: Record<string, string[]>;
  candidate: Float32Array;
  /** Absent without a production model, or when it failed to score a batch. */
  production?: Float32Array;
  /** Why production has no scores although a model was given. */
  productionError?: Error;
}

/** Typed-array chunks joined once at the end, since a split's row count is known only after reading it. */
function concat<T extends Float32Array | Float64Array>(
  chunks: readonly T[],
  rows: number,
  make: (rows: number) => T,
): T {
  const joined = make(rows);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  return joined;
}

/**
 * Streams the split's shards (the next record batch read while this one is scored) and scores each
 * batch with both models, so memory is a record batch or two plus O(rows) scalars whatever the
 * split's size. Each row's score does not depend on the rows batched with it, so the scores equal
 * those of predictProbabilities over the whole split (bit for bit on the CPU backend, which the tests check).
 */
export async function scoreEvalSplit(options: ScoreEvalSplitOptions): Promise<EvalScores> {
  const { shardUris, candidate, sliceFeatures, signal } = options;
  const read = options.read ?? streamShard;
  let production = options.production;
  let productionError: Error | undefined;
  const labels: Float64Array[] = [];
  const candidateScores: Float32Array[] = [];
  const productionScores: Float32Array[] = [];
  const adIds: string[] = [];
  const spec = candidate.preprocessing.spec;
  const sliceValues: Record<string, string[]> = Object.fromEntries(
    sliceFeatures.map((feature) => [feature, []]),
  );
  // Decoding gives every row its own copy of a categorical string; a handful of shared ones suffice.
  const interned = new Map<string, string>();
  const intern = (value: string) => {
    const known = interned.get(value);
    if (known !== undefined) return known;
    interned.set(value, value);
    return value;
  };
  let rows = 0;

  for (const [shard, uri] of shardUris.entries()) {
    for await (const { examples } of prefetch(read(uri))) {
      signal?.throwIfAborted();
      candidateScores.push(await predictProbabilities(candidate, examples));
      if (production) {
        try {
          productionScores.push(await predictProbabilities(production, examples));
        } catch (err) {
          productionError = err as Error;
          production = undefined;
          productionScores.length = 0;
        }
      }
      labels.push(Float64Array.from(examples, (example) => labelOf(example, spec)));
      for (const example of examples) {
        const id = idOf(example, spec);
        if (id !== undefined) adIds.push(id);
        for (const feature of sliceFeatures) {
          const value = example[feature];
          sliceValues[feature]!.push(intern(typeof value === 'string' ? value : MISSING_SLICE_VALUE));
        }
      }
      rows += examples.length;
      options.onProgress?.({ rows, shard, shards: shardUris.length });
    }
  }

  const scores: EvalScores = {
    rows,
    labels: concat(labels, rows, (n) => new Float64Array(n)),
    adIds,
    sliceValues,
    candidate: concat(candidateScores, rows, (n) => new Float32Array(n)),
  };
  if (options.production && !productionError) {
    scores.production = concat(productionScores, rows, (n) => new Float32Array(n));
  }
  if (productionError) scores.productionError = productionError;
  return scores;
}
