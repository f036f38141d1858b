import seedrandom from 'seedrandom';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerCpuKernels, registerWasmTrainingKernels } from '../../register_all_kernels.js';

/**
 * Relative error of `actual` against `reference`: max |a - r| over the largest |r| (floored at 1e-12, so an
 * all-zero reference demands an all-zero result). The kernel tests require <= 1e-4.
 */
export function relativeError(actual: ArrayLike<number>, reference: ArrayLike<number>): number {
  if (actual.length !== reference.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < reference.length; i++) {
    const d = Math.abs(actual[i]! - reference[i]!);
    diff = d > diff || Number.isNaN(d) ? d : diff;
    scale = Math.max(scale, Math.abs(reference[i]!));
  }
  return diff / Math.max(scale, 1e-12);
}

/** Makes the wasm backend available with the training kernels registered, whichever backend the setup file chose. */
export async function useBackend(name: 'cpu' | 'wasm'): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`backend '${name}' failed to initialise`);
  if (name === 'wasm') registerWasmTrainingKernels();
  else registerCpuKernels();
}

/** Intermediates a wasm kernel leaves behind: engine tensors and backend buffers (kernels allocate below the engine). */
export function wasmMemoryCounts(): { tensors: number; buffers: number } {
  return { tensors: tf.memory().numTensors, buffers: tf.engine().backend.numDataIds() };
}

export interface KernelComparison {
  /** Relative error of the wasm output against the cpu output. */
  error: number;
  shape: number[];
  /** Engine tensors and backend buffers left after the wasm call minus before (the output disposed): 0 when nothing leaks. */
  leakedTensors: number;
  leakedBuffers: number;
}

/**
 * Runs one kernel on the cpu backend (the reference) and on wasm, with the same inputs, and compares. The wasm
 * call runs twice: the first moves the inputs onto wasm, the second is the one whose memory is counted.
 */
export async function compareKernel(
  kernelName: string,
  inputs: Record<string, tf.Tensor>,
  attrs: Record<string, unknown>,
): Promise<KernelComparison> {
  const run = (): tf.Tensor => tf.engine().runKernel(kernelName, inputs, attrs as tf.NamedAttrMap) as tf.Tensor;
  await useBackend('cpu');
  const refTensor = run();
  const reference = await refTensor.data();
  refTensor.dispose();
  await useBackend('wasm');
  run().dispose();
  const before = wasmMemoryCounts();
  const out = run();
  const actual = await out.data();
  const shape = out.shape;
  out.dispose();
  const after = wasmMemoryCounts();
  return {
    error: relativeError(actual, reference),
    shape,
    leakedTensors: after.tensors - before.tensors,
    leakedBuffers: after.buffers - before.buffers,
  };
}

/** Deterministic uniform numbers in [0, 1), for test cases that must not change between runs. */
export function seededRandom(seed: number): () => number {
  return seedrandom(String(seed));
}

export type Padding = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

export interface ConvCase {
  /** [b, h, w, cin] */
  x: [number, number, number, number];
  /** [kh, kw] */
  kernel: [number, number];
  strides: [number, number];
  pad: Padding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  /** Output channels (conv) or channel multiplier (depthwise). */
  out: number;
}

export function describeCase(c: ConvCase): string {
  const pad = typeof c.pad === 'object' ? `[${c.pad[1].join(',')}|${c.pad[2].join(',')}]` : String(c.pad);
  return `x=${c.x.join('x')} k=${c.kernel.join('x')} s=${c.strides.join(',')} pad=${pad}${c.dimRoundingMode ? `/${c.dimRoundingMode}` : ''} out=${c.out}`;
}

/**
 * Conv geometries covering what training meets: every filter size 1..4 (square and not), strides 1, 2 and mixed,
 * 'same', 'valid', explicit symmetric and asymmetric padding, numeric padding with each rounding mode, odd and
 * non-square inputs, batch > 1; plus random ones from a fixed seed, and the model's own (4x4/2 pad 1 encoder and
 * transposed-conv decoder, 4x4 pad 2 discriminator on odd sizes).
 */
