/**
 * The true click probabilities a synthetic dataset ships beside ads.csv (`ground_truth.csv`, columns
 * `ad_id,click_probability`), which give the best AUC any model can reach on the same rows.
 */
import path from 'node:path';
import { parse } from 'csv-parse';
import { joinUri, NotFoundError, storageFor } from '../../lib/storage/index';

/** The ground-truth file's name, in the folder of ads.csv. */
export const GROUND_TRUTH_FILE = 'ground_truth.csv';
/** Its columns, as `mlops data generate` writes them. */
export const GROUND_TRUTH_COLUMNS = ['ad_id', 'click_probability'] as const;

/** A ground-truth file that exists but cannot be used; evaluation goes on without it. */
export class GroundTruthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GroundTruthError';
  }
}

/** Where the ground truth of a dataset lives: its folder, or the folder of the CSV it names. */
export function groundTruthUriOf(dataUri: string): string {
  const dataDir = dataUri.endsWith('.csv') ? path.posix.dirname(dataUri) : dataUri;
  return joinUri(dataDir, GROUND_TRUTH_FILE);
}

/**
 * The true click probability of each of `adIds` the file lists, streamed so that only those are
 * held; undefined when the file does not exist. Throws GroundTruthError for a wrong header or a
 * probability outside [0, 1].
 */
export async function readGroundTruth(
  uri: string,
  adIds: ReadonlySet<string>,
): Promise<Map<string, number> | undefined> {
  const storage = storageFor(uri);
  let stream;
  try {
    stream = await storage.createReadStream(uri);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
  const probabilities = new Map<string, number>();
  const parser = stream.pipe(parse({ bom: true, skip_empty_lines: true, trim: true }));
  let line = 0;
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      line++;
      if (line === 1) {
        if (record.join(',') !== GROUND_TRUTH_COLUMNS.join(',')) {
          throw new GroundTruthError(
            `${uri} has the header "${record.join(',')}", expected "${GROUND_TRUTH_COLUMNS.join(',')}"`,
          );
        }
        continue;
      }
      const [adId, text] = record;
      if (adId === undefined || !adIds.has(adId)) continue;
      const probability = Number(text);
      if (text === undefined || text === '' || !(probability >= 0 && probability <= 1)) {
        throw new GroundTruthError(
          `${uri} line ${line}: click_probability of ${adId} must be a number in [0, 1], got ${JSON.stringify(text ?? '')}`,
        );
      }
      probabilities.set(adId, probability);
    }
  } catch (err) {
    if (err instanceof GroundTruthError) throw err;
    // csv-parse's own errors (an unclosed quote, a ragged row) make the file unusable, not the storage.
    if (err instanceof Error && 'code' in err && String(err.code).startsWith('CSV_')) {
      throw new GroundTruthError(`${uri} is not valid CSV: ${err.message}`);
    }
    throw err;
  } finally {
    stream.destroy();
  }
  return probabilities;
}
