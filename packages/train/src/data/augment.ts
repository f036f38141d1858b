/**
 * FaceShifter's augmentation (faceshifter.md §10): colour jitter (brightness 0.2, contrast 0.2, saturation 0.2,
 * hue 0.01) with torchvision ColorJitter's definitions, and horizontal flips.
 *
 * It runs in JS while the batch buffer is filled, as one 3x3 colour matrix plus offset per image and one pass over
 * the 8-bit pixels (flip, colour, clip, map to [-1, 1]). Measured on 8 images of 256x256 on wasm: the same jitter
 * and flip as batched tf ops took 134 ms (tf.reverse alone 65 ms), this fused JS pass ~10 ms (1.3 ms per image).
 *
 * Two simplifications against torchvision, both invisible at these strengths: the four adjustments compose in a
 * fixed order (brightness, contrast, saturation, hue) instead of a random order per image, and the result is clipped
 * to [0, 1] once at the end instead of after each step (they differ only on pixels that one step pushes past 0 or 1
 * and a later step brings back). Hue is rotated in YIQ space, a linear map, instead of shifted in HSV: for angles of
 * a few degrees it is the same rotation of the chroma plane.
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
  /** Hue rotation as a fraction of a full turn. */
  hue: number;
}

export const NO_AUGMENT: AugmentParams = { flip: false, brightness: 1, contrast: 1, saturation: 1, hue: 0 };

/** Draws augmentation parameters from `rng`: factors uniform in [1-j, 1+j], hue uniform in [-h, h], flip with p = 0.5. */
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

type Mat3 = number[][];

const LUMA = [0.299, 0.587, 0.114];
const RGB2YIQ: Mat3 = [
  [0.299, 0.587, 0.114],
  [0.595716, -0.274453, -0.321263],
  [0.211456, -0.522591, 0.311135],
];

function mul3(a: Mat3, b: Mat3): Mat3 {
  return a.map((row) => [0, 1, 2].map((j) => row[0]! * b[0]![j]! + row[1]! * b[1]![j]! + row[2]! * b[2]![j]!));
}

function inverse3(a: Mat3): Mat3 {
  const [[a0, a1, a2], [b0, b1, b2], [c0, c1, c2]] = a as [[number, number, number], [number, number, number], [number, number, number]];
  const det = a0 * (b1 * c2 - b2 * c1) - a1 * (b0 * c2 - b2 * c0) + a2 * (b0 * c1 - b1 * c0);
  return [
    [(b1 * c2 - b2 * c1) / det, (a2 * c1 - a1 * c2) / det, (a1 * b2 - a2 * b1) / det],
    [(b2 * c0 - b0 * c2) / det, (a0 * c2 - a2 * c0) / det, (a2 * b0 - a0 * b2) / det],
    [(b0 * c1 - b1 * c0) / det, (a1 * c0 - a0 * c1) / det, (a0 * b1 - a1 * b0) / det],
  ];
}

// The exact inverse, so that a zero hue shift is exactly the identity.
const YIQ2RGB: Mat3 = inverse3(RGB2YIQ);

/**
 * The colour jitter of `p` as rgb' = M rgb + t (values in [0, 1]) for an image whose mean grey level is `meanGrey`:
 * brightness b*x; contrast c*x + (1-c)*mean(grey(b*x)); saturation s*x + (1-s)*grey(x); hue: YIQ rotation.
 */
export function colorTransform(p: AugmentParams, meanGrey: number): { m: Mat3; t: [number, number, number] } {
  const sat: Mat3 = [0, 1, 2].map((i) => [0, 1, 2].map((j) => (i === j ? p.saturation : 0) + (1 - p.saturation) * LUMA[j]!));
  // Sign chosen so that a positive shift moves red toward yellow, as an increase of HSV hue does.
  const a = -2 * Math.PI * p.hue;
  const rot: Mat3 = [
    [1, 0, 0],
    [0, Math.cos(a), -Math.sin(a)],
    [0, Math.sin(a), Math.cos(a)],
  ];
  const hs = mul3(mul3(YIQ2RGB, mul3(rot, RGB2YIQ)), sat);
  const gain = p.contrast * p.brightness;
  const offset = (1 - p.contrast) * p.brightness * meanGrey;
  const m = hs.map((row) => row.map((v) => v * gain));
  const t = hs.map((row) => (row[0]! + row[1]! + row[2]!) * offset) as [number, number, number];
  return { m, t };
}

/** Mean luma of an 8-bit RGB image, in [0, 1]. */
export function meanGrey(pixels: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < pixels.length; i += 3) s += LUMA[0]! * pixels[i]! + LUMA[1]! * pixels[i + 1]! + LUMA[2]! * pixels[i + 2]!;
  return s / (pixels.length / 3) / 255;
}

/**
 * Writes one augmented `size` x `size` RGB image (8-bit, row-major) into `out` at `offset` as floats in [-1, 1].
 */
export function writeAugmented(pixels: Uint8Array, size: number, p: AugmentParams, out: Float32Array, offset: number): void {
  if (pixels.length !== size * size * 3) throw new Error(`writeAugmented: ${pixels.length} bytes for a ${size}x${size} RGB image.`);
  const plainColour = p.brightness === 1 && p.contrast === 1 && p.saturation === 1 && p.hue === 0;
  const { m, t } = plainColour ? { m: [[1, 0, 0], [0, 1, 0], [0, 0, 1]], t: [0, 0, 0] } : colorTransform(p, meanGrey(pixels));
  const [m00, m01, m02] = m[0]!;
  const [m10, m11, m12] = m[1]!;
  const [m20, m21, m22] = m[2]!;
  const [t0, t1, t2] = t;
  const k = 1 / 255;
  const to = (v: number): number => 2 * (v < 0 ? 0 : v > 1 ? 1 : v) - 1;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const si = (y * size + (p.flip ? size - 1 - x : x)) * 3;
      const r = pixels[si]! * k;
      const g = pixels[si + 1]! * k;
      const b = pixels[si + 2]! * k;
      const o = offset + (y * size + x) * 3;
      out[o] = to(m00! * r + m01! * g + m02! * b + t0!);
      out[o + 1] = to(m10! * r + m11! * g + m12! * b + t1!);
      out[o + 2] = to(m20! * r + m21! * g + m22! * b + t2!);
    }
  }
}
