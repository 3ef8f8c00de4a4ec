import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createStopAll } from '../../../lib/stack/local-stack';

function recorder() {
  const stopped: string[] = [];
  const part = (name: string, fail = false) => ({
    stop: () => {
      stopped.push(name);
      return fail ? Promise.reject(new Error(`${name} would not stop`)) : Promise.resolve();
    },
  });
  return { stopped, part };
}

void describe('createStopAll', () => {
  void it('stops the parts last first, past one that fails', async () => {
    const { stopped, part } = recorder();
    await createStopAll([part('server'), part('connection', true), part('worker')])();
    assert.deepEqual(stopped, ['worker', 'connection', 'server']);
  });

  void it('stops each part once however often it is called', async () => {
    const { stopped, part } = recorder();
    const stopAll = createStopAll([part('server'), part('connection'), part('worker')]);
    await Promise.all([stopAll(), stopAll()]);
    await stopAll();
    assert.deepEqual(stopped, ['worker', 'connection', 'server']);
  });

  void it('stops parts started after it was created', async () => {
    const { stopped, part } = recorder();
    const started = [part('server')];
    const stopAll = createStopAll(started);
    started.push(part('worker'));
    await stopAll();
    assert.deepEqual(stopped, ['worker', 'server']);
  });
});
