import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'csv-parse/sync';
import { decodeAdImage } from '../../../lib/dataset/image';
import { AD_COLUMNS, adRowSchema } from '../../../lib/dataset/schema';
import { CORRUPTION_KINDS, generateDataset } from '../../../lib/dataset/synthetic';
import { computeAuc } from '../../../lib/model/metrics';
import { makeTinyDataset, type TinyDataset } from '../../helpers/tiny-dataset';

type Record_ = Record<string, string>;

async function readCsv(file: string): Promise<Record_[]> {
  // relax_column_count: a corrupted row may be short, and the test wants to see it, not a parse error.
  return parse<Record_>(await fs.readFile(file), { columns: true, relax_column_count: true });
}

const luma = (pixels: Uint8Array, offset: number) =>
  (0.299 * pixels[offset]! + 0.587 * pixels[offset + 1]! + 0.114 * pixels[offset + 2]!) / 255;

/** CTA-to-background contrast read from the pixels of a 16×16 decode: the model's own view. */
async function visibleContrast(dir: string, image: string): Promise<number> {
  const pixels = await decodeAdImage(await fs.readFile(path.join(dir, image)), 16);
  const background = luma(pixels, 0);
  const button = luma(pixels, (12 * 16 + 8) * 3);
  return Math.abs(button - background);
}

void describe('generateDataset', () => {
  void it('gives byte-identical files for the same seed and different ones for another seed', async () => {
    await using first = await makeTinyDataset({ rows: 30, seed: 7, corrupt: 3 });
    await using second = await makeTinyDataset({ rows: 30, seed: 7, corrupt: 3 });
    await using other = await makeTinyDataset({ rows: 30, seed: 8, corrupt: 3 });
    const read = (dir: string, name: string) => fs.readFile(path.join(dir, name));
    for (const name of ['ads.csv', 'ground_truth.csv', 'images/ad-000001.png', 'images/ad-000030.png']) {
      assert.deepEqual(await read(first.dir, name), await read(second.dir, name), name);
    }
    assert.deepEqual(first.result.corrupted, second.result.corrupted);
    assert.notDeepEqual(await read(first.dir, 'ads.csv'), await read(other.dir, 'ads.csv'));
    assert.notDeepEqual(await read(first.dir, 'ground_truth.csv'), await read(other.dir, 'ground_truth.csv'));
  });

  void it('writes the documented header and one decodable image per row', async () => {
    await using tiny = await makeTinyDataset({ rows: 25 });
    const header = (await fs.readFile(tiny.result.csvPath, 'utf8')).split('\n')[0];
    assert.equal(header, AD_COLUMNS.join(','));
    const rows = await readCsv(tiny.result.csvPath);
    assert.equal(rows.length, 25);
    assert.equal((await fs.readdir(path.join(tiny.dir, 'images'))).length, 25);
    for (const row of rows) {
      assert.match(row.image!, /^images\/ad-\d{6}\.png$/);
      const pixels = await decodeAdImage(await fs.readFile(path.join(tiny.dir, row.image!)), 32);
      assert.equal(pixels.length, 32 * 32 * 3);
      assert.ok(adRowSchema.safeParse(row).success, `row ${row.ad_id} should be valid`);
    }
    const truth = await readCsv(tiny.result.groundTruthPath);
    assert.deepEqual(Object.keys(truth[0]!), ['ad_id', 'click_probability']);
    assert.deepEqual(
      truth.map((row) => row.ad_id),
      rows.map((row) => row.ad_id),
    );
    for (const row of truth)
      assert.ok(Number(row.click_probability) > 0 && Number(row.click_probability) < 1);
  });

  void it('corrupts exactly K rows, each in a detectable way, and leaves the others untouched', async () => {
    await using clean = await makeTinyDataset({ rows: 40, seed: 3 });
    await using dirty = await makeTinyDataset({ rows: 40, seed: 3, corrupt: 16 });
    const { corrupted } = dirty.result;
    assert.equal(corrupted.length, 16);
    assert.equal(new Set(corrupted.map((row) => row.adId)).size, 16);
    assert.deepEqual(new Set(corrupted.map((row) => row.kind)), new Set(CORRUPTION_KINDS));

    const kindOf = new Map(corrupted.map((row) => [row.adId, row.kind]));
    const cleanRows = new Map((await readCsv(clean.result.csvPath)).map((row) => [row.ad_id, row]));
    for (const row of await readCsv(dirty.result.csvPath)) {
      const kind = kindOf.get(row.ad_id!);
      const parsed = adRowSchema.safeParse(row);
      const imageBytes = await fs
        .readFile(path.join(dirty.dir, `images/${row.ad_id}.png`))
        .catch(() => undefined);
      const image =
        imageBytes &&
        (await decodeAdImage(imageBytes, 16).then(
          () => 'ok',
          () => 'bad',
        ));
      if (kind === undefined) {
        assert.deepEqual(row, cleanRows.get(row.ad_id), `clean row ${row.ad_id} changed`);
        assert.ok(parsed.success && image === 'ok', `clean row ${row.ad_id} should be valid`);
        continue;
      }
      const message = parsed.success ? '' : parsed.error.issues.map((issue) => issue.message).join('; ');
      const expected: Record<typeof kind, () => boolean> = {
        hour_not_numeric: () => /hour must be an integer/.test(message),
        hour_out_of_range: () => /hour must be <= 23/.test(message),
        clicked_unknown: () => /clicked must be 0 or 1/.test(message),
        advertiser_empty: () => /advertiser is empty/.test(message),
        too_few_fields: () => Object.keys(row).length < AD_COLUMNS.length,
        image_missing: () => parsed.success && imageBytes === undefined,
        image_truncated: () => parsed.success && image === 'bad',
        image_not_png: () => parsed.success && image === 'bad',
      };
      assert.ok(expected[kind](), `${row.ad_id} (${kind}) not detected as such: ${message || image}`);
    }
  });

  void it('refuses impossible options', async () => {
    await assert.rejects(
      generateDataset({ outDir: '/nonexistent', rows: 0 }),
      /rows must be a positive integer/,
    );
    await assert.rejects(generateDataset({ outDir: '/nonexistent', rows: 5, corrupt: 6 }), /corrupt must be/);
    await assert.rejects(generateDataset({ outDir: '/nonexistent', rows: 5, imageSize: 4 }), /imageSize/);
  });
});

