/**
 * Frozen PyTorch layers in tfjs, for recognition networks loaded from PyTorch state_dicts (insightface_ir.ts,
 * iresnet.ts): the state_dict checked against the architecture's key list, eval-mode BatchNorm as a per-channel
 * affine (folded into the preceding conv or the following Linear where that is exact), PyTorch's symmetric conv
 * padding (tfjs 'same' pads stride-2 convs on the bottom/right only), per-channel PReLU, and a Linear after an NCHW
 * flatten (its weight's columns permuted to NHWC order once, at load).
 *
 * Everything is a constant tensor (never a tf.Variable) and every op has a gradient on every backend, so L_id can
 * train through the network without touching it.
 */
import * as tf from '@tensorflow/tfjs';
import { fromTorchLayout } from '../weights/layout.js';
import type { SafetensorsFile } from '../weights/safetensors.js';
import { assignTensors } from '../weights/tensor_set.js';

/** One key of a state_dict, with its PyTorch shape. */
export interface TorchKey {
  name: string;
  shape: number[];
  /** BatchNorm's num_batches_tracked: checked when present, never needed. */
  counter?: boolean;
}

/** PyTorch's BatchNorm default ε (InsightFace_Pytorch and arcface_torch both keep it). */
export const BN_EPS = 1e-5;

/** The keys of a BatchNorm{1,2}d with `channels` channels, under `prefix`. */
export function batchNormKeys(prefix: string, channels: number): TorchKey[] {
  return [
    { name: `${prefix}.weight`, shape: [channels] },
    { name: `${prefix}.bias`, shape: [channels] },
    { name: `${prefix}.running_mean`, shape: [channels] },
    { name: `${prefix}.running_var`, shape: [channels] },
    { name: `${prefix}.num_batches_tracked`, shape: [], counter: true },
  ];
}

/** Trainable parameters of a key list (what PyTorch's `sum(p.numel() for p in net.parameters())` counts). */
export function parameterCount(keys: readonly TorchKey[]): number {
  return keys.filter((k) => !k.counter && !/\.running_(mean|var)$/.test(k.name)).reduce((a, k) => a + k.shape.reduce((x, y) => x * y, 1), 0);
}

/**
 * Checks `file` against the architecture's keys (every key present with its shape, nothing unexpected; one line
 * naming the first problems) and returns the float values by name.
 */
export function readStateDict(file: SafetensorsFile, keys: readonly TorchKey[], what: string, hint: string): Map<string, Float32Array> {
  const values = new Map<string, Float32Array>();
  assignTensors(
    file,
    keys.map((k) => ({
      name: k.name,
      shape: k.shape,
      layout: k.shape.length === 4 ? 'PyTorch OIHW' : k.shape.length === 2 ? 'PyTorch Linear [out,in]' : '',
      optional: k.counter,
      assign: k.counter ? undefined : (v: Float32Array) => values.set(k.name, v),
    })),
    { what, hint },
  );
  return values;
}

function take(values: Map<string, Float32Array>, name: string): Float32Array {
  const v = values.get(name);
  if (!v) throw new Error(`internal: weight '${name}' was not read`);
  return v;
}

/** Eval-mode BatchNorm as y = x·scale + shift, per channel (computed in float64, stored float32). */
export interface ChannelAffine {
  scale: Float32Array;
  shift: Float32Array;
}

export function batchNormAffine(values: Map<string, Float32Array>, prefix: string, eps = BN_EPS): ChannelAffine {
  const g = take(values, `${prefix}.weight`);
  const b = take(values, `${prefix}.bias`);
  const m = take(values, `${prefix}.running_mean`);
  const v = take(values, `${prefix}.running_var`);
  const scale = new Float32Array(g.length);
  const shift = new Float32Array(g.length);
  for (let i = 0; i < g.length; i++) {
    const s = g[i]! / Math.sqrt(v[i]! + eps);
    scale[i] = s;
    shift[i] = b[i]! - m[i]! * s;
  }
  return { scale, shift };
}

/** A frozen conv: HWIO filter (a following BatchNorm folded in when given), optional bias, PyTorch padding. */
export interface FrozenConv {
  filter: tf.Tensor4D;
  bias: tf.Tensor1D | null;
  stride: number;
  pad: number;
}

/** A conv from the OIHW weight `name`, with the BatchNorm that follows it folded in (conv(x, W·s) + t). */
export function frozenConv(values: Map<string, Float32Array>, name: string, shape: readonly number[], stride: number, pad: number, bn?: ChannelAffine): FrozenConv {
  const hwio = fromTorchLayout('conv2d', take(values, name), shape);
  const out = shape[0]!;
  if (bn) for (let i = 0; i < hwio.length; i++) hwio[i]! *= bn.scale[i % out]!;
  const [o, i, kh, kw] = shape as [number, number, number, number];
  return { filter: tf.tensor4d(hwio, [kh, kw, i, o]), bias: bn ? tf.tensor1d(bn.shift) : null, stride, pad };
}

export function applyConv(x: tf.Tensor4D, c: FrozenConv): tf.Tensor4D {
  const padded = c.pad > 0 ? tf.pad(x, [[0, 0], [c.pad, c.pad], [c.pad, c.pad], [0, 0]]) : x;
  const y = tf.conv2d(padded, c.filter, c.stride, 'valid');
  return c.bias ? tf.add(y, c.bias) : y;
}

