/** Builds prediction requests from a dataset folder: the ads' features plus their images in base64. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { adRowSchema, type AdFeatures } from '../dataset/schema';

export interface TrafficSample {
  adId: string;
  instance: AdFeatures & { image_b64: string };
}

/** Reads up to `limit` valid rows of `dataDir/ads.csv` with their images; bad rows are skipped. */
export async function loadTrafficSamples(dataDir: string, limit = 64): Promise<TrafficSample[]> {
  const records = parse<Record<string, string>>(await fs.readFile(path.join(dataDir, 'ads.csv')), {
    columns: true,
    relax_column_count: true,
  });
  const samples: TrafficSample[] = [];
  for (const record of records) {
    if (samples.length >= limit) break;
    const row = adRowSchema.safeParse(record);
    if (!row.success) continue;
    const image = await fs.readFile(path.join(dataDir, row.data.image)).catch(() => undefined);
    if (!image) continue;
    const { advertiser, category, placement, device, hour, headline_length } = row.data;
    samples.push({
      adId: row.data.ad_id,
      instance: {
        advertiser,
        category,
        placement,
        device,
        hour,
        headline_length,
        image_b64: image.toString('base64'),
      },
    });
  }
  if (samples.length === 0) throw new Error(`no usable rows for traffic in ${dataDir}/ads.csv`);
  return samples;
}
