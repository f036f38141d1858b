import { describe, expect, it } from 'vitest';
import type { RawImage } from '../image/png.js';
import {
  affineScale,
  alignFace,
  alignmentTransform,
  applyAffine,
  estimateSimilarity,
  FFHQ_TEMPLATE,
  invertAffine,
  pasteBack,
  warpAffine,
  type Affine,
  type Landmarks5,
  type Point,
} from './alignment.js';
import { eyeDistance, reduceLandmarks68 } from './landmarks.js';

function similarity(scale: number, angle: number, tx: number, ty: number): Affine {
  const c = scale * Math.cos(angle);
  const s = scale * Math.sin(angle);
  return [c, -s, tx, s, c, ty];
}

/** A smooth, non-symmetric test photo: every pixel's colour encodes where it is. */
function gradientImage(width: number, height: number): RawImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      data[o] = Math.round((255 * x) / (width - 1));
      data[o + 1] = Math.round((255 * y) / (height - 1));
      data[o + 2] = Math.round(127 + 100 * Math.sin(x / 9) * Math.cos(y / 13));
    }
  }
  return { width, height, channels: 3, data };
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

describe('estimateSimilarity (2-D Umeyama)', () => {
  it('recovers a known similarity exactly from noiseless points', () => {
    const truth = similarity(1.7, 0.4, 12, -30);
    const src: Point[] = [[10, 20], [80, 25], [45, 60], [20, 90], [75, 88]];
    const dst = src.map((p) => applyAffine(truth, p));
    const est = estimateSimilarity(src, dst);
    est.forEach((v, i) => expect(v).toBeCloseTo(truth[i]!, 9));
    expect(affineScale(est)).toBeCloseTo(1.7, 9);
  });

  it('is the least-squares fit: perturbing it increases the weighted residual', () => {
    const src: Point[] = [[0, 0], [10, 0], [5, 6], [1, 11], [9, 12]];
    const dst: Point[] = [[3, 4], [14, 5], [8, 11], [4, 17], [14, 16]];
    const w = [3, 3, 1, 1, 1];
    const residual = (m: Affine): number => src.reduce((acc, p, i) => {
      const q = applyAffine(m, p);
      return acc + w[i]! * ((q[0] - dst[i]![0]) ** 2 + (q[1] - dst[i]![1]) ** 2);
    }, 0);
    const best = estimateSimilarity(src, dst, w);
    const r0 = residual(best);
    for (const [da, db] of [[1e-3, 0], [-1e-3, 0], [0, 1e-3], [0, -1e-3]] as const) {
      const [a, b, c, d, e, f] = best;
      expect(residual([a + da, b - db, c, d + db, e + da, f])).toBeGreaterThan(r0);
    }
  });

  it('rejects degenerate input with a clear message', () => {
    expect(() => estimateSimilarity([[1, 1], [1, 1]], [[0, 0], [1, 1]])).toThrow(/coincide/);
    expect(() => estimateSimilarity([[1, 1]], [[0, 0]])).toThrow(/at least 2/);
  });
});

describe('affine helpers', () => {
  it('invertAffine undoes the transform', () => {
    const m = similarity(0.8, -1.1, 5, 7);
    const p = applyAffine(invertAffine(m), applyAffine(m, [13, -4]));
    expect(p[0]).toBeCloseTo(13, 10);
    expect(p[1]).toBeCloseTo(-4, 10);
  });
});

describe('alignmentTransform', () => {
  it('maps landmarks that are a similarity of the template exactly onto it', () => {
    const size = 256;
    const toPhoto = similarity(2.3, 0.3, 400, 150);
    const landmarks = FFHQ_TEMPLATE.map(([x, y]) => applyAffine(toPhoto, [x * size, y * size])) as unknown as Landmarks5;
    const m = alignmentTransform(landmarks, size);
    landmarks.forEach((p, i) => {
      const q = applyAffine(m, p);
      expect(q[0]).toBeCloseTo(FFHQ_TEMPLATE[i]![0] * size, 6);
      expect(q[1]).toBeCloseTo(FFHQ_TEMPLATE[i]![1] * size, 6);
    });
  });
});

