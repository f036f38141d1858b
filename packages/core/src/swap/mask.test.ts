import { describe, expect, it } from 'vitest';
import type { Point } from '../faces/alignment.js';
import { convexHull, faceMask, insideDistance } from './mask.js';

describe('convexHull', () => {
  it('keeps the corners of a square and drops interior and collinear points', () => {
    const pts: Point[] = [[0, 0], [4, 0], [4, 4], [0, 4], [2, 2], [2, 0], [1, 3]];
    const hull = convexHull(pts);
    expect(hull).toHaveLength(4);
    expect(new Set(hull.map((p) => p.join(',')))).toEqual(new Set(['0,0', '4,0', '4,4', '0,4']));
  });

  it('gives the distance to the nearest edge inside, negative outside', () => {
    const hull = convexHull([[0, 0], [10, 0], [10, 10], [0, 10]]);
    expect(insideDistance(hull, [5, 5])).toBeCloseTo(5);
    expect(insideDistance(hull, [1, 5])).toBeCloseTo(1);
    expect(insideDistance(hull, [-2, 5])).toBeCloseTo(-2);
  });
});

describe('faceMask', () => {
  // A face-sized octagon in a 64 crop, as the 68 landmarks' hull would be.
  const ring: Point[] = Array.from({ length: 8 }, (_, k) => [32 + 20 * Math.cos((k * Math.PI) / 4), 34 + 22 * Math.sin((k * Math.PI) / 4)] as const);
  const hull = convexHull(ring);

  it('is exactly 0 outside the hull eroded by 1.5 px, 1 deep inside, and in [0, 1] in between', () => {
    const size = 64;
    const m = faceMask(ring, size);
    let soft = 0;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const v = m[y * size + x]!;
        const d = insideDistance(hull, [x + 0.5, y + 0.5]);
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
        if (d <= 1.5) expect(v).toBe(0);
        if (d >= 1.5 + 0.08 * size) expect(v).toBe(1);
        if (v > 0 && v < 1) soft++;
      }
    }
    expect(m[34 * size + 32]).toBe(1);
    expect(soft).toBeGreaterThan(100); // a feathered band, not a hard edge
  });

  it('rises monotonically from the edge towards the centre', () => {
    const size = 64;
    const m = faceMask(ring, size);
    const row = Array.from({ length: 21 }, (_, i) => m[34 * size + 12 + i]!);
    for (let i = 1; i < row.length; i++) expect(row[i]!).toBeGreaterThanOrEqual(row[i - 1]!);
  });
});
