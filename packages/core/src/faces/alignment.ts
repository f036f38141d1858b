import type { RawImage } from '../image/png.js';

/**
 * Face alignment: a least-squares similarity transform from five landmarks to a canonical template, the warp
 * that cuts the aligned NxN crop out of a photo, and the inverse warp that pastes a result back.
 *
 * Coordinates are continuous pixel coordinates: pixel (i, j) covers [i, i+1) x [j, j+1), its centre is at
 * (i + 0.5, j + 0.5). face-api's landmarks use the same convention.
 */

export type Point = readonly [number, number];

/** Five landmarks, in image orientation: left eye centre, right eye centre, nose tip, left mouth corner, right mouth corner
 * ("left" = smaller x in the image, i.e. the subject's right). */
export type Landmarks5 = readonly [Point, Point, Point, Point, Point];

/** 2x3 affine matrix [a, b, c, d, e, f]: x' = a*x + b*y + c, y' = d*x + e*y + f. */
export type Affine = readonly [number, number, number, number, number, number];

/**
 * The canonical 5-point template, as fractions of the crop side: FFHQ-style framing.
 *
 * Why FFHQ-style and not ArcFace-style: FaceShifter trains and swaps on FFHQ / CelebA-HQ-like loose crops that show
 * the hair, the chin and some background, because the attribute encoder must see them to reproduce them, and
 * a user who brings FFHQ or CelebA-HQ gets images framed like the ones this produces. The ArcFace template
 * (eye distance 0.31 of a 112 crop) cuts off the forehead and chin. The identity encoders want tight crops, so
 * they cut their own tight box out of this loose crop (identity/crop.ts).
 *
 * These are the 5-point positions of the FFHQ alignment at 512 px, divided by 512: eye distance 0.246 of the
 * side, eyes at 0.469 of the height, mouth at 0.725.
 */
export const FFHQ_TEMPLATE: Landmarks5 = [
  [192.98138 / 512, 239.94708 / 512],
  [318.90277 / 512, 240.1936 / 512],
  [256.63416 / 512, 314.01935 / 512],
  [201.26117 / 512, 371.41043 / 512],
  [313.08905 / 512, 371.15118 / 512],
];

/**
 * How much each landmark counts in the fit: the eyes 10x the nose and mouth corners. The eyes are the most precisely
 * detected of the five, and where they land matters most to identity networks and to FaceShifter's attribute maps.
 * Measured on the 37 faces of datasets/embedded: eye-centre fit error (photo landmarks mapped into the 256 crop vs the
 * template) is at most 2 px for 6 of 37 faces with equal weights (median 2.9 px), 26 of 37 at 4x and 33 of 37 at 10x (median 0.8 px; the rest are
 * profile or strongly tilted faces, up to 7.5 px), while the crop scale moves by under 6% except on a profile (+19%).
 */
export const DEFAULT_LANDMARK_WEIGHTS: readonly number[] = [10, 10, 1, 1, 1];

export function applyAffine(m: Affine, p: Point): [number, number] {
  return [m[0] * p[0] + m[1] * p[1] + m[2], m[3] * p[0] + m[4] * p[1] + m[5]];
}

export function invertAffine(m: Affine): Affine {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) throw new Error('invertAffine: the transform is singular (all landmarks at one point?).');
  const ia = e / det;
  const ib = -b / det;
  const id = -d / det;
  const ie = a / det;
  return [ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)];
}

/** The scale factor of a similarity (or the geometric mean scale of an affine). */
export function affineScale(m: Affine): number {
  return Math.sqrt(Math.abs(m[0] * m[4] - m[1] * m[3]));
}

/**
 * Least-squares similarity (rotation, uniform scale, translation; no reflection) mapping `src` onto `dst`:
 * the 2-D case of Umeyama (1991). In 2-D it has a closed form: with points as complex numbers centred on their
 * weighted means, the best s*e^{i*theta} is sum(w * conj(x) * y) / sum(w * |x|^2).
 */
