/** Reading a feature spec saved in the store, and the spec of data ingested before specs existed. */
import { parseFeatureSpec, type FeatureSpec } from '../../contracts/feature-spec';
import { storageFor } from '../storage';
import { ADS_FEATURE_SPEC } from './synthetic-spec';

/** The spec at `uri`; throws NotFoundError when absent, an Error listing its problems when invalid. */
export async function readFeatureSpec(uri: string): Promise<FeatureSpec> {
  return parseFeatureSpec((await storageFor(uri).read(uri)).toString('utf8'), uri);
}

/** The spec an ingest's shards follow: its features.json, or the ads' for runs that predate specs. */
export async function specOfIngest(ingest: { featureSpecUri?: string }): Promise<FeatureSpec> {
  return ingest.featureSpecUri ? readFeatureSpec(ingest.featureSpecUri) : ADS_FEATURE_SPEC;
}
