import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { compareKernel, convCases, convTensors, describeCase, useBackend } from './test_utils/kernel_compare.js';

describe('Conv2DBackpropFilter on wasm', () => {
  const initial = tf.getBackend();
  afterAll(async () => {
    await tf.setBackend(initial);
  });

  it('matches the cpu backend (rel. error <= 1e-4) for every padding, stride 1/2, filters 1..4, odd and non-square shapes, without leaking', async () => {
    await useBackend('cpu');
    for (const c of convCases(202, 28)) {
      const { x, filter, dy, attrs } = convTensors(c, false);
      const r = await compareKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: filter.shape });
      expect({ case: describeCase(c), ok: r.error <= 1e-4 }).toEqual({ case: describeCase(c), ok: true });
      expect(r.shape).toEqual(filter.shape);
      expect([r.leakedTensors, r.leakedBuffers]).toEqual([0, 0]);
      tf.dispose([x, filter, dy]);
    }
  });

  it('sums over several im2col blocks when the im2col is large (130x130, 4x4, 8 -> 1 channels, batch 2)', async () => {
    // 128 filter rows x 260 (b, oh) rows x 130 columns is above the 4M-float block, so the GEMM is split and summed.
    await useBackend('cpu');
    const x = tf.randomNormal<tf.Rank.R4>([2, 130, 130, 8], 0, 1, 'float32', 5);
    const dy = tf.randomNormal<tf.Rank.R4>([2, 130, 130, 1], 0, 1, 'float32', 6);
    const r = await compareKernel('Conv2DBackpropFilter', { x, dy }, { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: [4, 4, 8, 1] });
    expect(r.error).toBeLessThanOrEqual(1e-4);
    expect([r.leakedTensors, r.leakedBuffers]).toEqual([0, 0]);
    tf.dispose([x, dy]);
  });
});
