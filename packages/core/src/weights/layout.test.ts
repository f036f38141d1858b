import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { fromTorchLayout, ourShapeFromTorch, permuteAxes, toTorchLayout, torchShape } from './layout.js';

/**
 * PyTorch semantics written out as loops over NCHW / OIHW / IOHW arrays, straight from the PyTorch docs:
 *   Conv2d:          out[o,y,x] = b[o] + Σ_{i,ky,kx} in[i, y·s − p + ky, x·s − p + kx] · W[o,i,ky,kx]
 *   ConvTranspose2d: out[o, iy·s − p + ky, ix·s − p + kx] += in[i,iy,ix] · W[i,o,ky,kx]   (then + b[o])
 *   Linear:          out[o] = b[o] + Σ_i in[i] · W[o,i]
 * Inputs are small integers, so every sum is exact in float32 whatever the summation order.
 */
function torchConv2d(input: number[][][], w: number[][][][], s: number, p: number): number[][][] {
  const [ci, h, wd] = [input.length, input[0]!.length, input[0]![0]!.length];
  const [co, , k] = [w.length, w[0]!.length, w[0]![0]!.length];
  const ho = Math.floor((h + 2 * p - k) / s) + 1;
  const wo = Math.floor((wd + 2 * p - k) / s) + 1;
  const out = Array.from({ length: co }, () => Array.from({ length: ho }, () => new Array<number>(wo).fill(0)));
  for (let o = 0; o < co; o++)
    for (let y = 0; y < ho; y++)
      for (let x = 0; x < wo; x++)
        for (let i = 0; i < ci; i++)
          for (let ky = 0; ky < k; ky++)
            for (let kx = 0; kx < k; kx++) {
              const iy = y * s - p + ky;
              const ix = x * s - p + kx;
              if (iy >= 0 && iy < h && ix >= 0 && ix < wd) out[o]![y]![x]! += input[i]![iy]![ix]! * w[o]![i]![ky]![kx]!;
            }
  return out;
}

function torchConvTranspose2d(input: number[][][], w: number[][][][], s: number, p: number): number[][][] {
  const [ci, h, wd] = [input.length, input[0]!.length, input[0]![0]!.length];
  const [co, k] = [w[0]!.length, w[0]![0]!.length];
  const ho = (h - 1) * s - 2 * p + k;
  const wo = (wd - 1) * s - 2 * p + k;
  const out = Array.from({ length: co }, () => Array.from({ length: ho }, () => new Array<number>(wo).fill(0)));
  for (let i = 0; i < ci; i++)
    for (let iy = 0; iy < h; iy++)
      for (let ix = 0; ix < wd; ix++)
        for (let o = 0; o < co; o++)
          for (let ky = 0; ky < k; ky++)
            for (let kx = 0; kx < k; kx++) {
              const y = iy * s - p + ky;
              const x = ix * s - p + kx;
              if (y >= 0 && y < ho && x >= 0 && x < wo) out[o]![y]![x]! += input[i]![iy]![ix]! * w[i]![o]![ky]![kx]!;
            }
  return out;
}

/** Deterministic small integers in [-3, 3], shaped as nested arrays. */
function ints(shape: number[], seed: number): number[] {
  const n = shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: n }, (_, j) => (((j + 1) * 7919 + seed * 104729) % 7) - 3);
}
function nest(flat: number[], shape: number[]): any {
  if (shape.length === 1) return flat.slice(0, shape[0]);
  const step = flat.length / shape[0]!;
  return Array.from({ length: shape[0]! }, (_, i) => nest(flat.slice(i * step, (i + 1) * step), shape.slice(1)));
}
/** CHW nested array → [1, H, W, C] tensor. */
function chwToNhwc(chw: number[][][]): tf.Tensor4D {
  return tf.tidy(() => tf.tensor3d(chw).transpose([1, 2, 0]).expandDims(0) as tf.Tensor4D);
}
function nhwcToChw(t: tf.Tensor): number[][][] {
  return (t.squeeze([0]).transpose([2, 0, 1]).arraySync() as number[][][]);
}

