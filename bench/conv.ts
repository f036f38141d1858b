import * as tf from '@tensorflow/tfjs';
import { medianMs, type TimingOptions } from './timing.js';

export interface ConvCase {
  name: string;
  input: [number, number, number, number];
  kernel: number;
  outChannels: number;
  stride: number;
  pad: 'same' | 'valid' | number;
}

/** The two cases of the foundation issue: the generator's 3×3 conv and the encoder/discriminator's 4×4 stride-2 conv. */
export const CONV_CASES: readonly ConvCase[] = [
  { name: 'conv3x3 64->64 [4,64,64,64]', input: [4, 64, 64, 64], kernel: 3, outChannels: 64, stride: 1, pad: 'same' },
  { name: 'conv4x4s2 64->128 [4,64,64,64]', input: [4, 64, 64, 64], kernel: 4, outChannels: 128, stride: 2, pad: 1 },
];

export type ConvPass = 'forward' | 'input' | 'filter';
export interface ConvResult {
  name: string;
  pass: ConvPass;
  ms: number;
  gflops: number;
}

function explicitPad(pad: ConvCase['pad']): 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]] {
  return typeof pad === 'number' ? [[0, 0], [pad, pad], [pad, pad], [0, 0]] : pad;
}

/** Times the forward conv and both of its gradients, each as the kernel that `tf.grad` dispatches to. */
export async function benchConv(c: ConvCase, timing?: TimingOptions): Promise<ConvResult[]> {
  const [b, , , cin] = c.input;
  const pad = explicitPad(c.pad);
  const x = tf.randomNormal<tf.Rank.R4>(c.input, 0, 1, 'float32', 1);
  const filterShape: [number, number, number, number] = [c.kernel, c.kernel, cin, c.outChannels];
  const w = tf.randomNormal<tf.Rank.R4>(filterShape, 0, 0.1, 'float32', 2);
  const yShape = tf.tidy(() => tf.conv2d(x, w, c.stride, pad).shape);
  const dy = tf.randomNormal(yShape, 0, 1, 'float32', 3);
  const [, ho, wo, co] = yShape as [number, number, number, number];
  const flops = 2 * b * ho * wo * co * c.kernel * c.kernel * cin;
  const engine = tf.engine();
  const attrs = { strides: c.stride, pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
  const passes: Record<ConvPass, () => tf.Tensor> = {
    forward: () => tf.conv2d(x, w, c.stride, pad),
    input: () => engine.runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: c.input } as never) as tf.Tensor,
    filter: () => engine.runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape } as never) as tf.Tensor,
  };
  const results: ConvResult[] = [];
  try {
    for (const pass of ['forward', 'input', 'filter'] as const) {
      const ms = await medianMs(passes[pass], timing);
      results.push({ name: c.name, pass, ms: round(ms, 1), gflops: round(flops / ms / 1e6, 1) });
    }
  } finally {
    tf.dispose([x, w, dy]);
  }
  return results;
}

export function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
