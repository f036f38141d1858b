/**
 * The fixed warps from this project's FFHQ-aligned crops (faces/alignment.ts) to the 112² input each InsightFace
 * network was trained on, and the exact preprocessing of the reference implementations.
 *
 * - `arcface-112` (insightface, arcface_torch iresnets): the 112² crop aligned to insightface's 5-point template
 *   (`arcface_dst`: eyes (38.29, 51.70) and (73.53, 51.50), nose (56.03, 71.74), mouth (41.55, 92.37) and
 *   (70.73, 92.20), pixel-index coordinates as cv2/skimage use them).
 * - `faceshifter-256` (taotaonice/FaceShifter with InsightFace_Pytorch's IR-SE50): its faces are aligned to 256²
 *   with that template shrunk by 0.85 about the centre and scaled by 256/112 (its `warp_and_crop_face`), and the
 *   identity network sees `F.interpolate(X[:, :, 19:237, 19:237], [112, 112], mode='bilinear', align_corners=True)`.
 *
 * Each is one affine map from the network's 112² input (pixel indices) to the input image (pixel indices),
 * sampled bilinearly with clamped borders: for crops in another alignment (`ffhq`, this project's default; see
 * faces/templates.ts for all three), the least-squares similarity (equal weights, as insightface fits photo
 * landmarks) from the network's template to the crop's; for crops in the network's own reference alignment
 * (`reference` for faceshifter-256, `insightface` for arcface-112, or `native`, which names whichever is the
 * network's), only the reference's own resampling, which at 256² (faceshifter) or 112² (insightface) is the
 * reference's exactly.
 *
 * The sampler is a gather with constant indices and weights. tfjs's own gather gradient needs UnsortedSegmentSum,
 * which the wasm backend lacks, so its gradient is given directly as the adjoint: a ScatterNd (which sums
 * duplicate indices) of the weighted output gradient.
 */
import * as tf from '@tensorflow/tfjs';
import { applyAffine, estimateSimilarity, FFHQ_TEMPLATE, invertAffine, type Affine, type Landmarks5, type Point } from '../faces/alignment.js';
import { alignmentSpec, ARCFACE_TEMPLATE_112, referenceTemplatePixels, type FaceAlignment } from '../faces/templates.js';

export { ARCFACE_TEMPLATE_112 };

/** taotaonice/FaceShifter's 256² alignment: (arcface_dst − 56)·0.85 + 56, times 256/112 (pixel indices). */
export const FACESHIFTER_TEMPLATE_256: Landmarks5 = referenceTemplatePixels(256);

/** The crop the reference cuts from its 256² face before resizing to 112 (rows and columns 19..236). */
const FACESHIFTER_CROP = { start: 19, size: 218, side: 256 } as const;

export type NetworkAlignment = 'arcface-112' | 'faceshifter-256';

/**
 * What an encoder is given: face crops in one of the named alignments (faces/templates.ts) at any size; `native`,
 * the crops of the network's own reference (`reference` for the faceshifter-256 networks, `insightface` for the
 * arcface-112 ones); or `aligned-112`, a 112² crop in the network's own alignment fed with no resampling.
 */
export type EncoderInputAlignment = FaceAlignment | 'native' | 'aligned-112';

/** The named crop alignment each network's own reference feeds it. */
export function nativeCropAlignment(alignment: NetworkAlignment): FaceAlignment {
  return alignment === 'arcface-112' ? 'insightface' : 'reference';
}

export const NET_SIZE = 112;

/** Composition: first `inner`, then `outer`. */
function compose(outer: Affine, inner: Affine): Affine {
  const [a, b, c, d, e, f] = outer;
  const [p, q, r, s, t, u] = inner;
  return [a * p + b * s, a * q + b * t, a * r + b * u + c, d * p + e * s, d * q + e * t, d * r + e * u + f];
}

const shift = (by: number): Affine => [1, 0, by, 0, 1, by];
const scale = (k: number): Affine => [k, 0, 0, 0, k, 0];

/** The faceshifter crop-and-resize, network pixel index → 256² pixel index (align_corners = true). */
const FACESHIFTER_RESIZE: Affine = [(FACESHIFTER_CROP.size - 1) / (NET_SIZE - 1), 0, FACESHIFTER_CROP.start, 0, (FACESHIFTER_CROP.size - 1) / (NET_SIZE - 1), FACESHIFTER_CROP.start];

/** The network's own 5-point template in its 112² input (pixel indices). */
export function networkTemplate(alignment: NetworkAlignment): Point[] {
  if (alignment === 'arcface-112') return [...ARCFACE_TEMPLATE_112];
  const inv = invertAffine(FACESHIFTER_RESIZE);
  return FACESHIFTER_TEMPLATE_256.map((p) => applyAffine(inv, p));
}

/**
 * The map from the network's 112² input (pixel indices) to an input image of side `side` (pixel indices).
 * Pixel (i, j) has its centre at continuous coordinate (i + 0.5, j + 0.5), the convention of faces/alignment.ts.
 *
 * A faceshifter-256 network on `reference` crops gets the reference's own resampling ([19:237], then
 * align_corners = true), exact at 256²; every other pair, the unweighted least-squares similarity from the network's
 * template to the crop's (exact where the two templates have the same shape: an arcface-112 network on
 * `insightface` crops).
 */