export function estimateSimilarity(src: readonly Point[], dst: readonly Point[], weights?: readonly number[]): Affine {
  if (src.length !== dst.length || src.length < 2) {
    throw new Error(`estimateSimilarity: need matching point lists of at least 2 points (got ${src.length} and ${dst.length}).`);
  }
  const w = weights ?? src.map(() => 1);
  let sw = 0;
  let mxs = 0;
  let mys = 0;
  let mxd = 0;
  let myd = 0;
  for (let i = 0; i < src.length; i++) {
    const wi = w[i] ?? 1;
    sw += wi;
    mxs += wi * src[i]![0];
    mys += wi * src[i]![1];
    mxd += wi * dst[i]![0];
    myd += wi * dst[i]![1];
  }
  mxs /= sw;
  mys /= sw;
  mxd /= sw;
  myd /= sw;
  let re = 0;
  let im = 0;
  let norm = 0;
  for (let i = 0; i < src.length; i++) {
    const wi = w[i] ?? 1;
    const xs = src[i]![0] - mxs;
    const ys = src[i]![1] - mys;
    const xd = dst[i]![0] - mxd;
    const yd = dst[i]![1] - myd;
    // conj(xs + i ys) * (xd + i yd)
    re += wi * (xs * xd + ys * yd);
    im += wi * (xs * yd - ys * xd);
    norm += wi * (xs * xs + ys * ys);
  }
  if (norm < 1e-12) throw new Error('estimateSimilarity: the source points all coincide.');
  const a = re / norm; // s cos(theta)
  const b = im / norm; // s sin(theta)
  return [a, -b, mxd - (a * mxs - b * mys), b, a, myd - (b * mxs + a * mys)];
}

/** The photo-to-crop similarity that puts `landmarks` onto `template` scaled to a `size` x `size` crop. */
export function alignmentTransform(
  landmarks: Landmarks5,
  size: number,
  template: Landmarks5 = FFHQ_TEMPLATE,
  weights: readonly number[] = DEFAULT_LANDMARK_WEIGHTS,
): Affine {
  const dst = template.map(([x, y]) => [x * size, y * size] as const);
  return estimateSimilarity(landmarks, dst, weights);
}

export type BorderMode = 'reflect' | 'edge' | 'constant';

function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * n;
  let k = i % period;
  if (k < 0) k += period;
  return k < n ? k : period - 1 - k;
}

/**
 * Resamples `image` into a `width` x `height` image whose pixel (x, y) shows the photo point
 * `invertAffine(toOutput)` applied to (x + 0.5, y + 0.5). Bilinear, with k x k supersampling when the output
 * is smaller than the source (k = ceil of the shrink factor) so large photos do not alias.
 * Outside the photo: mirrored (default, as FFHQ pads), repeated edge pixels, or black. `supersample: false` gives
 * plain bilinear sampling, as cv2.warpAffine's INTER_LINEAR does (the reference's and insightface's alignments).
 */
export function warpAffine(image: RawImage, toOutput: Affine, width: number, height: number, border: BorderMode = 'reflect', options: { supersample?: boolean } = {}): RawImage {
  const { width: W, height: H, channels: C, data } = image;
  const inv = invertAffine(toOutput);
  const shrink = 1 / affineScale(toOutput);
  const k = options.supersample === false ? 1 : Math.max(1, Math.min(8, Math.ceil(shrink - 1e-6)));
  const out = new Uint8Array(width * height * C);
  const acc = new Float32Array(C);
  const fetch = (xi: number, yi: number, c: number): number => {
    if (xi < 0 || yi < 0 || xi >= W || yi >= H) {
      if (border === 'constant') return 0;
      if (border === 'edge') {
        xi = Math.min(W - 1, Math.max(0, xi));
        yi = Math.min(H - 1, Math.max(0, yi));
      } else {
        xi = reflectIndex(xi, W);
        yi = reflectIndex(yi, H);
      }
    }
    return data[(yi * W + xi) * C + c]!;
  };
  const [a, b, c0, d, e, f] = inv;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      acc.fill(0);
      for (let sy = 0; sy < k; sy++) {
        for (let sx = 0; sx < k; sx++) {
          const ox = x + (sx + 0.5) / k;
          const oy = y + (sy + 0.5) / k;
          // Source position in pixel-index space (centre of pixel i is at i).
          const px = a * ox + b * oy + c0 - 0.5;
          const py = d * ox + e * oy + f - 0.5;
          const x0 = Math.floor(px);
          const y0 = Math.floor(py);
          const fx = px - x0;
          const fy = py - y0;
          const inside = x0 >= 0 && y0 >= 0 && x0 + 1 < W && y0 + 1 < H;
          for (let ch = 0; ch < C; ch++) {
            let v00: number, v10: number, v01: number, v11: number;
            if (inside) {
              const i00 = (y0 * W + x0) * C + ch;
              v00 = data[i00]!;
              v10 = data[i00 + C]!;
              v01 = data[i00 + W * C]!;
              v11 = data[i00 + W * C + C]!;
            } else {
              v00 = fetch(x0, y0, ch);
              v10 = fetch(x0 + 1, y0, ch);
              v01 = fetch(x0, y0 + 1, ch);
              v11 = fetch(x0 + 1, y0 + 1, ch);
            }
            acc[ch]! += (v00 * (1 - fx) + v10 * fx) * (1 - fy) + (v01 * (1 - fx) + v11 * fx) * fy;
          }
        }
      }
      const o = (y * width + x) * C;
      for (let ch = 0; ch < C; ch++) out[o + ch] = Math.max(0, Math.min(255, Math.round(acc[ch]! / (k * k))));
    }
  }
  return { width, height, channels: C, data: out };
}

