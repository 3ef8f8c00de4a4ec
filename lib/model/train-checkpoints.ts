/**
 * Where a training job keeps its checkpoints, and how they go away: while it trains, only the one
 * a retry would resume from stays; once the trained model is recorded, none does. Checkpoints hold
 * the weights and both Adam moments, so every one kept would grow the store with every run.
 */
import { joinUri, readJsonIfExists, storageFor } from '../storage';

/** A checkpoint's folder name: `epoch-N`. Nothing else under checkpoints/ is ever deleted by pruning. */
const CHECKPOINT_FOLDER = /^epoch-\d+$/;

/** The folder of a job's checkpoints and of the pointer to the newest. */
export function checkpointsUri(outUri: string): string {
  return joinUri(outUri, 'checkpoints');
}

/** The pointer file's URI for a job's stage folder. */
export function checkpointPointerUri(outUri: string): string {
  return joinUri(checkpointsUri(outUri), 'latest.json');
}

/** The folder of the checkpoint taken after `epoch`. */
export function checkpointUri(outUri: string, epoch: number): string {
  return joinUri(checkpointsUri(outUri), `epoch-${epoch}`);
}

/**
 * Deletes every checkpoint of the job but `keep` and the one the pointer names now, and returns the
 * folders it deleted. Call it only once the pointer names `keep`: until then the older checkpoint
 * is the one a retry resumes from. Listing (not just deleting the previous epoch's folder) also
 * removes what a killed attempt left: an older checkpoint it had no time to delete, or a newer one
 * it had not finished writing.
 */
export async function pruneCheckpoints(outUri: string, keep: string): Promise<string[]> {
  const root = checkpointsUri(outUri);
  const storage = storageFor(root);
  // Another attempt of the same activity may briefly still run (a retry after a heartbeat timeout):
  // never delete what the pointer names, whoever wrote it.
  const pointed = (await readJsonIfExists<{ uri?: unknown }>(checkpointPointerUri(outUri)))?.uri;
  const kept = new Set([joinUri(keep), ...(typeof pointed === 'string' ? [joinUri(pointed)] : [])]);
  const stale = new Set<string>();
  for (const uri of await storage.list(root)) {
    // <root>/epoch-N/<file>, whatever the separator of the scheme.
    const [folder, ...rest] = uri.slice(root.length).split(/[\\/]/).filter(Boolean);
    if (!folder || rest.length === 0 || !CHECKPOINT_FOLDER.test(folder)) continue;
    const folderUri = joinUri(root, folder);
    if (!kept.has(folderUri)) stale.add(folderUri);
  }
  for (const folderUri of stale) await storage.delete(folderUri);
  return [...stale];
}

/**
 * Deletes all of a job's checkpoints, once its trained model is recorded. The pointer goes first,
 * so a crash halfway never leaves a pointer naming a checkpoint that is partly gone.
 */
export async function deleteCheckpoints(outUri: string): Promise<void> {
  const storage = storageFor(outUri);
  await storage.delete(checkpointPointerUri(outUri));
  await storage.delete(checkpointsUri(outUri));
}
