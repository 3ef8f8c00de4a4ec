/**
 * The demo's "bad candidate" data: the same ads with every label flipped, as an upstream bug
 * might deliver them. Offline evaluation on the same broken data cannot tell; live feedback can.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { AD_COLUMNS } from './schema';

/** Writes `outDir/ads.csv`: `sourceDir`'s rows with clicked flipped and image paths made absolute. */
export async function writeFlippedLabelDataset(sourceDir: string, outDir: string): Promise<void> {
  const rows = parse<Record<string, string>>(await fs.readFile(path.join(sourceDir, 'ads.csv')), {
    columns: true,
    relax_column_count: true,
  });
  const flipped = rows.map((row) => ({
    ...row,
    image: path.resolve(sourceDir, row.image ?? ''),
    clicked: row.clicked === '1' ? '0' : row.clicked === '0' ? '1' : row.clicked,
  }));
  await fs.mkdir(outDir, { recursive: true });
  await fs.writeFile(
    path.join(outDir, 'ads.csv'),
    stringify(flipped, { header: true, columns: [...AD_COLUMNS] }),
  );
}