export function convCases(seed: number, randomCount: number, maxOut = 5): ConvCase[] {
  const cases: ConvCase[] = [
    { x: [2, 9, 9, 4], kernel: [4, 4], strides: [2, 2], pad: [[0, 0], [1, 1], [1, 1], [0, 0]], out: 3 },
    { x: [2, 17, 17, 3], kernel: [4, 4], strides: [2, 2], pad: [[0, 0], [2, 2], [2, 2], [0, 0]], out: 2 },
    { x: [1, 9, 9, 2], kernel: [4, 4], strides: [1, 1], pad: [[0, 0], [2, 2], [2, 2], [0, 0]], out: 3 },
    { x: [2, 8, 6, 3], kernel: [4, 4], strides: [2, 2], pad: 1, out: 4 },
    { x: [2, 7, 10, 3], kernel: [3, 3], strides: [1, 1], pad: 1, dimRoundingMode: 'floor', out: 2 },
    { x: [2, 7, 10, 3], kernel: [3, 3], strides: [2, 2], pad: 1, dimRoundingMode: 'ceil', out: 2 },
    { x: [2, 7, 10, 3], kernel: [3, 3], strides: [2, 2], pad: 2, dimRoundingMode: 'round', out: 2 },
    { x: [3, 5, 4, 2], kernel: [1, 1], strides: [2, 2], pad: 'same', out: 3 },
    { x: [2, 6, 5, 2], kernel: [1, 1], strides: [1, 1], pad: [[0, 0], [2, 1], [0, 3], [0, 0]], out: 2 },
    { x: [2, 9, 8, 3], kernel: [2, 3], strides: [1, 2], pad: 'same', out: 2 },
    { x: [2, 9, 8, 3], kernel: [3, 2], strides: [2, 1], pad: 'valid', out: 2 },
  ];
  const rand = seededRandom(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const pads = ['same', 'valid', 'explicit', 'asymmetric'] as const;
  for (let i = 0; i < randomCount; i++) {
    const kernel: [number, number] = [int(1, 4), int(1, 4)];
    const s = int(1, 2);
    const strides: [number, number] = rand() < 0.8 ? [s, s] : [int(1, 2), int(1, 2)];
    const kind = pads[i % pads.length]!;
    let pad: Padding = kind === 'same' || kind === 'valid' ? kind : 0;
    if (kind === 'explicit') {
      const p = int(0, 2);
      pad = [[0, 0], [p, p], [p, p], [0, 0]];
    } else if (kind === 'asymmetric') {
      pad = [[0, 0], [int(0, 2), int(0, 2)], [int(0, 2), int(0, 2)], [0, 0]];
    }
    const h = int(kernel[0] + 1, 13);
    const w = int(kernel[1] + 1, 13);
    cases.push({ x: [int(2, 3), h, w, int(1, 6)], kernel, strides, pad, out: int(1, maxOut) });
  }
  return cases;
}

/** Seeded N(0, 1) tensors for one conv case: x, the filter, and a dy of the forward output's shape. */
export function convTensors(
  c: ConvCase,
  depthwise: boolean,
): { x: tf.Tensor4D; filter: tf.Tensor4D; dy: tf.Tensor4D; attrs: Record<string, unknown> } {
  const [, , , cin] = c.x;
  const filter = tf.randomNormal<tf.Rank.R4>([...c.kernel, cin, c.out], 0, 1, 'float32', 11);
  const x = tf.randomNormal<tf.Rank.R4>(c.x, 0, 1, 'float32', 12);
  const attrs = { strides: c.strides, pad: c.pad, dimRoundingMode: c.dimRoundingMode, dataFormat: 'NHWC', dilations: [1, 1] };
  const yShape = tf.tidy(() =>
    depthwise
      ? tf.depthwiseConv2d(x, filter, c.strides, c.pad, 'NHWC', 1, c.dimRoundingMode).shape
      : tf.conv2d(x, filter, c.strides, c.pad, 'NHWC', 1, c.dimRoundingMode).shape,
  );
  const dy = tf.randomNormal<tf.Rank.R4>(yShape, 0, 1, 'float32', 13);
  return { x, filter, dy, attrs };
}

/**
 * Weight-heavy geometries (few output pixels, many output channels: the generator's 1024-channel blocks at 2x2..16x16,
 * scaled down), which the forward and input-gradient kernels run as one GEMM instead of a convolution.
 * `pixelsOf` says which pixel count must not exceed the channels: the forward output's or dy's, which are the same.
 */
export function weightHeavyConvCases(seed: number, count: number): ConvCase[] {
  const rand = seededRandom(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const cases: ConvCase[] = [
    { x: [2, 2, 2, 8], kernel: [3, 3], strides: [1, 1], pad: 'same', out: 32 },
    { x: [1, 4, 4, 6], kernel: [4, 4], strides: [2, 2], pad: [[0, 0], [1, 1], [1, 1], [0, 0]], out: 24 },
    { x: [2, 3, 5, 16], kernel: [1, 1], strides: [1, 1], pad: 'valid', out: 40 },
    { x: [2, 5, 3, 4], kernel: [2, 3], strides: [2, 1], pad: 'same', out: 32 },
    { x: [1, 5, 5, 3], kernel: [4, 4], strides: [1, 1], pad: [[0, 0], [2, 2], [2, 2], [0, 0]], out: 40 },
  ];
  const pads = ['same', 'valid', 'explicit', 'asymmetric'] as const;
  while (cases.length < 5 + count) {
    const kernel: [number, number] = [int(1, 4), int(1, 4)];
    const s = int(1, 2);
    const kind = pads[cases.length % pads.length]!;
    let pad: Padding = kind === 'same' || kind === 'valid' ? kind : 0;
    if (kind === 'explicit') {
      const p = int(0, 2);
      pad = [[0, 0], [p, p], [p, p], [0, 0]];
    } else if (kind === 'asymmetric') {
      pad = [[0, 0], [int(0, 2), int(0, 2)], [int(0, 2), int(0, 2)], [0, 0]];
    }
    const c: ConvCase = { x: [int(1, 2), int(kernel[0], 5), int(kernel[1], 5), int(2, 8)], kernel, strides: [s, s], pad, out: int(24, 40) };
    const [, ho, wo] = tf.backend_util.computeConv2DInfo(c.x, [...c.kernel, c.x[3], c.out], c.strides, 1, c.pad).outShape;
    if (c.x[0] * ho * wo <= c.out) cases.push(c);
  }
  return cases;
}
