/**
 * `pipeline start --config` with `train.modelModule` naming a local file: the file, found relative
 * to the config file, is stored by content in the artifact store, and the config sent to the
 * workflow names the stored copy, so a GPU worker on any machine reads the same code.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { schemeOf } from '../../lib/storage/index';
import { storeByContent } from './store-by-content';

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
  const uri = await storeByContent(storeUri, 'model-modules', code, extension);
  return { ...config, train: { ...train, modelModule: uri } };
}