describe('warpAffine', () => {
  it('an integer translation is an exact shifted copy (pixel-centre convention)', () => {
    const img = gradientImage(40, 30);
    const out = warpAffine(img, [1, 0, -5, 0, 1, -7], 20, 15);
    for (let y = 0; y < 15; y++) {
      for (let x = 0; x < 20; x++) {
        for (let c = 0; c < 3; c++) expect(out.data[(y * 20 + x) * 3 + c]).toBe(img.data[((y + 7) * 40 + x + 5) * 3 + c]);
      }
    }
  });

  it('mirrors the photo outside its borders by default, and can fill black', () => {
    const img = gradientImage(10, 10);
    const shifted: Affine = [1, 0, 3, 0, 1, 0]; // output x = photo x + 3: output column 0..2 lie left of the photo
    const reflect = warpAffine(img, shifted, 10, 10);
    const black = warpAffine(img, shifted, 10, 10, 'constant');
    // Output column 2 shows photo column -1, which mirrors photo column 0.
    expect(reflect.data[2 * 3]).toBe(img.data[0]);
    expect(Array.from(black.data.subarray(0, 9))).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('antialiases a strong downscale (no aliasing of a fine checkerboard)', () => {
    const w = 64;
    const data = new Uint8Array(w * w * 3);
    for (let y = 0; y < w; y++) for (let x = 0; x < w; x++) data.fill((x + y) % 2 ? 255 : 0, (y * w + x) * 3, (y * w + x) * 3 + 3);
    const small = warpAffine({ width: w, height: w, channels: 3, data }, [0.25, 0, 0, 0, 0.25, 0], 16, 16);
    for (const v of small.data) expect(Math.abs(v - 127.5)).toBeLessThan(4);
  });
});

describe('alignFace + pasteBack', () => {
  it('pasting the unmodified crop back reproduces the photo inside the face region', () => {
    const photo = gradientImage(200, 160);
    const size = 128;
    const toPhoto = similarity(0.9, 0.2, 50, 20);
    const landmarks = FFHQ_TEMPLATE.map(([x, y]) => applyAffine(toPhoto, [x * size, y * size])) as unknown as Landmarks5;
    const { crop, toPhoto: inverse } = alignFace(photo, landmarks, size);
    expect(crop.width).toBe(size);
    const pasted = pasteBack(photo, crop, inverse, { feather: 0 });
    // Two bilinear resamplings of a smooth image: a small error, not a misplaced face.
    expect(meanAbsDiff(pasted.data, photo.data)).toBeLessThan(0.6);
    // A hard black crop must show up exactly where the transform says.
    const blackCrop = { ...crop, data: new Uint8Array(crop.data.length) };
    const marked = pasteBack(photo, blackCrop, inverse, { feather: 0 });
    const centre = applyAffine(inverse, [size / 2, size / 2]).map(Math.floor) as [number, number];
    expect(marked.data[(centre[1] * 200 + centre[0]) * 3]).toBe(0);
    expect(Array.from(marked.data.subarray(0, 3))).toEqual(Array.from(photo.data.subarray(0, 3)));
  });

  it('feathers the seam: pixels near the crop border blend with the photo', () => {
    const photo = { width: 100, height: 100, channels: 3 as const, data: new Uint8Array(100 * 100 * 3).fill(200) };
    const crop = { width: 50, height: 50, channels: 3 as const, data: new Uint8Array(50 * 50 * 3) };
    const out = pasteBack(photo, crop, [1, 0, 25, 0, 1, 25], { feather: 0.2 });
    const at = (x: number, y: number): number => out.data[(y * 100 + x) * 3]!;
    expect(at(50, 50)).toBe(0); // centre: all crop
    expect(at(26, 50)).toBeGreaterThan(150); // 1.5 px inside the border: mostly photo
    expect(at(10, 10)).toBe(200); // outside: untouched
  });
});

describe('reduceLandmarks68', () => {
  it('takes eye centres as the mean of the eyelid points, the nose tip and the mouth corners', () => {
    const pts: Point[] = Array.from({ length: 68 }, (_, i) => [i, 2 * i]);
    const five = reduceLandmarks68(pts);
    expect(five[0]).toEqual([38.5, 77]);
    expect(five[1]).toEqual([44.5, 89]);
    expect(five[2]).toEqual([30, 60]);
    expect(five[3]).toEqual([48, 96]);
    expect(five[4]).toEqual([54, 108]);
    expect(eyeDistance(five)).toBeCloseTo(Math.hypot(6, 12), 10);
    expect(() => reduceLandmarks68(pts.slice(0, 5))).toThrow(/68 points/);
  });
});
