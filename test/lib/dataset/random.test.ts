import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRandom } from '../../../lib/dataset/random';

void describe('createRandom', () => {
  void it('produces the mulberry32 sequence, so seeded datasets and shuffles never change', () => {
    const random = createRandom(42);
    assert.deepEqual(
      [random(), random(), random()],
      [0.6011037519201636, 0.44829055899754167, 0.8524657934904099],
    );
    const zero = createRandom(0);
    assert.deepEqual([zero(), zero()], [0.26642920868471265, 0.0003297457005828619]);
  });

  void it('treats seeds modulo 2³² and stays in [0, 1)', () => {
    const a = createRandom(-1);
    const b = createRandom(2 ** 32 - 1);
    for (let i = 0; i < 1000; i++) {
      const value = a();
      assert.equal(value, b());
      assert.ok(value >= 0 && value < 1, String(value));
    }
  });
});
