/**
 * The named face alignments: where the five landmarks go in an aligned N×N crop, how the photo-to-crop similarity is
 * fitted and how the crop is resampled. A model only works on faces aligned the way it was trained, so a checkpoint
 * records its alignment (weights/checkpoint.ts) and every command that crops faces takes `--align`.
 *
 * - `ffhq` (this project's default): FFHQ-style loose crops that show hair, chin and background, fitted with the eyes
 *   weighted 10× and resampled with supersampling and mirrored borders (alignment.ts).
 * - `reference`: the public PyTorch reference (taotaonice/FaceShifter). Its MTCNN wrapper aligns with
 *   InsightFace_Pytorch's `align_trans.py`: the 96×112 `REFERENCE_FACIAL_POINTS` made square
 *   (`get_reference_facial_points(default_square=True)`: x + 8), shrunk ×0.85 about (56, 56) and scaled by crop/112
 *   (`warp_and_crop_face`), fitted with an unweighted least-squares similarity, and warped with cv2.warpAffine
 *   (bilinear, black outside the photo). Its published G_latest.pth was trained on these crops at 256².
 * - `insightface`: insightface's `face_align.norm_crop` (arcface_torch): `arcface_dst` scaled by crop/112, or by
 *   crop/128 and shifted 8·crop/128 right when the crop is not a multiple of 112 (its `estimate_norm`), an unweighted
 *   similarity (skimage's Umeyama) and cv2.warpAffine with a black border.
 *
 * Template points here are continuous coordinates (pixel i covers [i, i + 1)), the convention of alignment.ts and of
 * face-api's landmarks; cv2, skimage and MTCNN use pixel indices (pixel i's centre at i), so their points are
 * ours − 0.5. A least-squares similarity commutes with shifting both point sets alike, so fitting in either
 * convention gives the same warp.
 */
import { alignmentTransform, DEFAULT_LANDMARK_WEIGHTS, estimateSimilarity, FFHQ_TEMPLATE, invertAffine, warpAffine, type AlignedFace, type BorderMode, type Landmarks5, type Point } from './alignment.js';
import type { RawImage } from '../image/png.js';

export const FACE_ALIGNMENTS = ['ffhq', 'reference', 'insightface'] as const;
export type FaceAlignment = (typeof FACE_ALIGNMENTS)[number];

/** The alignment of checkpoints and datasets that do not record one: everything made before alignments had names. */
export const DEFAULT_FACE_ALIGNMENT: FaceAlignment = 'ffhq';

export function isFaceAlignment(v: unknown): v is FaceAlignment {
  return typeof v === 'string' && (FACE_ALIGNMENTS as readonly string[]).includes(v);
}

/** A one-line error naming the option and the choices. */
export function parseFaceAlignment(v: unknown, option = '--align'): FaceAlignment {
  if (isFaceAlignment(v)) return v;
  throw new Error(`${option} ${String(v)}: unknown alignment; choose one of ${FACE_ALIGNMENTS.join(', ')} (ffhq: this project's crops; reference: the PyTorch reference's, for its published weights; insightface: arcface_torch's)`);
}

/**
 * InsightFace_Pytorch's `REFERENCE_FACIAL_POINTS` (align_trans.py), 96×112, pixel indices: eye centres, nose tip,
 * mouth corners, image-left first.
 */
export const INSIGHTFACE_PYTORCH_POINTS_96x112: Landmarks5 = [
  [30.29459953, 51.69630051],
  [65.53179932, 51.50139999],
  [48.02519989, 71.73660278],
  [33.54930115, 92.3655014],
  [62.72990036, 92.20410156],
];

/** insightface's `arcface_dst` for 112² (face_align.py), pixel indices. */
export const ARCFACE_TEMPLATE_112: Landmarks5 = [
  [38.2946, 51.6963],
  [73.5318, 51.5014],
  [56.0252, 71.7366],
  [41.5493, 92.3655],
  [70.7299, 92.2041],
];

const map5 = (points: Landmarks5, f: (p: Point) => Point): Landmarks5 => points.map(f) as unknown as Landmarks5;