export function inputMap(alignment: NetworkAlignment, input: EncoderInputAlignment, side: number): Affine {
  if (input === 'aligned-112') return [1, 0, 0, 0, 1, 0];
  const crop = input === 'native' ? nativeCropAlignment(alignment) : input;
  if (alignment === 'faceshifter-256' && crop === 'reference') {
    // The reference's own resampling, then the image's scale relative to the reference's size (half-pixel centres).
    return compose(compose(shift(-0.5), compose(scale(side / FACESHIFTER_CROP.side), shift(0.5))), FACESHIFTER_RESIZE);
  }
  const own = networkTemplate(alignment).map(([x, y]) => [x + 0.5, y + 0.5] as Point);
  const s = estimateSimilarity(own, alignmentSpec(crop, side).template);
  return compose(shift(-0.5), compose(s, shift(0.5)));
}

/**
 * Where the FFHQ template's five points land in the network's 112² input after the `ffhq` warp, against the
 * network's own template: the error the fixed warp leaves (the templates differ in shape, not only in framing).
 */
export function templateLandmarkError(alignment: NetworkAlignment): { perPoint: number[]; max: number; mean: number } {
  const side = 256;
  const inv = invertAffine(inputMap(alignment, 'ffhq', side));
  const own = networkTemplate(alignment);
  const perPoint = FFHQ_TEMPLATE.map(([x, y], i) => {
    const p = applyAffine(inv, [x * side - 0.5, y * side - 0.5]);
    return Math.hypot(p[0] - own[i]![0], p[1] - own[i]![1]);
  });
  return { perPoint, max: Math.max(...perPoint), mean: perPoint.reduce((a, b) => a + b, 0) / perPoint.length };
}

/**
 * Bilinear resampling of NHWC images through a fixed affine map (output pixel index → input pixel index), with
 * clamped borders. At integer-aligned maps it reproduces F.interpolate(bilinear, align_corners=True) exactly.
 */
export class AffineSampler {
  private readonly indices: tf.Tensor1D;
  private readonly scatterIndices: tf.Tensor2D;
  private readonly weights: tf.Tensor4D;

  constructor(
    readonly map: Affine,
    readonly outSize: number,
    readonly inHeight: number,
    readonly inWidth: number,
  ) {
    const p = outSize * outSize;
    const idx = new Int32Array(4 * p);
    const w = new Float32Array(4 * p);
    const clampX = (v: number): number => Math.min(inWidth - 1, Math.max(0, v));
    const clampY = (v: number): number => Math.min(inHeight - 1, Math.max(0, v));
    for (let oy = 0; oy < outSize; oy++) {
      for (let ox = 0; ox < outSize; ox++) {
        const [x, y] = applyAffine(map, [ox, oy]);
        const cx = Math.min(inWidth - 1, Math.max(0, x));
        const cy = Math.min(inHeight - 1, Math.max(0, y));
        const x0 = Math.floor(cx);
        const y0 = Math.floor(cy);
        const fx = cx - x0;
        const fy = cy - y0;
        const k = oy * outSize + ox;
        const taps: [number, number, number][] = [
          [clampY(y0), clampX(x0), (1 - fx) * (1 - fy)],
          [clampY(y0), clampX(x0 + 1), fx * (1 - fy)],
          [clampY(y0 + 1), clampX(x0), (1 - fx) * fy],
          [clampY(y0 + 1), clampX(x0 + 1), fx * fy],
        ];
        taps.forEach(([ty, tx, tw], t) => {
          idx[t * p + k] = ty * inWidth + tx;
          w[t * p + k] = tw;
        });
      }
    }
    // Kept: samplers are built lazily, possibly inside a caller's tidy, and live until dispose().
    this.indices = tf.keep(tf.tensor1d(idx, 'int32'));
    this.scatterIndices = tf.keep(tf.tensor2d(idx, [4 * p, 1], 'int32'));
    this.weights = tf.keep(tf.tensor4d(w, [1, 4, p, 1]));
  }

  apply(images: tf.Tensor4D): tf.Tensor4D {
    const [b, h, w, c] = images.shape;
    if (h !== this.inHeight || w !== this.inWidth) throw new Error(`AffineSampler: built for ${this.inHeight}×${this.inWidth} input, got ${h}×${w}`);
    const s = this.outSize;
    const p = s * s;
    const sample = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const x = args[0] as tf.Tensor;
      const value = tf.tidy(() => {
        const taps = tf.reshape(tf.gather(tf.reshape(x, [b, h * w, c]), this.indices, 1), [b, 4, p, c]);
        return tf.reshape(tf.sum(tf.mul(taps, this.weights), 1), [b, s, s, c]);
      });
      const gradFunc = (dy: tf.Tensor): tf.Tensor =>
        tf.tidy(() => {
          // The adjoint of the gather: each tap's weighted gradient summed back into its source pixel.
          const weighted = tf.mul(tf.reshape(dy, [b, 1, p, c]), this.weights); // [B, 4, P, C]
          const updates = tf.reshape(tf.transpose(weighted, [1, 2, 0, 3]), [4 * p, b * c]);
          const dx = tf.scatterND(this.scatterIndices, updates, [h * w, b * c]);
          return tf.transpose(tf.reshape(dx, [h, w, b, c]), [2, 0, 1, 3]);
        });
      return { value, gradFunc };
    });
    return sample(images) as tf.Tensor4D;
  }

  dispose(): void {
    tf.dispose([this.indices, this.scatterIndices, this.weights]);
  }
}
