/** Files the CLI hands to workers, stored in the artifact store under their content's hash. */
import { createHash } from 'node:crypto';
import { joinUri, storageFor } from '../../lib/storage/index';

/** Writes `content` to `<store>/<folder>/<sha256, 16 hex><extension>` and returns its URI. */
export async function storeByContent(
  storeUri: string,
  folder: string,
  content: string | Buffer,
  extension: string,
): Promise<string> {
  const digest = createHash('sha256').update(content).digest('hex').slice(0, 16);
  const uri = joinUri(storeUri, folder, `${digest}${extension}`);
  await storageFor(uri).write(uri, content);
  return uri;
}
