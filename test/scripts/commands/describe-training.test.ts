import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TrainHeartbeat } from '../../../activities/train/train';
import { describeTraining } from '../../../scripts/commands/pipeline';

const beat = (over: Partial<TrainHeartbeat>): TrainHeartbeat => ({
  phase: 'training',
  epoch: 2,
  batch: 7,
  batchesPerEpoch: 46,
  loss: 0.51234,
  backend: 'cpu',
  device: 'cpu',
  attempt: 1,
  ...over,
});

describe('pipeline --follow training line', () => {
  it('shows epoch, batch and loss while batches run', () => {
    assert.equal(describeTraining(beat({})), 'epoch 2 batch 7/46 loss 0.5123 (cpu)');
  });

  it('shows the phase before batches run, with the checkpoint a retry resumes from', () => {
    assert.equal(
      describeTraining(beat({ phase: 'resuming', attempt: 2, checkpoint: { epoch: 1, uri: 'x' } })),
      'resuming (checkpoint: epoch 1), attempt 2',
    );
    assert.equal(describeTraining(beat({ phase: 'scanning' })), 'scanning');
  });
});
