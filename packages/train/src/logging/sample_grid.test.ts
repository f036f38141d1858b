import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { sampleGrid } from './sample_grid.js';

describe('sampleGrid', () => {
  it('places column j, row i at the right offset, maps [-1, 1] to [0, 255], and frees its tensors', async () => {
    const a = tf.fill([2, 3, 4, 3], -1) as tf.Tensor4D;
    const b = tf.fill([2, 3, 4, 3], 1) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const grid = await sampleGrid([a, b]);
    expect(tf.memory().numTensors).toBe(before);
    expect([grid.width, grid.height]).toEqual([4 * 2 + 2, 3 * 2 + 2]);
    const px = (x: number, y: number): number[] => Array.from(grid.data.subarray((y * grid.width + x) * 3, (y * grid.width + x) * 3 + 3));
    expect(px(0, 0)).toEqual([0, 0, 0]); // column 0 is −1 → black
    expect(px(6, 5)).toEqual([255, 255, 255]); // column 1, row 1 is +1 → white
    expect(px(4, 0)).toEqual([255, 255, 255]); // gutter
    tf.dispose([a, b]);
  });

  it('names mismatched columns', async () => {
    const a = tf.zeros([1, 4, 4, 3]) as tf.Tensor4D;
    const b = tf.zeros([1, 8, 8, 3]) as tf.Tensor4D;
    await expect(sampleGrid([a, b])).rejects.toThrow(/\[1,8,8,3\] does not match \[1,4,4,3\]/);
    tf.dispose([a, b]);
  });
});
