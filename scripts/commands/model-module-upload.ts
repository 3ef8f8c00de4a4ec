/**
 * `pipeline start --config` with `train.modelModule` naming a local file: the file, found relative
 * to the config file, is stored by content in the artifact store, and the config sent to the
 * workflow names the stored copy, so a GPU worker on any machine reads the same code.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { joinUri, schemeOf, storageFor } from '../../lib/storage/index';

/** The module extensions the trainer loads. */
const MODULE_EXTENSIONS = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'];

/**
 * A config whose local `train.modelModule` is replaced by its copy under
 * `<store>/model-modules/<sha256><ext>`; a gs:// one, or none, leaves the config as it is.
 */
export async function withStoredModelModule(
  config: unknown,
  configFile: string | undefined,
  storeUri: string,
): Promise<unknown> {
  if (typeof config !== 'object' || config === null) return config;
  const train = (config as { train?: { modelModule?: unknown } }).train;
  const module = train?.modelModule;
  if (typeof module !== 'string' || schemeOf(module) !== 'file') return config;
  const file = path.resolve(configFile ? path.dirname(configFile) : '.', module);
  const extension = path.extname(file);
  if (!MODULE_EXTENSIONS.includes(extension)) {
    throw new Error(`train.modelModule ${module} must be a ${MODULE_EXTENSIONS.join(', ')} file`);
  }
  let code: Buffer;
  try {
    code = await fs.readFile(file);
  } catch (err) {
    throw new Error(`cannot read train.modelModule ${file}: ${(err as Error).message}`, { cause: err });
  }
  const digest = createHash('sha256').update(code).digest('hex').slice(0, 16);
  const uri = joinUri(storeUri, 'model-modules', `${digest}${extension}`);
  await storageFor(uri).write(uri, code);
  return { ...config, train: { ...train, modelModule: uri } };
}
