import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { compareKernel, seededRandom, useBackend } from './test_utils/kernel_compare.js';

describe('MaxPoolGrad on wasm', () => {
  const initial = tf.getBackend();
  afterAll(async () => {
    await tf.setBackend(initial);
  });

  it('matches the cpu backend for windows 1..4, strides 1/2, same/valid/numeric padding, including all-negative inputs', async () => {
    // The stock wasm kernel fails the all-negative case: its running maximum starts at FLT_MIN, not -inf.
    await useBackend('cpu');
    const rand = seededRandom(505);
    const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
    for (let i = 0; i < 24; i++) {
      const filterSize = int(1, 4);
      const strides = int(1, 2);
      const pad = (['same', 'valid', 0, 1] as const)[i % 4]!;
      const shape: [number, number, number, number] = [int(1, 3), int(filterSize + 1, 11), int(filterSize + 1, 11), int(1, 5)];
      const offset = i % 3 === 0 ? -10 : 0;
      const input = tf.tidy(() => tf.add(tf.randomNormal<tf.Rank.R4>(shape, 0, 1, 'float32', i), offset)) as tf.Tensor4D;
      const output = tf.maxPool(input, filterSize, strides, pad);
      const dy = tf.randomNormal(output.shape, 0, 1, 'float32', 100 + i);
      const r = await compareKernel('MaxPoolGrad', { dy, input, output }, { filterSize, strides, pad });
      expect({ i, shape, filterSize, strides, pad, ok: r.error <= 1e-6 }).toEqual({ i, shape, filterSize, strides, pad, ok: true });
      expect([r.leakedTensors, r.leakedBuffers]).toEqual([0, 0]);
      tf.dispose([input, output, dy]);
    }
  });
});