void describe('generateDataset click model', () => {
  let base: TinyDataset;
  let drifted: TinyDataset;
  before(async () => {
    base = await makeTinyDataset({ rows: 1000, seed: 42 });
    drifted = await makeTinyDataset({ rows: 1000, seed: 42, drift: true });
  });
  after(async () => {
    await base?.close();
    await drifted?.close();
  });

  void it('has a click rate of 20–35% and a true AUC near 0.8', () => {
    assert.ok(
      base.result.clickRate > 0.2 && base.result.clickRate < 0.35,
      `click rate ${base.result.clickRate}`,
    );
    assert.ok(base.result.trueAuc > 0.77 && base.result.trueAuc < 0.88, `true AUC ${base.result.trueAuc}`);
  });

  void it('makes clicks depend on the CTA contrast visible even at 16×16', async () => {
    const rows = await readCsv(base.result.csvPath);
    const contrast = await Promise.all(rows.map((row) => visibleContrast(base.dir, row.image!)));
    const auc = computeAuc(
      rows.map((row) => Number(row.clicked)),
      contrast,
    );
    assert.ok(auc > 0.65, `AUC of contrast alone ${auc}`);
  });

  void it('shifts the device mix, hours and advertisers under drift', async () => {
    const share = (rows: Record_[], test: (row: Record_) => boolean) =>
      rows.filter(test).length / rows.length;
    const before_ = await readCsv(base.result.csvPath);
    const after_ = await readCsv(drifted.result.csvPath);
    const tablet = (row: Record_) => row.device === 'tablet';
    const night = (row: Record_) => Number(row.hour) >= 20 || Number(row.hour) <= 2;
    assert.ok(share(after_, tablet) > share(before_, tablet) + 0.2);
    assert.ok(share(after_, night) > share(before_, night) + 0.3);
    assert.equal(
      share(before_, (row) => row.advertiser === 'helix'),
      0,
    );
    assert.ok(share(after_, (row) => row.advertiser === 'helix') > 0.1);
  });
});