describe('layout conversion', () => {
  it('permuteAxes matches tf.transpose for every rank-4 permutation used', () => {
    const shape = [2, 3, 4, 5];
    const data = Float32Array.from({ length: 120 }, (_, i) => i);
    for (const perm of [[3, 2, 0, 1], [2, 3, 1, 0], [1, 0, 2, 3], [0, 1, 2, 3]]) {
      const expected = tf.tidy(() => tf.tensor(data, shape).transpose(perm).dataSync());
      expect(Array.from(permuteAxes(data, shape, perm))).toEqual(Array.from(expected));
    }
    expect(Array.from(permuteAxes(Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3], [1, 0]))).toEqual([1, 4, 2, 5, 3, 6]);
  });

  it('conv2d: OIHW → HWIO gives tf.conv2d the same output as PyTorch Conv2d (4×4, stride 2, padding 1)', () => {
    const [co, ci, k] = [3, 2, 4];
    const wFlat = ints([co, ci, k, k], 1);
    const xChw = nest(ints([ci, 6, 6], 2), [ci, 6, 6]);
    const expected = torchConv2d(xChw, nest(wFlat, [co, ci, k, k]), 2, 1);
    const ours = fromTorchLayout('conv2d', Float32Array.from(wFlat), [co, ci, k, k]);
    expect(ourShapeFromTorch('conv2d', [co, ci, k, k])).toEqual([k, k, ci, co]);
    const got = tf.tidy(() => nhwcToChw(tf.conv2d(chwToNhwc(xChw), tf.tensor4d(ours, [k, k, ci, co]), 2, [[0, 0], [1, 1], [1, 1], [0, 0]])));
    expect(got).toEqual(expected);
    // And back: our kernel exported is the PyTorch weight again, bit for bit.
    expect(Array.from(toTorchLayout('conv2d', ours, [k, k, ci, co]))).toEqual(wFlat);
  });

  it('conv2dTranspose, hand-computed: 2×2 input, 2×2 kernel, stride 1 — no spatial flip', () => {
    // PyTorch ConvTranspose2d(1, 1, 2, stride=1, bias=False), weight [[1, 10], [100, 1000]], input [[1, 2], [3, 4]]:
    // each input pixel stamps the kernel scaled by itself at its own offset, e.g.
    // out[1][1] = 1·1000 + 2·100 + 3·10 + 4·1 = 1234 (worked by hand; a flipped kernel would give 4321).
    const expected = [
      [1, 12, 20],
      [103, 1234, 2040],
      [300, 3400, 4000],
    ];
    expect(torchConvTranspose2d([[[1, 2], [3, 4]]], [[[[1, 10], [100, 1000]]]], 1, 0)).toEqual([expected]);
    const ours = fromTorchLayout('conv2dTranspose', Float32Array.from([1, 10, 100, 1000]), [1, 1, 2, 2]);
    const got = tf.tidy(() =>
      nhwcToChw(tf.conv2dTranspose(chwToNhwc([[[1, 2], [3, 4]]]), tf.tensor4d(ours, [2, 2, 1, 1]), [1, 3, 3, 1], 1, 'valid')),
    );
    expect(got).toEqual([expected]);
  });

  it('conv2dTranspose: IOHW → [kh,kw,out,in] gives tf.conv2dTranspose PyTorch ConvTranspose2d output (4×4, stride 2, padding 1 = "same")', () => {
    const [ci, co, k] = [3, 2, 4];
    const wFlat = ints([ci, co, k, k], 3);
    const xChw = nest(ints([ci, 3, 3], 4), [ci, 3, 3]);
    const expected = torchConvTranspose2d(xChw, nest(wFlat, [ci, co, k, k]), 2, 1);
    expect(expected[0]!.length).toBe(6);
    expect(ourShapeFromTorch('conv2dTranspose', [ci, co, k, k])).toEqual([k, k, co, ci]);
    const ours = fromTorchLayout('conv2dTranspose', Float32Array.from(wFlat), [ci, co, k, k]);
    const got = tf.tidy(() => nhwcToChw(tf.conv2dTranspose(chwToNhwc(xChw), tf.tensor4d(ours, [k, k, co, ci]), [1, 6, 6, co], 2, 'same')));
    expect(got).toEqual(expected);
    expect(Array.from(toTorchLayout('conv2dTranspose', ours, [k, k, co, ci]))).toEqual(wFlat);
  });

  it("conv2dTranspose: the generator's first layer, 1×1 z_id → 2×2 (kernel 2, stride 1, no padding)", () => {
    const [ci, co, k] = [4, 3, 2];
    const wFlat = ints([ci, co, k, k], 5);
    const xChw = nest(ints([ci, 1, 1], 6), [ci, 1, 1]);
    const expected = torchConvTranspose2d(xChw, nest(wFlat, [ci, co, k, k]), 1, 0);
    const ours = fromTorchLayout('conv2dTranspose', Float32Array.from(wFlat), [ci, co, k, k]);
    const got = tf.tidy(() => nhwcToChw(tf.conv2dTranspose(chwToNhwc(xChw), tf.tensor4d(ours, [k, k, co, ci]), [1, 2, 2, co], 1, 'valid')));
    expect(got).toEqual(expected);
  });

  it('dense: Linear [out,in] → [in,out] gives x·W the same output as PyTorch x·Wᵀ', () => {
    const [fin, fout] = [5, 3];
    const wFlat = ints([fout, fin], 7);
    const x = ints([fin], 8);
    const w = nest(wFlat, [fout, fin]) as number[][];
    const expected = w.map((row) => row.reduce((acc, v, i) => acc + v * x[i]!, 0));
    expect(torchShape('dense', [fin, fout])).toEqual([fout, fin]);
    const ours = fromTorchLayout('dense', Float32Array.from(wFlat), [fout, fin]);
    const got = tf.tidy(() => Array.from(tf.matMul(tf.tensor2d([x]), tf.tensor2d(ours, [fin, fout])).dataSync()));
    expect(got).toEqual(expected);
  });

  it('vectors (biases, BatchNorm statistics) are passed through unchanged', () => {
    const v = Float32Array.from([1, 2, 3]);
    expect(fromTorchLayout('vector', v, [3])).toBe(v);
    expect(torchShape('vector', [3])).toEqual([3]);
  });
});
