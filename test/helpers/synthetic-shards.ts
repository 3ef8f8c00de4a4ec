/**
 * A synthetic dataset turned straight into train/eval shards (1-pixel images), with the
 * IngestResult ingest would give: validation tests get thousands of rows in a second without
 * depending on ingest. Removed on close.
 */
import { ADS_FEATURE_SPEC } from '../../lib/dataset/synthetic-spec';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import type { IngestResult } from '../../contracts/ingest';
import type { AdExample } from '../../lib/dataset/schema';
import { writeShard } from '../../lib/dataset/shards';
import { generateDataset } from '../../lib/dataset/synthetic';

export interface SyntheticShardsOptions {
  rows: number;
  seed: number;
  drift?: boolean;
  /** Changes rows before they are written (a new advertiser, an out-of-range value). */
  mutate?: (example: AdExample, index: number) => AdExample;
}

export interface SyntheticShards extends AsyncDisposable {
  dir: string;
  ingest: IngestResult;
  close(): Promise<void>;
}

export async function makeSyntheticShards(options: SyntheticShardsOptions): Promise<SyntheticShards> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-synthetic-shards-'));
  const close = () => fs.rm(dir, { recursive: true, force: true });
  try {
    const generated = await generateDataset({
      outDir: path.join(dir, 'data'),
      rows: options.rows,
      seed: options.seed,
      drift: options.drift ?? false,
      imageSize: 16,
    });
    const csv = parse<Record<string, string>>(await fs.readFile(generated.csvPath), { columns: true });
    const examples = csv.map((row, index): AdExample => {
      const example: AdExample = {
        ad_id: row.ad_id!,
        advertiser: row.advertiser!,
        category: row.category!,
        placement: row.placement!,
        device: row.device!,
        hour: Number(row.hour),
        headline_length: Number(row.headline_length),
        clicked: Number(row.clicked),
        pixels: new Uint8Array(3),
      };
      return options.mutate ? options.mutate(example, index) : example;
    });
    const trainUri = path.join(dir, 'train.arrow');
    const evalUri = path.join(dir, 'eval.arrow');
    const train = examples.filter((_, index) => index % 5 !== 0);
    const evaluation = examples.filter((_, index) => index % 5 === 0);
    await writeShard(trainUri, train, { imageSize: 1, spec: ADS_FEATURE_SPEC });
    await writeShard(evalUri, evaluation, { imageSize: 1, spec: ADS_FEATURE_SPEC });
    const ingest: IngestResult = {
      dataUri: path.join(dir, 'data'),
      trainUri,
      evalUri,
      quarantineUri: path.join(dir, 'quarantine.jsonl'),
      imageSize: 1,
      rowsRead: examples.length,
      trainRows: train.length,
      evalRows: evaluation.length,
      quarantinedRows: 0,
      quarantineReasons: {},
      schemaVersion: 1,
      fingerprint: `synthetic-${options.seed}${options.drift ? '-drift' : ''}`,
    };
    return { dir, ingest, close, [Symbol.asyncDispose]: close };
  } catch (err) {
    await close();
    throw err;
  }
}
