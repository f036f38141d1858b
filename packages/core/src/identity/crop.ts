import * as tf from '@tensorflow/tfjs';
import { affineScale, applyAffine, estimateSimilarity } from '../faces/alignment.js';
import { alignmentSpec, type FaceAlignment } from '../faces/templates.js';

/**
 * The square an identity network looks at, as fractions of the side of an FFHQ-style aligned face crop
 * (faces/alignment.ts): left, top, side. Identity networks want tight face crops; FaceShifter's inputs are loose.
 */
export interface CropBox {
  x: number;
  y: number;
  size: number;
}

/**
 * The same face region as `box` (fractions of an FFHQ-aligned crop) in a crop of another alignment: its centre and
 * side carried through the similarity between the two templates. The templates differ by a rotation of under 0.2°,
 * so the box stays axis-aligned. The packaged encoders' boxes were fitted on FFHQ crops; this keeps them on the
 * same part of the face whatever the alignment.
 */
export function cropBoxIn(box: CropBox, alignment: FaceAlignment): CropBox {
  if (alignment === 'ffhq') return box;
  const side = 256;
  const m = estimateSimilarity(alignmentSpec('ffhq', side).template, alignmentSpec(alignment, side).template);
  const [cx, cy] = applyAffine(m, [(box.x + box.size / 2) * side, (box.y + box.size / 2) * side]);
  const size = box.size * affineScale(m);
  return { x: cx / side - size / 2, y: cy / side - size / 2, size };
}

/**
 * Row weights of a 1-D crop-and-resize: output sample o of `outSize` covers input positions
 * [start + o*step, start + (o+1)*step) with step = length/outSize, filtered by a triangle whose support widens
 * with the shrink factor (antialiased like PIL's bilinear resize; plain bilinear when enlarging).
 * Taps that fall outside the input are clamped to the edge.
 */
function resizeWeights(inSize: number, start: number, length: number, outSize: number): Float32Array {
  const w = new Float32Array(outSize * inSize);
  const step = length / outSize;
  const support = Math.max(1, step);
  for (let o = 0; o < outSize; o++) {
    const centre = start + (o + 0.5) * step;
    let total = 0;
    const lo = Math.floor(centre - support - 1);
    const hi = Math.ceil(centre + support + 1);
    for (let i = lo; i <= hi; i++) {
      const t = Math.abs(i + 0.5 - centre) / support;
      if (t >= 1) continue;
      const v = 1 - t;
      const idx = Math.min(inSize - 1, Math.max(0, i));
      w[o * inSize + idx]! += v;
      total += v;
    }
    for (let i = 0; i < inSize; i++) w[o * inSize + i]! /= total;
  }
  return w;
}

/**
 * Crops `box` out of NHWC images and resizes it to `outSize` x `outSize` as two matrix products (rows, then
 * columns). Being linear with constant weights, it is exactly differentiable w.r.t. the images on every backend,
 * which tf.image.cropAndResize (no gradient) and StridedSlice (no gradient) are not, and it antialiases when
 * shrinking, which resizeBilinear does not.
 */
export class CropResize {
  private readonly cache = new Map<string, { rows: tf.Tensor2D; cols: tf.Tensor2D }>();

  constructor(readonly box: CropBox, readonly outSize: number) {}

  private weights(h: number, w: number): { rows: tf.Tensor2D; cols: tf.Tensor2D } {
    const key = `${h}x${w}`;
    let entry = this.cache.get(key);
    if (!entry) {
      const { x, y, size } = this.box;
      entry = tf.tidy(() => ({
        rows: tf.keep(tf.tensor2d(resizeWeights(h, y * h, size * h, this.outSize), [this.outSize, h])),
        cols: tf.keep(tf.tensor2d(resizeWeights(w, x * w, size * w, this.outSize), [this.outSize, w])),
      }));
      this.cache.set(key, entry);
    }
    return entry;
  }

  apply(images: tf.Tensor4D): tf.Tensor4D {
    const [b, h, w, c] = images.shape;
    const { rows, cols } = this.weights(h, w);
    const s = this.outSize;
    return tf.tidy(() => {
      // [B,H,W,C] -> [B,C,H,W] -> (.. x W) @ cols^T -> [B,C,H,s] -> [B,C,s,H] -> (.. x H) @ rows^T -> [B,C,s,s] -> [B,s,s,C]
      const planes = tf.reshape(tf.transpose(images, [0, 3, 1, 2]), [b * c * h, w]);
      const alongW = tf.reshape(tf.matMul(planes, cols, false, true), [b * c, h, s]);
      const swapped = tf.reshape(tf.transpose(alongW, [0, 2, 1]), [b * c * s, h]);
      const alongH = tf.reshape(tf.matMul(swapped, rows, false, true), [b, c, s, s]);
      // alongH is [B, C, x, y]; NHWC wants [B, y, x, C].
      return tf.transpose(alongH, [0, 3, 2, 1]) as tf.Tensor4D;
    });
  }

  dispose(): void {
    for (const { rows, cols } of this.cache.values()) tf.dispose([rows, cols]);
    this.cache.clear();
  }
}
