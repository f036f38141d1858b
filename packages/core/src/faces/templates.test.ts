import { describe, expect, it } from 'vitest';
import type { RawImage } from '../image/png.js';
import { applyAffine, warpAffine, type Affine, type Landmarks5, type Point } from './alignment.js';
import {
  alignFaceAs,
  alignmentSpec,
  ARCFACE_TEMPLATE_112,
  FACE_ALIGNMENTS,
  fromPixelIndices,
  insightfaceTemplatePixels,
  namedAlignmentTransform,
  parseFaceAlignment,
  referenceTemplatePixels,
} from './templates.js';
import { outlineFrom5 } from '../swap/mask.js';

/** A photo whose pixels encode their position, so that a warp's sampling can be checked against the formula. */
function gradientPhoto(width: number, height: number): RawImage & { channels: 3 } {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      data[o] = Math.round((255 * x) / (width - 1));
      data[o + 1] = Math.round((255 * y) / (height - 1));
      data[o + 2] = (x * 7 + y * 3) % 256;
    }
  }
  return { width, height, channels: 3, data };
}

describe('the named face alignments', () => {
  it("reference: InsightFace_Pytorch's square 112² points, shrunk ×0.85 about (56, 56) and scaled by crop/112", () => {
    const t = referenceTemplatePixels(256);
    // align_trans.py REFERENCE_FACIAL_POINTS[0] = (30.29459953, 51.69630051); default_square adds (112 − 96)/2 = 8 to x.
    expect(t[0][0]).toBeCloseTo(((30.29459953 + 8 - 56) * 0.85 + 56) * (256 / 112), 10);
    expect(t[0][1]).toBeCloseTo(((51.69630051 - 56) * 0.85 + 56) * (256 / 112), 10);
    expect(t[4][0]).toBeCloseTo(((62.72990036 + 8 - 56) * 0.85 + 56) * (256 / 112), 10);
    // At 112 the template is insightface's arcface_dst shrunk about the centre, to its 4 decimals.
    const t112 = referenceTemplatePixels(112);
    ARCFACE_TEMPLATE_112.forEach(([x, y], i) => {
      expect(t112[i]![0]).toBeCloseTo((x - 56) * 0.85 + 56, 3);
      expect(t112[i]![1]).toBeCloseTo((y - 56) * 0.85 + 56, 3);
    });
  });

  it("insightface: arcface_dst × crop/112, or × crop/128 shifted 8·crop/128 right (face_align.estimate_norm)", () => {
    expect(insightfaceTemplatePixels(112)).toEqual(ARCFACE_TEMPLATE_112);
    const t224 = insightfaceTemplatePixels(224);
    expect(t224[2][0]).toBeCloseTo(ARCFACE_TEMPLATE_112[2][0] * 2, 10);
    const t256 = insightfaceTemplatePixels(256);
    expect(t256[0][0]).toBeCloseTo(ARCFACE_TEMPLATE_112[0][0] * 2 + 16, 10);
    expect(t256[0][1]).toBeCloseTo(ARCFACE_TEMPLATE_112[0][1] * 2, 10);
  });

  it('every alignment puts landmarks that are its template (under any similarity) exactly on the template', () => {
    const photoFromCrop: Affine = [1.7 * Math.cos(0.3), -1.7 * Math.sin(0.3), 40, 1.7 * Math.sin(0.3), 1.7 * Math.cos(0.3), 25];
    for (const alignment of FACE_ALIGNMENTS) {
      const spec = alignmentSpec(alignment, 128);
      const landmarks = spec.template.map((p) => applyAffine(photoFromCrop, p)) as unknown as Landmarks5;
      const m = namedAlignmentTransform(landmarks, 128, alignment);
      landmarks.forEach((p, i) => {
        const q = applyAffine(m, p);
        expect(q[0]).toBeCloseTo(spec.template[i]![0], 8);
        expect(q[1]).toBeCloseTo(spec.template[i]![1], 8);
      });
    }
  });

  it('the reference and insightface crops are cv2-style: plain bilinear in pixel indices, black outside the photo', () => {
    const photo = gradientPhoto(180, 150);
    // A 2-pixel checkerboard in blue: any averaging of neighbouring samples (supersampling) changes it.
    for (let k = 2; k < photo.data.length; k += 3) photo.data[k] = ((Math.floor(k / 3) % 180 >> 1) + (Math.floor(k / 540) >> 1)) % 2 ? 255 : 0;
    // Landmarks so that photo = 3·crop − (20, 10) in continuous coordinates: the crop shrinks ×1/3 (where ffhq
    // supersamples 3×3) and reaches past the photo's top-left corner.
    const t = alignmentSpec('reference', 64).template;
    const landmarks = t.map(([x, y]) => [x * 3 - 20, y * 3 - 10] as Point) as unknown as Landmarks5;
    const { crop, toCrop } = alignFaceAs(photo, landmarks, 64, 'reference');
    const plain = warpAffine(photo, toCrop, 64, 64, 'constant', { supersample: false });
    expect(Buffer.from(crop.data).equals(Buffer.from(plain.data))).toBe(true);
    const supersampled = warpAffine(photo, toCrop, 64, 64, 'constant');
    expect(Buffer.from(crop.data).equals(Buffer.from(supersampled.data))).toBe(false);
    // Crop pixel (0, 0) samples photo pixel index (3·0.5 − 20 − 0.5, 3·0.5 − 10 − 0.5): outside, so black.
    expect([crop.data[0], crop.data[1], crop.data[2]]).toEqual([0, 0, 0]);
    // Crop pixel index (i, j) ↔ photo pixel index (3i + 1 − 20, 3j + 1 − 10): cv2's sampling position. The red
    // channel is linear in x, so its bilinear value is the formula's.
    const i = 40;
    const j = 30;
    const px = 3 * i + 1 - 20;
    const red = Math.round((255 * px) / 179);
    expect(Math.abs(crop.data[(j * 64 + i) * 3]! - red)).toBeLessThanOrEqual(0.5);
  });

  it('pixel-index points (cv2, MTCNN) are continuous coordinates less half a pixel', () => {
    const p: Landmarks5 = [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]];
    expect(fromPixelIndices(p)[0]).toEqual([1.5, 2.5]);
  });

  it('an unknown --align is one line naming the choices', () => {
    expect(parseFaceAlignment('reference')).toBe('reference');
    expect(() => parseFaceAlignment('arcface')).toThrow(/^--align arcface: unknown alignment; choose one of ffhq, reference, insightface/);
  });
});

describe('the blend outline from five points', () => {
  it('covers forehead to chin on the FFHQ template, in the face’s own axes', () => {
    const spec = alignmentSpec('ffhq', 256);
    const outline = outlineFrom5(spec.template);
    const ys = outline.map((p) => p[1] / 256);
    const xs = outline.map((p) => p[0] / 256);
    expect(Math.min(...ys)).toBeCloseTo(0.264, 2);
    expect(Math.max(...ys)).toBeCloseTo(0.88, 2);
    expect(Math.min(...xs)).toBeCloseTo(0.23, 2);
    expect(Math.max(...xs)).toBeCloseTo(0.77, 2);
    // Every landmark lies inside it.
    const cx = xs.reduce((a, b) => a + b) / xs.length;
    for (const [x] of spec.template) expect(Math.abs(x / 256 - cx)).toBeLessThan(0.27);
  });
});
