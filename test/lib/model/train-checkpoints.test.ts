import { ADS_FEATURE_SPEC } from '../../../lib/dataset/synthetic-spec';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pipelineConfigSchema } from '../../../contracts/pipeline-config';
import { writeShard } from '../../../lib/dataset/shards';
import { runTrainJob, type TrainJob } from '../../../lib/model';
import {
  checkpointPointerUri,
  checkpointsUri,
  checkpointUri,
  deleteCheckpoints,
  pruneCheckpoints,
} from '../../../lib/model/train-checkpoints';
import { joinUri, storageFor, writeJson } from '../../../lib/storage';
import { startGcsEmulator } from '../../helpers/gcs-emulator';
import { makeExamples } from './fixtures';

const IMAGE_SIZE = 8;
const CONFIG = pipelineConfigSchema.parse({
  train: {
    epochs: 3,
    batchSize: 16,
    seed: 5,
    conv: { filters: [2], denseUnits: 4 },
    embeddingDim: 2,
    checkpointEveryEpochs: 1,
  },
}).train;

/** A fresh root URI in one backend, closed after its tests. */
interface Backend {
  name: string;
  open(): Promise<{ root: string; close(): Promise<void> }>;
}

const BACKENDS: Backend[] = [
  {
    name: 'local disk',
    async open() {
      const root = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-checkpoints-'));
      return { root, close: () => fs.rm(root, { recursive: true, force: true }) };
    },
  },
  {
    name: 'GCS (fake-gcs-server)',
    async open() {
      const emulator = await startGcsEmulator();
      return { root: emulator.uri('store'), close: () => emulator.close() };
    },
  },
];

/** Every object under `uri`, relative to it, `/`-separated. */
async function listRelative(uri: string): Promise<string[]> {
  const listed = await storageFor(uri).list(uri);
  return listed.map((object) =>
    object
      .slice(uri.length + 1)
      .split(path.sep)
      .join('/'),
  );
}

const CHECKPOINT_FILES = [
  'model.json',
  'optimizer.bin',
  'optimizer.json',
  'preprocessing.json',
  'weights.bin',
];
const filesOf = (folder: string) => CHECKPOINT_FILES.map((file) => `${folder}/${file}`);

let shardDir: string;
let shardUri: string;

before(async () => {
  shardDir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlops-checkpoints-shard-'));
  shardUri = path.join(shardDir, 'train.arrow');
  await writeShard(shardUri, makeExamples(120, 2, IMAGE_SIZE), {
    imageSize: IMAGE_SIZE,
    spec: ADS_FEATURE_SPEC,
  });
});
after(async () => {
  await fs.rm(shardDir, { recursive: true, force: true });
});

for (const backend of BACKENDS) {
  void describe(`training checkpoints on ${backend.name}`, () => {
    let root: string;
    let opened: { root: string; close(): Promise<void> } | undefined;
    before(async () => {
      opened = await backend.open();
      root = opened.root;
    });
    after(async () => {
      await opened?.close();
    });

    void it('keeps only the checkpoint a retry resumes from, and none once deleted after the model', async () => {
      const job: TrainJob = {
        shardUris: [shardUri],
        imageSize: IMAGE_SIZE,
        featureSpec: ADS_FEATURE_SPEC,
        config: CONFIG,
        outUri: joinUri(root, 'job'),
      };
      const checkpoints = checkpointsUri(job.outUri);
      const controller = new AbortController();
      await assert.rejects(
        runTrainJob(job, {
          signal: controller.signal,
          emit: (event) => {
            if (event.type === 'checkpoint' && event.checkpoint.epoch === 2) controller.abort();
          },
        }),
      );
      // Stopped after its epoch-2 checkpoint: epoch 1 is gone, epoch 2 is whole.
      assert.deepEqual(await listRelative(checkpoints), [...filesOf('epoch-2'), 'latest.json']);

      const resumed = await runTrainJob(job);
      assert.equal(resumed.resumedFromEpoch, 2);
      assert.deepEqual(await listRelative(checkpoints), [...filesOf('epoch-3'), 'latest.json']);

      await deleteCheckpoints(job.outUri);
      assert.deepEqual(await listRelative(checkpoints), []);
      assert.deepEqual(await listRelative(job.outUri), [
        'model/model.json',
        'model/preprocessing.json',
        'model/weights.bin',
      ]);
    });

    void it('never prunes the checkpoint the pointer names, even when another attempt wrote it', async () => {
      const outUri = joinUri(root, 'pruning');
      const storage = storageFor(outUri);
      for (const epoch of [3, 4, 5]) {
        await storage.write(joinUri(checkpointUri(outUri, epoch), 'model.json'), '{}');
      }
      await storage.write(joinUri(checkpointsUri(outUri), 'notes.txt'), 'not a checkpoint');
      await writeJson(checkpointPointerUri(outUri), { epoch: 5, uri: checkpointUri(outUri, 5) });

      const deleted = await pruneCheckpoints(outUri, checkpointUri(outUri, 4));
      assert.deepEqual(deleted, [checkpointUri(outUri, 3)]);
      assert.deepEqual(await listRelative(checkpointsUri(outUri)), [
        'epoch-4/model.json',
        'epoch-5/model.json',
        'latest.json',
        'notes.txt',
      ]);
    });
  });
}
