import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseFeatureSpec } from '../../../contracts/feature-spec';
import { mlops } from '../../helpers/mlops-cli';
import { copySharedDataset, makeReviewDataset } from '../../helpers/other-datasets';

void describe('mlops data describe', () => {
  void it('prints a table and the guesses, writes a spec that validates, and never overwrites it unasked', async () => {
    await using data = await copySharedDataset('avazu-sample/train.csv');
    const run = await mlops(['data', 'describe', '--data', data.csv], data.dir);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Described 100 rows of .*train\.csv$/m);
    assert.match(run.stdout, /^column\s+kind\s+encoding\s+missing\s+distinct\s+examples$/m);
    assert.match(
      run.stdout,
      /^id\s+id\s+kept as a string\s+0%\s+100\s+1000009418151094273, 10000169349117863715/m,
    );
    assert.match(run.stdout, /^click\s+label\s+positive = "1"/m);
    assert.match(run.stdout, /^Guesses to check:$/m);
    assert.match(
      run.stdout,
      /^Wrote features\.json: 1 id, 1 label, 1 ignored, 19 categorical, 2 numeric, output "probability"$/m,
    );
    const specFile = path.join(data.dir, 'features.json');
    const written = await fs.readFile(specFile, 'utf8');
    const spec = parseFeatureSpec(written, specFile);
    assert.equal(spec.id, 'id');

    // The user edits the spec; describing again must not throw that work away.
    const edited = written.replace('"output": "probability"', '"output": "click_probability"');
    await fs.writeFile(specFile, edited);
    const again = await mlops(['data', 'describe', '--data', data.csv], data.dir);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      /^error: .*features\.json exists; pass --force to overwrite it, or --out another file$/m,
    );
    assert.equal(await fs.readFile(specFile, 'utf8'), edited);
    const forced = await mlops(['data', 'describe', '--data', data.csv, '--force'], data.dir);
    assert.equal(forced.code, 0, forced.stderr);
    assert.notEqual(await fs.readFile(specFile, 'utf8'), edited);
  });

  void it('refuses a label that is not binary, plainly, and writes the spec to --out', async () => {
    await using data = await makeReviewDataset({ rows: 30 });
    const run = await mlops(
      ['data', 'describe', '--data', data.csv, '--label', 'stars', '--out', 'spec/reviews.json'],
      data.dir,
    ).catch((error: unknown) => assert.fail(String(error)));
    // stars has five values: not a binary label, said plainly.
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: the label "stars" has 5 values .*: a binary label needs exactly two$/m);
    assert.doesNotMatch(run.stderr, /^\s+at /m, 'no stack trace');
    await fs.mkdir(path.join(data.dir, 'spec'));
    const ok = await mlops(['data', 'describe', '--data', data.csv, '--out', 'spec/reviews.json'], data.dir);
    assert.equal(ok.code, 0, ok.stderr);
    const spec = parseFeatureSpec(await fs.readFile(path.join(data.dir, 'spec', 'reviews.json'), 'utf8'));
    assert.equal(spec.label.column, 'Would Recommend');
    assert.equal(spec.csv.delimiter, ';');
  });

  void it('refuses bad options with exit code 2 before reading anything', async () => {
    await using data = await copySharedDataset('census-income-sample/census-income.csv');
    const run = await mlops(
      ['data', 'describe', '--data', data.csv, '--columns', 'a,,b', '--delimiter', ';;'],
      data.dir,
    );
    assert.equal(run.code, 2);
    assert.match(run.stderr, /--columns must be comma-separated names, none empty/);
    assert.match(run.stderr, /--delimiter must be one character/);
    const missing = await mlops(['data', 'describe', '--data', path.join(data.dir, 'nope')], data.dir);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error: no CSV file at .*nope$/m);
    await assert.rejects(fs.stat(path.join(data.dir, 'features.json')), 'nothing written on failure');
  });
});
