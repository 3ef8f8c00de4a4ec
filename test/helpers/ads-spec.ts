/** The synthetic ads' feature spec as a file, as `pipeline start --features` would hand it on. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ADS_FEATURE_SPEC } from '../../lib/dataset/synthetic-spec';

let written: Promise<string> | undefined;

/** A file holding ADS_FEATURE_SPEC, written once per test process (under the OS temp folder). */
export function adsSpecFile(): Promise<string> {
  written ??= (async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-ads-spec-'));
    const file = path.join(dir, 'features.json');
    await fs.writeFile(file, JSON.stringify(ADS_FEATURE_SPEC, null, 2));
    return file;
  })();
  return written;
}
