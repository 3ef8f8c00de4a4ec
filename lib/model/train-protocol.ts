/** Messages between the train activity and its training process, over the fork IPC channel. */
import type { TrainJob, TrainJobEvent, TrainJobResult } from './train-job';

/** Parent to child: the one job this process runs. */
export interface StartMessage {
  type: 'start';
  job: TrainJob;
}

/** Child to parent: progress while running, then exactly one result or error. */
export type TrainProcessMessage =
  | { type: 'event'; event: TrainJobEvent }
  | { type: 'result'; result: TrainJobResult }
  | { type: 'error'; error: { name: string; message: string; stack?: string } };
