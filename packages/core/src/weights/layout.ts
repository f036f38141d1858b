/**
 * Weight layouts: this project (tfjs, NHWC) versus the PyTorch reference.
 *
 * | kind            | tfjs (ours)                       | PyTorch                          | to PyTorch perm |
 * |-----------------|-----------------------------------|----------------------------------|-----------------|
 * | conv2d          | kernel [kh, kw, in, out] (HWIO)   | weight [out, in, kh, kw] (OIHW)  | [3, 2, 0, 1]    |
 * | conv2dTranspose | kernel [kh, kw, out, in]          | weight [in, out, kh, kw] (IOHW)  | [3, 2, 0, 1]    |
 * | dense           | kernel [in, out]                  | weight [out, in]                 | [1, 0]          |
 * | vector          | bias, BN gamma/beta/moving stats  | bias, BN weight/bias/running_*   | identity        |
 *
 * Transposed convolutions need no spatial flip: both frameworks define them as the gradient of the forward
 * convolution with respect to its input, using the forward kernel as stored. tf.conv2dTranspose's filter is the
 * filter of that forward conv2d (HWIO with I = the transposed conv's output channels), and PyTorch's
 * ConvTranspose2d weight is that forward Conv2d's OIHW weight (O = the transposed conv's input channels).
 * layout.test.ts proves this on a hand-computed example.
 */

/** How a weight's layout differs between this project and the PyTorch reference. */
export type LayoutKind = 'conv2d' | 'conv2dTranspose' | 'dense' | 'vector';

/** Axis permutation taking our layout to PyTorch's (`pt.shape[i] = ours.shape[perm[i]]`). */
const TO_TORCH: Record<LayoutKind, readonly number[] | null> = {
  conv2d: [3, 2, 0, 1],
  conv2dTranspose: [3, 2, 0, 1],
  dense: [1, 0],
  vector: null,
};

/** The inverse permutation of `perm`. */
function invert(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

/** Axis permutation taking our layout to PyTorch's, or null when the layouts agree. */
export function toTorchPerm(kind: LayoutKind): readonly number[] | null {
  return TO_TORCH[kind];
}

/** Axis permutation taking PyTorch's layout to ours, or null when the layouts agree. */
export function fromTorchPerm(kind: LayoutKind): readonly number[] | null {
  const perm = TO_TORCH[kind];
  return perm ? invert(perm) : null;
}

/** `shape` permuted: `out[i] = shape[perm[i]]`. */
export function permuteShape(shape: readonly number[], perm: readonly number[] | null): number[] {
  return perm ? perm.map((p) => shape[p]!) : [...shape];
}

/** The PyTorch shape of a weight of ours. */
export function torchShape(kind: LayoutKind, ourShape: readonly number[]): number[] {
  return permuteShape(ourShape, toTorchPerm(kind));
}

/** Our shape of a weight given its PyTorch shape. */
export function ourShapeFromTorch(kind: LayoutKind, torch: readonly number[]): number[] {
  return permuteShape(torch, fromTorchPerm(kind));
}

type NumericArray = Float32Array | Float64Array | Int32Array;

/**
 * Permutes the axes of a row-major array (rank <= 4): `out[i0..i3] = data[j]` where out axis k is input axis
 * perm[k]. An identity or null permutation returns `data` itself. A pure index permutation, so bit-exact.
 */
export function permuteAxes<T extends NumericArray>(data: T, shape: readonly number[], perm: readonly number[] | null): T {
  if (!perm || perm.every((p, i) => p === i)) return data;
  const rank = shape.length;
  if (perm.length !== rank || rank > 4) {
    throw new Error(`permuteAxes: permutation [${perm.join(',')}] does not fit shape [${shape.join(',')}] (rank <= 4)`);
  }
  // Pad to rank 4 with leading size-1 axes so one loop nest serves every rank.
  const pad = 4 - rank;
  const s = [1, 1, 1, 1];
  shape.forEach((d, i) => (s[pad + i] = d));
  const p = [0, 1, 2, 3];
  perm.forEach((q, i) => (p[pad + i] = q + pad));
  const inStride = [s[1]! * s[2]! * s[3]!, s[2]! * s[3]!, s[3]!, 1];
  const outShape = p.map((q) => s[q]!);
  const st = p.map((q) => inStride[q]!);
  const out = new (data.constructor as { new (n: number): T })(data.length);
  const [n0, n1, n2, n3] = outShape as [number, number, number, number];
  const [s0, s1, s2, s3] = st as [number, number, number, number];
  let o = 0;
  for (let a = 0; a < n0; a++) {
    for (let b = 0; b < n1; b++) {
      for (let c = 0; c < n2; c++) {
        let j = a * s0 + b * s1 + c * s2;
        for (let d = 0; d < n3; d++, j += s3) out[o++] = data[j]!;
      }
    }
  }
  return out;
}

/** Our weight values in PyTorch layout. */
export function toTorchLayout<T extends NumericArray>(kind: LayoutKind, data: T, ourShape: readonly number[]): T {
  return permuteAxes(data, ourShape, toTorchPerm(kind));
}

/** PyTorch weight values in our layout. */
export function fromTorchLayout<T extends NumericArray>(kind: LayoutKind, data: T, torch: readonly number[]): T {
  return permuteAxes(data, torch, fromTorchPerm(kind));
}

/**
 * PyTorch BatchNorm2d names for a Keras/tfjs BatchNormalization weight name suffix (gamma → weight, ...).
 * `num_batches_tracked` has no tfjs counterpart: written as an I64 scalar on export and ignored on import.
 */
export const BATCH_NORM_TORCH_NAMES = {
  gamma: 'weight',
  beta: 'bias',
  moving_mean: 'running_mean',
  moving_variance: 'running_var',
} as const;
