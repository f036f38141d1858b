import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { AvgPoolExcludePad } from './avg_pool_exclude_pad.js';
import { UpsampleBilinear } from './upsample_bilinear.js';

describe('UpsampleBilinear', () => {
  it('aligns corners as PyTorch align_corners=True: a linear ramp is reproduced exactly at ×2', async () => {
    // Input v(y, x) = 1 + 2y + x on a 2×2 grid; with aligned corners output pixel i samples source i/3, so the
    // 4×4 output is 1 + 2·(i/3) + j/3 (bilinear interpolation of a linear function is exact).
    const x = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    const y = new UpsampleBilinear().apply(x) as tf.Tensor;
    expect(y.shape).toEqual([1, 4, 4, 1]);
    const expected = Array.from({ length: 16 }, (_, k) => 1 + (2 * Math.floor(k / 4)) / 3 + (k % 4) / 3);
    Array.from(await y.data()).forEach((v, k) => expect(v).toBeCloseTo(expected[k]!, 5));
    tf.dispose([x, y]);
  });

  it('reports its output shape symbolically and keeps its config', () => {
    const layer = new UpsampleBilinear({ factor: 4, alignCorners: false });
    expect(layer.computeOutputShape([null, 3, 5, 7])).toEqual([null, 12, 20, 7]);
    expect(layer.getConfig()).toMatchObject({ factor: 4, alignCorners: false });
  });
});

describe('AvgPoolExcludePad', () => {
  it('averages only the real pixels of each 3×3/2 window (count_include_pad=False)', async () => {
    // 4×4 input 1..16 row-major; windows cover rows/cols {0,1} and {1,2,3}:
    // (1+2+5+6)/4 = 3.5, (2+3+4+6+7+8)/6 = 5, (5+6+9+10+13+14)/6 = 9.5, (6+7+8+10+11+12+14+15+16)/9 = 11.
    const x = tf.tensor4d(Array.from({ length: 16 }, (_, i) => i + 1), [1, 4, 4, 1]);
    const y = new AvgPoolExcludePad().apply(x) as tf.Tensor;
    expect(y.shape).toEqual([1, 2, 2, 1]);
    Array.from(await y.data()).forEach((v, i) => expect(v).toBeCloseTo([3.5, 5, 9.5, 11][i]!, 5));
    tf.dispose([x, y]);
  });

  it('gives PyTorch output sizes, floor((n + 2 − 3) / 2) + 1, for odd sizes too', () => {
    const layer = new AvgPoolExcludePad();
    expect(layer.computeOutputShape([null, 256, 129, 3])).toEqual([null, 128, 65, 3]);
    const x = tf.ones([1, 5, 5, 2]);
    const y = layer.apply(x) as tf.Tensor;
    expect(y.shape).toEqual([1, 3, 3, 2]);
    // A constant stays constant when the padding is not counted.
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(y, 1))).arraySync())).toBeLessThan(1e-6);
    tf.dispose([x, y]);
  });
});
