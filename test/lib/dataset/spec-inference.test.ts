import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseFeatureSpec, type FeatureColumn, type FeatureSpec } from '../../../contracts/feature-spec';
import { describeDataset, DescribeError } from '../../../lib/dataset/spec-inference';
import { ADS_FEATURE_SPEC } from '../../../lib/dataset/synthetic-spec';
import { storageFor } from '../../../lib/storage';
import { startGcsEmulator, type GcsEmulatorHandle } from '../../helpers/gcs-emulator';
import { CENSUS_COLUMNS, copySharedDataset, makeReviewDataset } from '../../helpers/other-datasets';
import { makeTinyDataset } from '../../helpers/tiny-dataset';

function feature(spec: FeatureSpec, column: string): FeatureColumn | undefined {
  return spec.features.find((candidate) => candidate.column === column);
}

void describe('describeDataset (feature-spec inference)', () => {
  void it('avazu sample: the 20-digit id stays an id, numeric-looking codes are categories, a constant column is ignored', async () => {
    await using data = await copySharedDataset('avazu-sample/train.csv');
    const result = await describeDataset(data.csv);
    assert.equal(result.rows, 100);
    assert.equal(result.malformedRows, 0);
    const { spec } = result;
    assert.equal(spec.csv.header, true);
    assert.equal(spec.csv.delimiter, ',');
    assert.equal(spec.id, 'id');
    assert.deepEqual(spec.label, { column: 'click', positive: '1', negative: '0' });
    assert.deepEqual(feature(spec, 'hour'), {
      column: 'hour',
      kind: 'ignored',
      reason: 'one value only ("14102100") in 100 rows',
    });
    for (const column of ['banner_pos', 'device_type', 'C1', 'C15', 'site_id', 'app_category']) {
      assert.equal(feature(spec, column)?.kind, 'categorical', column);
    }
    // 98 IPs in 100 rows: a vocabulary would only learn the training rows.
    assert.deepEqual(feature(spec, 'device_ip'), {
      column: 'device_ip',
      kind: 'categorical',
      encoding: 'hash',
      buckets: 256,
    });
    assert.equal(spec.features.length, 22, 'every column but the label and the id is a feature');
    assert.ok(
      result.notes.some((note) =>
        /columns read as categories although they look numeric.*banner_pos \(2\)/.test(note),
      ),
    );
    assert.ok(
      result.notes.some((note) => /spread thin.*C14/.test(note)),
      'the numbers that may be codes are named',
    );
  });

  void it('census sample: no header row, leading spaces, "?" blanks, the label " 50000+." / " - 50000."', async () => {
    await using data = await copySharedDataset('census-income-sample/census-income.csv');
    const { spec, notes, columns } = await describeDataset(data.csv);
    assert.equal(spec.csv.header, false);
    assert.equal(spec.csv.columns?.length, 43);
    assert.equal(spec.label.column, 'column_43');
    assert.equal(spec.label.positive, '50000+.', 'trimmed, and the rarer value');
    assert.ok(notes.some((note) => note.includes('positive value "50000+." guessed as the rarer one')));
    assert.equal(spec.id, 'column_1', 'the row number');
    assert.deepEqual(feature(spec, 'column_2'), {
      column: 'column_2',
      kind: 'numeric',
      normalize: 'zscore',
      missingIndicator: false,
    });
    assert.equal(feature(spec, 'column_3')?.kind, 'categorical');
    // Multi-word values that repeat are categories, not free text.
    assert.equal(feature(spec, 'column_6')?.kind, 'categorical');
    const migration = columns.find((column) => column.column === 'column_27')!;
    assert.ok(
      migration.missingShare > 0.4 && migration.missingShare < 0.6,
      `"?" counted as missing: ${migration.missingShare}`,
    );
    assert.deepEqual(migration.examples.includes('?'), false);
  });

  void it('census sample with its column names given: the label is found by name and the spec validates', async () => {
    await using data = await copySharedDataset('census-income-sample/census-income.csv');
    const { spec } = await describeDataset(data.csv, { columns: CENSUS_COLUMNS, label: 'income_50k' });
    assert.equal(spec.label.column, 'income_50k');
    assert.deepEqual(spec.csv.columns, CENSUS_COLUMNS);
    assert.equal(feature(spec, 'age')?.kind, 'numeric');
    assert.equal(feature(spec, 'instance_weight')?.kind, 'numeric');
    assert.deepEqual(parseFeatureSpec(JSON.stringify(spec)), spec);
  });

  void it('the synthetic ads: the ads spec the demo ships, image column and all, less its hand-set constraints', async () => {
    await using data = await makeTinyDataset({ rows: 200 });
    const result = await describeDataset(data.dir);
    // The demo's spec adds what only the generator knows: every value present, hours 0–23.
    const unconstrained = ADS_FEATURE_SPEC.features.map((feature) => {
      const {
        required: _required,
        min: _min,
        max: _max,
        ...rest
      } = feature as typeof feature & {
        required?: boolean;
        min?: number;
        max?: number;
      };
      return rest;
    });
    assert.deepEqual(result.spec.features, unconstrained);
    assert.deepEqual(result.spec.label, ADS_FEATURE_SPEC.label);
    assert.equal(result.spec.id, ADS_FEATURE_SPEC.id);
    assert.deepEqual(result.spec.csv.columns, ADS_FEATURE_SPEC.csv.columns);
    assert.equal(result.files.length, 1, 'ground_truth.csv is not data');
    assert.ok(!result.notes.some((note) => /images are missing/.test(note)), result.notes.join('\n'));
  });

  void it('reviews: semicolons, a label with spaces valued yes/no, free text, blanks, JPEG photos, an id named "review id"', async () => {
    await using data = await makeReviewDataset({ rows: 80, missingPhotos: 3 });
    const { spec, notes } = await describeDataset(data.csv);
    assert.equal(spec.csv.delimiter, ';');
    assert.deepEqual(spec.label, { column: 'Would Recommend', positive: 'yes', negative: 'no' });
    assert.ok(notes.some((note) => note.includes('label: "Would Recommend" (guessed: the last of')));
    assert.equal(spec.id, 'review id');
    assert.equal(feature(spec, 'review text')?.kind, 'text');
    assert.deepEqual(feature(spec, 'price'), {
      column: 'price',
      kind: 'numeric',
      normalize: 'zscore',
      missingIndicator: true,
    });
    assert.equal(feature(spec, 'city')?.kind, 'categorical');
    assert.equal(feature(spec, 'photo')?.kind, 'image');
    assert.ok(
      notes.some((note) =>
        /photo: 3 of the first 20 images are missing \(e\.g\. .*photos\/r0\.jpg\)/.test(note),
      ),
      notes.join('\n'),
    );
  });

  void it('every bad input is a DescribeError saying what to do', async () => {
    await using data = await makeReviewDataset({ rows: 12 });
    const dir = data.dir;
    const write = async (name: string, text: string) => {
      const file = path.join(dir, name);
      await fs.writeFile(file, text);
      return file;
    };
    const three = await write('three.csv', 'a,b,label\n1,x,yes\n2,y,no\n3,z,maybe\n4,x,yes\n');
    await assert.rejects(describeDataset(three, { label: 'label' }), (error: Error) => {
      assert.ok(error instanceof DescribeError);
      assert.equal(
        error.message,
        'the label "label" has 3 values ("yes", "maybe", "no"): a binary label needs exactly two',
      );
      return true;
    });
    await assert.rejects(
      describeDataset(data.csv, { label: 'recommend' }),
      /--label recommend is not a column; the columns are review id, review text/,
    );
    await assert.rejects(
      describeDataset(path.join(dir, 'nothing-here.csv')),
      /no CSV file at .*nothing-here\.csv/,
    );
    const words = await write('words.csv', 'just some words\nand more words\n');
    await assert.rejects(describeDataset(words), /is this a CSV\?/);
    const utf16 = await write('utf16.csv', '');
    await fs.writeFile(
      utf16,
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('a,b\n1,2\n', 'utf16le')]),
    );
    await assert.rejects(describeDataset(utf16), /UTF-16 LE/);
    await assert.rejects(
      describeDataset(three, { columns: ['a', 'b'] }),
      /--columns names 2 columns but .* has 3 fields per line/,
    );
    const noLabel = await write('no-label.csv', 'a,b\n1,x\n2,y\n3,z\n');
    await assert.rejects(
      describeDataset(noLabel),
      /no column has exactly two values to be the label: pass --label COLUMN/,
    );
    const headerOnly = await write('header-only.csv', 'a,b,label\n');
    await assert.rejects(describeDataset(headerOnly), /has no data rows/);
  });

  void it('a folder of CSVs whose headers disagree is refused, naming the file', async () => {
    await using data = await makeReviewDataset({ rows: 12 });
    await fs.mkdir(path.join(data.dir, 'more'));
    await fs.writeFile(
      path.join(data.dir, 'more', 'part-2.csv'),
      'review id;stars;Would Recommend\nR-1;3;yes\n',
    );
    await assert.rejects(
      describeDataset(data.dir),
      /reviews\.csv has the header "review id,review text,.*" where more\/part-2\.csv has "review id,stars,Would Recommend": the files of one dataset must share their columns/,
    );
  });

  void it('counts short and malformed lines instead of failing on them', async () => {
    await using data = await makeReviewDataset({ rows: 30 });
    const text = await fs.readFile(data.csv, 'utf8');
    await fs.writeFile(
      data.csv,
      `${text}R-9;only three;fields\nR-10;"unclosed;3;4.5;Oslo;photos/r1.jpg;yes\n`,
    );
    const result = await describeDataset(data.csv);
    assert.equal(result.rows, 30);
    assert.ok(result.malformedRows >= 2, `${result.malformedRows}`);
    assert.ok(result.notes.some((note) => /lines could not be read as rows/.test(note)));
  });

  void describe('on gs:// (the GCS emulator)', () => {
    let gcs: GcsEmulatorHandle;
    before(async () => {
      gcs = await startGcsEmulator();
    });
    after(async () => {
      await gcs?.close();
    });

    void it('reads the CSV and checks the images in the bucket', async () => {
      await using data = await makeReviewDataset({ rows: 24 });
      const names = [
        'reviews.csv',
        ...(await fs.readdir(path.join(data.dir, 'photos'))).map((name) => `photos/${name}`),
      ];
      for (const name of names)
        await storageFor(gcs.uri()).write(
          gcs.uri(`reviews/${name}`),
          await fs.readFile(path.join(data.dir, name)),
        );
      await storageFor(gcs.uri()).delete(gcs.uri('reviews/photos/r5.jpg'));
      const result = await describeDataset(gcs.uri('reviews'));
      assert.deepEqual(result.files, [gcs.uri('reviews/reviews.csv')]);
      assert.equal(result.rows, 24);
      assert.equal(feature(result.spec, 'photo')?.kind, 'image');
      assert.ok(
        result.notes.some((note) =>
          note.includes(
            `photo: 1 of the first 20 images are missing (e.g. ${gcs.uri('reviews/photos/r5.jpg')})`,
          ),
        ),
        result.notes.join('\n'),
      );
    });
  });
});
