import * as tf from '@tensorflow/tfjs';

/**
 * FaceShifter's augmentation (faceshifter.md §10): colour jitter (brightness 0.2, contrast 0.2, saturation 0.2,
 * hue 0.01) and horizontal flips, with torchvision's ColorJitter definitions, batched as tf ops.
 *
 * The four adjustments run in a fixed order (brightness, contrast, saturation, hue), where torchvision draws a
 * random order per image; with factors this close to 1 the order changes a pixel by well under 1%.
 * Hue is rotated in YIQ space (a linear map) rather than through HSV: the same rotation of the chroma plane for
 * small angles, and cheap to batch.
 */
export interface ColorJitter {
  brightness: number;
  contrast: number;
  saturation: number;
  hue: number;
}

export const FACESHIFTER_JITTER: ColorJitter = { brightness: 0.2, contrast: 0.2, saturation: 0.2, hue: 0.01 };

/** One image's random augmentation, drawn on the JS side so that a seed fixes it. */
export interface AugmentParams {
  flip: boolean;
  brightness: number;
  contrast: number;
  saturation: number;
  /** Hue shift as a fraction of a full turn. */
  hue: number;
}

export const IDENTITY_AUGMENT: AugmentParams = { flip: false, brightness: 1, contrast: 1, saturation: 1, hue: 0 };

/** Draws augmentation parameters from `rng` (uniform factors in [1-j, 1+j], hue in [-h, h]). */
export function drawAugment(rng: () => number, jitter: ColorJitter | false, flip: boolean): AugmentParams {
  const factor = (j: number): number => 1 - j + 2 * j * rng();
  return {
    flip: flip ? rng() < 0.5 : false,
    brightness: jitter ? factor(jitter.brightness) : 1,
    contrast: jitter ? factor(jitter.contrast) : 1,
    saturation: jitter ? factor(jitter.saturation) : 1,
    hue: jitter ? (2 * rng() - 1) * jitter.hue : 0,
  };
}

const LUMA = [0.299, 0.587, 0.114];
// RGB <-> YIQ (NTSC).
const RGB2YIQ = [
  [0.299, 0.587, 0.114],
  [0.595716, -0.274453, -0.321263],
  [0.211456, -0.522591, 0.311135],
];
const YIQ2RGB = [
  [1, 0.9563, 0.621],
  [1, -0.2721, -0.6474],
  [1, -1.107, 1.7046],
];

function mat3(a: number[][], b: number[][]): number[][] {
  return a.map((row) => [0, 1, 2].map((j) => row[0]! * b[0]![j]! + row[1]! * b[1]![j]! + row[2]! * b[2]![j]!));
}

/** The 3x3 RGB map that rotates hue by `turns` of a full turn (as a right-multiplied matrix for [.., 3] pixels). */
function hueMatrix(turns: number): number[][] {
  const t = 2 * Math.PI * turns;
  const c = Math.cos(t);
  const s = Math.sin(t);
  const rot = [
    [1, 0, 0],
    [0, c, -s],
    [0, s, c],
  ];
  const m = mat3(YIQ2RGB, mat3(rot, RGB2YIQ)); // column-vector form: rgb' = m @ rgb
  return [0, 1, 2].map((i) => [0, 1, 2].map((j) => m[j]![i]!)); // transpose for pixels as rows
}

/**
 * Applies per-image augmentation to a batch of [B, H, W, 3] images in [0, 1]; returns images in [0, 1].
 * Each adjustment clamps to [0, 1] as torchvision does.
 */
export function augmentBatch(images: tf.Tensor4D, params: readonly AugmentParams[]): tf.Tensor4D {
  const [b, h, w] = images.shape;
  if (params.length !== b) throw new Error(`augmentBatch: ${params.length} parameter sets for a batch of ${b}.`);
  return tf.tidy(() => {
    const perImage = (key: 'brightness' | 'contrast' | 'saturation'): tf.Tensor4D => tf.tensor4d(params.map((p) => p[key]), [b, 1, 1, 1]);
    let x: tf.Tensor4D = images;
    if (params.some((p) => p.flip)) {
      const flipped = tf.reverse(x, 2);
      const m = tf.tensor4d(params.map((p) => (p.flip ? 1 : 0)), [b, 1, 1, 1]);
      x = tf.add(tf.mul(flipped, m), tf.mul(x, tf.sub(1, m)));
    }
    const luma = tf.tensor1d(LUMA);
    const grey = (t: tf.Tensor4D): tf.Tensor4D => tf.sum(tf.mul(t, luma), -1, true) as tf.Tensor4D;
    if (params.some((p) => p.brightness !== 1)) x = tf.clipByValue(tf.mul(x, perImage('brightness')), 0, 1) as tf.Tensor4D;
    if (params.some((p) => p.contrast !== 1)) {
      const mean = tf.mean(grey(x), [1, 2, 3], true);
      const c = perImage('contrast');
      x = tf.clipByValue(tf.add(tf.mul(x, c), tf.mul(mean, tf.sub(1, c))), 0, 1) as tf.Tensor4D;
    }
    if (params.some((p) => p.saturation !== 1)) {
      const s = perImage('saturation');
      x = tf.clipByValue(tf.add(tf.mul(x, s), tf.mul(grey(x), tf.sub(1, s))), 0, 1) as tf.Tensor4D;
    }
    if (params.some((p) => p.hue !== 0)) {
      const m = tf.tensor3d(params.map((p) => hueMatrix(p.hue)), [b, 3, 3]);
      x = tf.clipByValue(tf.reshape(tf.matMul(tf.reshape(x, [b, h * w, 3]), m), [b, h, w, 3]), 0, 1) as tf.Tensor4D;
    }
    return x === images ? tf.clone(images) : x;
  });
}