/** The constants a conv holds (for disposal). */
export function convTensors(c: FrozenConv | null): tf.Tensor[] {
  return c ? [c.filter, ...(c.bias ? [c.bias] : [])] : [];
}

/** x·scale + shift per channel (a BatchNorm that cannot be folded: it precedes a zero-padded conv). */
export interface FrozenAffine {
  scale: tf.Tensor1D;
  shift: tf.Tensor1D;
}

export function frozenAffine(a: ChannelAffine): FrozenAffine {
  return { scale: tf.tensor1d(a.scale), shift: tf.tensor1d(a.shift) };
}

export function applyAffine(x: tf.Tensor4D, a: FrozenAffine): tf.Tensor4D {
  return tf.add(tf.mul(x, a.scale), a.shift);
}

/** PyTorch PReLU(num_parameters = C): max(0, x) + a_c·min(0, x). */
export function applyPrelu(x: tf.Tensor4D, alpha: tf.Tensor1D): tf.Tensor4D {
  return tf.prelu(x, alpha as unknown as tf.Tensor4D);
}

/**
 * The head shared by both families: BatchNorm2d(C) → (Dropout, off in eval) → flatten in NCHW order →
 * Linear(C·h·w, E) → BatchNorm1d(E), as one matrix and bias. The flatten order is PyTorch's (c, y, x); the
 * activations here are NHWC, flattened as (y, x, c), so the Linear's columns are permuted to match, and both
 * BatchNorms are folded in (an affine map on each side of a linear one is exact to fold).
 */
export interface FrozenHead {
  weight: tf.Tensor2D;
  bias: tf.Tensor1D;
}

export function frozenHead(linearWeight: Float32Array, linearBias: Float32Array, channels: number, side: number, before: ChannelAffine, after: ChannelAffine): FrozenHead {
  const e = linearBias.length;
  const hw = side * side;
  const k = channels * hw;
  if (linearWeight.length !== e * k) throw new Error(`head: Linear weight has ${linearWeight.length} values, expected ${e}×${k}`);
  const w = new Float32Array(k * e);
  const bias = new Float64Array(e);
  for (let o = 0; o < e; o++) bias[o] = linearBias[o]!;
  for (let c = 0; c < channels; c++) {
    const s = before.scale[c]!;
    const t = before.shift[c]!;
    for (let p = 0; p < hw; p++) {
      const torchCol = c * hw + p;
      const ourRow = p * channels + c;
      for (let o = 0; o < e; o++) {
        const v = linearWeight[o * k + torchCol]!;
        w[ourRow * e + o] = v * s * after.scale[o]!;
        bias[o] += v * t;
      }
    }
  }
  const b = new Float32Array(e);
  for (let o = 0; o < e; o++) b[o] = bias[o]! * after.scale[o]! + after.shift[o]!;
  return { weight: tf.tensor2d(w, [k, e]), bias: tf.tensor1d(b) };
}

export function applyHead(x: tf.Tensor4D, head: FrozenHead): tf.Tensor2D {
  const [b, h, w, c] = x.shape;
  return tf.add(tf.matMul(tf.reshape(x, [b, h * w * c]), head.weight), head.bias);
}

/** The value of a key as a 1-D constant (PReLU slopes). */
export function frozenVector(values: Map<string, Float32Array>, name: string): tf.Tensor1D {
  return tf.tensor1d(take(values, name));
}

export { take as stateDictValue };

/** What both InsightFace families are made of: stem conv (its BN folded in) → PReLU → residual blocks → head. */
export interface FrozenResNetParts<B> {
  stem: FrozenConv;
  stemPrelu: tf.Tensor1D;
  blocks: B[];
  head: FrozenHead;
}

/**
 * The forward pass and disposal both families share, on [B, 112, 112, 3] input in [−1, 1] (the 7×7 map the head's
 * Linear reads is 112 / 2⁴). Subclasses give the residual block and the constants it holds.
 */
export abstract class FrozenResNet<B> {
  static readonly INPUT_SIZE = 112;

  constructor(
    private readonly parts: FrozenResNetParts<B>,
    private readonly label: string,
  ) {}

  protected abstract block(x: tf.Tensor4D, b: B): tf.Tensor4D;
  protected abstract blockTensors(b: B): tf.Tensor[];

  /** The raw embedding (before L2 normalisation) of [B, 112, 112, 3] images in [−1, 1]. */
  forward(x: tf.Tensor4D): tf.Tensor2D {
    const s = FrozenResNet.INPUT_SIZE;
    if (x.shape[1] !== s || x.shape[2] !== s || x.shape[3] !== 3) throw new Error(`${this.label}.forward: expected [B, ${s}, ${s}, 3], got [${x.shape}]`);
    return tf.tidy(() => {
      let h = applyPrelu(applyConv(x, this.parts.stem), this.parts.stemPrelu);
      for (const b of this.parts.blocks) h = this.block(h, b);
      return applyHead(h, this.parts.head);
    });
  }

  dispose(): void {
    const { stem, stemPrelu, blocks, head } = this.parts;
    tf.dispose([...convTensors(stem), stemPrelu, head.weight, head.bias, ...blocks.flatMap((b) => this.blockTensors(b))]);
  }
}