/** An aligned face crop and the transforms between it and the photo it came from. */
export interface AlignedFace {
  crop: RawImage;
  /** Photo coordinates to crop coordinates. */
  toCrop: Affine;
  /** Crop coordinates to photo coordinates: what {@link pasteBack} uses. */
  toPhoto: Affine;
}

/** Cuts the `size` x `size` FFHQ-style aligned crop of the face with these landmarks out of `photo`. */
export function alignFace(photo: RawImage, landmarks: Landmarks5, size: number, template: Landmarks5 = FFHQ_TEMPLATE): AlignedFace {
  const toCrop = alignmentTransform(landmarks, size, template);
  return { crop: warpAffine(photo, toCrop, size, size), toCrop, toPhoto: invertAffine(toCrop) };
}

export interface PasteBackOptions {
  /** Width of the soft edge, as a fraction of the crop side; 0 gives a hard edge. Default 0.1. */
  feather?: number;
  /** Optional per-pixel blend weight over the crop (size*size values in [0, 1]), multiplied with the feathered edge. */
  mask?: Float32Array;
}

/**
 * Pastes `crop` (e.g. a swapped face, same size as the aligned crop) back into a copy of `photo` through
 * `toPhoto`, blending with a mask that fades to zero at the crop's border so no seam shows.
 */
export function pasteBack(photo: RawImage, crop: RawImage, toPhoto: Affine, options: PasteBackOptions = {}): RawImage {
  if (crop.channels !== photo.channels) throw new Error(`pasteBack: crop has ${crop.channels} channels, photo ${photo.channels}.`);
  const { width: W, height: H, channels: C } = photo;
  const S = crop.width;
  if (crop.height !== S) throw new Error(`pasteBack: crop must be square, got ${crop.width}x${crop.height}.`);
  if (options.mask && options.mask.length !== S * S) throw new Error(`pasteBack: mask has ${options.mask.length} values, expected ${S * S}.`);
  const feather = Math.max(0, options.feather ?? 0.1) * S;
  const toCrop = invertAffine(toPhoto);
  const out = new Uint8Array(photo.data);
  // Only photo pixels inside the crop's footprint can change.
  const corners = [applyAffine(toPhoto, [0, 0]), applyAffine(toPhoto, [S, 0]), applyAffine(toPhoto, [0, S]), applyAffine(toPhoto, [S, S])];
  const x0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p[0]))));
  const x1 = Math.min(W, Math.ceil(Math.max(...corners.map((p) => p[0]))));
  const y0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p[1]))));
  const y1 = Math.min(H, Math.ceil(Math.max(...corners.map((p) => p[1]))));
  const cd = crop.data;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const [u, v] = applyAffine(toCrop, [x + 0.5, y + 0.5]);
      if (u < 0 || v < 0 || u > S || v > S) continue;
      let alpha = feather > 0 ? Math.min(1, Math.min(u, v, S - u, S - v) / feather) : 1;
      const px = Math.min(S - 1, Math.max(0, u - 0.5));
      const py = Math.min(S - 1, Math.max(0, v - 0.5));
      const ix = Math.min(S - 2, Math.floor(px));
      const iy = Math.min(S - 2, Math.floor(py));
      const fx = px - ix;
      const fy = py - iy;
      if (options.mask) {
        const m = options.mask;
        const mv = (m[iy * S + ix]! * (1 - fx) + m[iy * S + ix + 1]! * fx) * (1 - fy) + (m[(iy + 1) * S + ix]! * (1 - fx) + m[(iy + 1) * S + ix + 1]! * fx) * fy;
        alpha *= mv;
      }
      if (alpha <= 0) continue;
      const o = (y * W + x) * C;
      for (let ch = 0; ch < C; ch++) {
        const i00 = (iy * S + ix) * C + ch;
        const v = (cd[i00]! * (1 - fx) + cd[i00 + C]! * fx) * (1 - fy) + (cd[i00 + S * C]! * (1 - fx) + cd[i00 + S * C + C]! * fx) * fy;
        out[o + ch] = Math.round(out[o + ch]! * (1 - alpha) + v * alpha);
      }
    }
  }
  return { width: W, height: H, channels: C, data: out };
}
