/**
 * `pipeline start --features FILE`: the spec read and validated on the user's machine (a bad file
 * fails before anything starts), then stored by content in the artifact store, where every worker
 * can read it whatever machine it runs on.
 */
import fs from 'node:fs/promises';
import { parseFeatureSpec, type FeatureSpec } from '../../contracts/feature-spec';
import { storeByContent } from './store-by-content';

/** Reads and validates a spec file; the error lists every problem, naming the file. */
export async function readFeatureSpecFile(file: string) {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the feature spec ${file}: ${(err as Error).message}`, { cause: err });
  }
  return parseFeatureSpec(text, file);
}

/** Stores a spec under `<store>/feature-specs/<sha256>.json` (by content) and returns its URI. */
export async function storeFeatureSpec(spec: FeatureSpec, storeUri: string): Promise<string> {
  return storeByContent(storeUri, 'feature-specs', `${JSON.stringify(spec, null, 2)}\n`, '.json');
}

/** Reads, validates and stores a spec file; returns its URI in the store. */
export async function uploadFeatureSpec(file: string, storeUri: string): Promise<string> {
  return storeFeatureSpec(await readFeatureSpecFile(file), storeUri);
}
