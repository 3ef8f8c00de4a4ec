/**
 * Datasets that are not the synthetic ads, each in a fresh temp dir: copies of the real public
 * samples in ../shared/datasets, and a generated review dataset unlike the ads in every way
 * (semicolons, a label named with spaces and valued yes/no, free text, blanks, JPEG photos of
 * mixed sizes and aspects, an id with spaces in its name).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { createRandom } from '../../lib/dataset/random';

/** ../shared/datasets beside the repository, as CI has it. */
export const SHARED_DATASETS = path.resolve(__dirname, '..', '..', '..', 'shared', 'datasets');

/** The census sample's 43 column names, in order (from ../shared/datasets/README.md). */
export const CENSUS_COLUMNS = [
  'row',
  ...'age,class_worker,det_ind_code,det_occ_code,education,wage_per_hour,hs_college,marital_stat,major_ind_code,major_occ_code,race,hisp_origin,sex,union_member,unemp_reason,full_or_part_emp,capital_gains,capital_losses,stock_dividends,tax_filer_stat,region_prev_res,state_prev_res,det_hh_fam_stat,det_hh_summ,instance_weight,mig_chg_msa,mig_chg_reg,mig_move_reg,mig_same,mig_prev_sunbelt,num_emp,fam_under_18,country_father,country_mother,country_self,citizenship,own_or_self,vet_question,vet_benefits,weeks_worked,year,income_50k'.split(
    ',',
  ),
];

export interface TempDataset extends AsyncDisposable {
  dir: string;
  /** The CSV file's path. */
  csv: string;
  close(): Promise<void>;
}

async function tempDir(prefix: string): Promise<{ dir: string; close: () => Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, close: () => fs.rm(dir, { recursive: true, force: true }) };
}

/** Copies a file of ../shared/datasets (never edited in place) into a temp dir. */
export async function copySharedDataset(relativeFile: string): Promise<TempDataset> {
  const { dir, close } = await tempDir('mlops-shared-dataset-');
  const csv = path.join(dir, path.basename(relativeFile));
  await fs.copyFile(path.join(SHARED_DATASETS, relativeFile), csv);
  return { dir, csv, close, [Symbol.asyncDispose]: close };
}

const WORDS =
  'great awful fast slow friendly rude clean dirty cheap pricey quiet noisy fresh stale tasty bland warm cold bright dim'.split(
    ' ',
  );
const CITIES = ['Lisbon', 'Oslo', 'Quito', 'Osaka', 'Accra'];
export const REVIEW_COLUMNS = [
  'review id',
  'review text',
  'stars',
  'price',
  'city',
  'photo',
  'Would Recommend',
];

export interface ReviewDatasetOptions {
  rows?: number;
  seed?: number;
  /** Photo files to leave out (their rows keep the path). */
  missingPhotos?: number;
}

/**
 * `reviews.csv` (semicolon-delimited) with `photos/*.jpg`. The label is "yes" mostly when the text
 * is positive, so a model can learn it; 1 row in 8 has no price and 1 in 10 no city.
 */
export async function makeReviewDataset(options: ReviewDatasetOptions = {}): Promise<TempDataset> {
  const rows = options.rows ?? 80;
  const random = createRandom(options.seed ?? 7);
  const { dir, close } = await tempDir('mlops-review-dataset-');
  await fs.mkdir(path.join(dir, 'photos'));
  const lines = [REVIEW_COLUMNS.join(';')];
  for (let i = 0; i < rows; i++) {
    const words = Array.from(
      { length: 4 + Math.floor(random() * 8) },
      () => WORDS[Math.floor(random() * WORDS.length)]!,
    );
    const positive = words.filter((word) => WORDS.indexOf(word) % 2 === 0).length;
    const recommend = positive * 2 > words.length ? random() < 0.85 : random() < 0.2;
    const stars = String(1 + Math.floor(random() * 5));
    const price = i % 8 === 3 ? '' : (5 + random() * 50).toFixed(2);
    const city = i % 10 === 5 ? '' : CITIES[Math.floor(random() * CITIES.length)]!;
    const photo = `photos/r${i}.jpg`;
    if (i >= (options.missingPhotos ?? 0)) {
      // Mixed sizes and aspects, as real photos are.
      const width = 24 + ((i * 7) % 40);
      const height = 16 + ((i * 11) % 50);
      await sharp({
        create: {
          width,
          height,
          channels: 3,
          background: { r: (i * 37) % 256, g: recommend ? 200 : 40, b: 90 },
        },
      })
        .jpeg()
        .toFile(path.join(dir, photo));
    }
    lines.push(
      [`R-${1000 + i}`, `"${words.join(' ')}"`, stars, price, city, photo, recommend ? 'yes' : 'no'].join(
        ';',
      ),
    );
  }
  const csv = path.join(dir, 'reviews.csv');
  await fs.writeFile(csv, `${lines.join('\n')}\n`);
  return { dir, csv, close, [Symbol.asyncDispose]: close };
}
