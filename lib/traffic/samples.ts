/**
 * Prediction requests replayed from a dataset's own rows, read by its feature spec: each row's
 * columns by name (numbers as numbers, missing cells as null), its image inline as {"b64": …}, and
 * its label, so simulated feedback can report what really happened to that row.
 */
import type { FeatureSpec } from '../../contracts/feature-spec';
import { listDataCsvs, parentUri } from '../dataset/csv-files';
import { readCsvItems } from '../dataset/csv-records';
import { imageColumnOf } from '../dataset/example';
import { checkRow, exampleOf, rowReaderFor } from '../dataset/spec-rows';
import { ADS_FEATURE_SPEC } from '../dataset/synthetic-spec';
import { resolveUri, storageFor } from '../storage';

export interface TrafficSample {
  /** The row's id (the spec's id column, else its line in the file): what feedback is keyed by. */
  id: string;
  /** The request instance: the spec's columns by name. */
  instance: Record<string, unknown>;
  /** The row's label, 0 or 1; null for rows read with `unlabelled` that have none. */
  label: number | null;
}

/**
 * Reads up to `limit` rows of the dataset at `dataUri` (a CSV, or the first CSV under a folder;
 * local or gs://) that pass the spec's checks and whose image can be read; other rows are skipped.
 * With `unlabelled` (rows to score), the label column may be absent and a row needs no label.
 */
export async function loadTrafficSamples(
  dataUri: string,
  limit = 64,
  spec: FeatureSpec = ADS_FEATURE_SPEC,
  options: { unlabelled?: boolean } = {},
): Promise<TrafficSample[]> {
  const { files } = await listDataCsvs(dataUri);
  const [file] = files;
  if (!file) throw new Error(`no CSV for traffic at ${dataUri}`);
  const imageColumn = imageColumnOf(spec);
  const stream = await storageFor(file.uri).createReadStream(file.uri);
  const samples: TrafficSample[] = [];
  let reader: Parameters<typeof checkRow>[1] | undefined;
  for await (const item of readCsvItems(stream as AsyncIterable<Buffer>, {
    delimiter: spec.csv.delimiter,
    quote: spec.csv.quote,
  })) {
    if (samples.length >= limit) break;
    if (item.kind !== 'record') continue;
    if (!reader) {
      const bound = rowReaderFor(file.uri, spec, item.fields, { labelOptional: options.unlabelled === true });
      if ('problem' in bound) throw new Error(bound.problem);
      reader = bound.reader;
      if (spec.csv.header) continue;
    }
    const check = checkRow(item.fields, reader);
    if (!('values' in check)) continue;
    const example = exampleOf(reader, check.values);
    const instance: Record<string, unknown> = { ...example };
    if (imageColumn !== undefined && check.imageRef !== undefined) {
      const imageUri = resolveUri(parentUri(file.uri), check.imageRef);
      const image = await storageFor(imageUri)
        .read(imageUri)
        .catch(() => undefined);
      if (!image) continue;
      instance[imageColumn] = { b64: image.toString('base64') };
    }
    const label = example[spec.label.column] as number | null;
    delete instance[spec.label.column];
    samples.push({
      id: spec.id === undefined ? String(item.line) : String(example[spec.id]),
      instance,
      label,
    });
  }
  stream.destroy();
  if (samples.length === 0) throw new Error(`no usable rows for traffic in ${file.uri}`);
  return samples;
}

/** The samples' own labels as the "true probability" feedback draws from (0 or 1: feedback reports the label). */
export function labelsAsGroundTruth(samples: readonly TrafficSample[]): Map<string, number> {
  return new Map(
    samples.flatMap((sample) => (sample.label === null ? [] : [[sample.id, sample.label] as const])),
  );
}