/**
 * The reference's template for a `size`² crop, pixel indices: the square 112² points ((x + 8, y): default_square),
 * ((p − 56)·0.85 + 56)·size/112.
 */
export function referenceTemplatePixels(size: number): Landmarks5 {
  return map5(INSIGHTFACE_PYTORCH_POINTS_96x112, ([x, y]) => [((x + 8 - 56) * 0.85 + 56) * (size / 112), ((y - 56) * 0.85 + 56) * (size / 112)]);
}

/** insightface's template for a `size`² crop (estimate_norm), pixel indices. */
export function insightfaceTemplatePixels(size: number): Landmarks5 {
  const ratio = size % 112 === 0 ? size / 112 : size / 128;
  const dx = size % 112 === 0 ? 0 : 8 * ratio;
  return map5(ARCFACE_TEMPLATE_112, ([x, y]) => [x * ratio + dx, y * ratio]);
}

/** How a named alignment fits and samples a `size`² crop. */
export interface AlignmentSpec {
  alignment: FaceAlignment;
  /** The five template points in the crop, continuous coordinates. */
  template: Landmarks5;
  /** Per-landmark weights of the least-squares fit. */
  weights: readonly number[];
  /** Outside the photo. */
  border: BorderMode;
  /** Average k×k samples per output pixel when shrinking (ours); off for cv2's plain bilinear warpAffine. */
  supersample: boolean;
  /**
   * Which way the least-squares similarity is fitted: `to-template` (photo → crop, residuals in the crop: ours,
   * skimage's as insightface uses it), or `from-template` (crop → photo, residuals in the photo, then inverted: the
   * reference's matlab_cp2tform.py). Where the landmarks do not fit the template exactly the two differ (by 0.7% in
   * scale and 1 px in translation on the reference-swap fixture's faces).
   */
  fit: 'to-template' | 'from-template';
}

const EQUAL = [1, 1, 1, 1, 1] as const;

export function alignmentSpec(alignment: FaceAlignment, size: number): AlignmentSpec {
  switch (alignment) {
    case 'ffhq':
      return { alignment, template: map5(FFHQ_TEMPLATE, ([x, y]) => [x * size, y * size]), weights: DEFAULT_LANDMARK_WEIGHTS, border: 'reflect', supersample: true, fit: 'to-template' };
    case 'reference':
      return { alignment, template: map5(referenceTemplatePixels(size), ([x, y]) => [x + 0.5, y + 0.5]), weights: EQUAL, border: 'constant', supersample: false, fit: 'from-template' };
    case 'insightface':
      return { alignment, template: map5(insightfaceTemplatePixels(size), ([x, y]) => [x + 0.5, y + 0.5]), weights: EQUAL, border: 'constant', supersample: false, fit: 'to-template' };
  }
}

/** The photo-to-crop similarity (continuous coordinates) of a named alignment. */
export function namedAlignmentTransform(landmarks: Landmarks5, size: number, alignment: FaceAlignment): ReturnType<typeof alignmentTransform> {
  const spec = alignmentSpec(alignment, size);
  if (spec.fit === 'from-template') return invertAffine(estimateSimilarity(spec.template, landmarks, spec.weights));
  // alignmentTransform scales a template given as fractions of the side; these are already in pixels.
  const fractions = map5(spec.template, ([x, y]) => [x / size, y / size]);
  return alignmentTransform(landmarks, size, fractions, spec.weights);
}

/** Cuts the `size`² crop of the face with these landmarks (continuous coordinates) out of `photo`, aligned as named. */
export function alignFaceAs(photo: RawImage, landmarks: Landmarks5, size: number, alignment: FaceAlignment): AlignedFace {
  const spec = alignmentSpec(alignment, size);
  const toCrop = namedAlignmentTransform(landmarks, size, alignment);
  return { crop: warpAffine(photo, toCrop, size, size, spec.border, { supersample: spec.supersample }), toCrop, toPhoto: invertAffine(toCrop) };
}

/** Points in pixel indices (cv2, skimage, MTCNN, insightface) as continuous coordinates (ours, face-api's). */
export function fromPixelIndices(points: Landmarks5): Landmarks5 {
  return map5(points, ([x, y]) => [x + 0.5, y + 0.5]);
}
