import type { Point } from '../faces/alignment.js';

/**
 * The blend mask that puts a swapped face back into a photo: the convex hull of the 68 landmarks (jaw line and
 * eyebrows), shrunk and given a soft edge.
 *
 * Why an analytic soft edge instead of erode + Gaussian blur: inside a convex polygon the distance to the boundary is
 * the smallest signed distance to its edge lines, so the eroded, feathered mask is one smoothstep of that distance.
 * It is exactly 0 outside the eroded hull (a truncated blur is only approximately so), which is what keeps every
 * pixel outside the face byte-identical to the target photo, and it costs one pass over the crop.
 */

/** Convex hull (Andrew's monotone chain), counter-clockwise in image coordinates (y down), no collinear points. */
export function convexHull(points: readonly Point[]): Point[] {
  const p = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (p.length < 3) return p;
  const cross = (o: Point, a: Point, b: Point): number => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower: Point[] = [];
  for (const q of p) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, q) <= 0) lower.pop();
    lower.push(q);
  }
  const upper: Point[] = [];
  for (let i = p.length - 1; i >= 0; i--) {
    const q = p[i]!;
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, q) <= 0) upper.pop();
    upper.push(q);
  }
  return [...lower.slice(0, -1), ...upper.slice(0, -1)];
}

/**
 * Signed distance of `q` to the boundary of the convex polygon `hull` (as {@link convexHull} returns it): positive
 * inside, negative outside (outside it is a lower bound of the true distance's magnitude, which is all a mask needs).
 */
export function insideDistance(hull: readonly Point[], q: Point): number {
  let d = Infinity;
  for (let i = 0; i < hull.length; i++) {
    const a = hull[i]!;
    const b = hull[(i + 1) % hull.length]!;
    const ex = b[0] - a[0];
    const ey = b[1] - a[1];
    const len = Math.hypot(ex, ey);
    if (len === 0) continue;
    // Counter-clockwise with y down means the interior lies on the side where the cross product is positive.
    d = Math.min(d, (ex * (q[1] - a[1]) - ey * (q[0] - a[0])) / len);
  }
  return d;
}

export interface FaceMaskOptions {
  /** How far the mask's zero level lies inside the hull, as a fraction of the crop side; default 0.02 (at least 1.5 px). */
  erode?: number;
  /** Width of the soft edge, as a fraction of the crop side; default 0.08. */
  feather?: number;
}

/**
 * A `size` x `size` mask (row-major, values in [0, 1]) over an aligned crop from the face's 68 landmarks in crop
 * coordinates: 0 outside the hull shrunk by `erode`, rising smoothly to 1 over `feather`.
 *
 * The erosion is at least 1.5 crop pixels so that bilinear sampling of the mask (as `pasteBack` does) is 0 at every
 * photo pixel outside the hull: the samples it mixes lie within one crop pixel of the point.
 */
export function faceMask(landmarks68: readonly Point[], size: number, options: FaceMaskOptions = {}): Float32Array {
  if (landmarks68.length < 3) throw new Error(`faceMask: need at least 3 landmarks, got ${landmarks68.length}.`);
  const hull = convexHull(landmarks68);
  const erode = Math.max(1.5, (options.erode ?? 0.02) * size);
  const feather = Math.max(1, (options.feather ?? 0.08) * size);
  const mask = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const t = (insideDistance(hull, [x + 0.5, y + 0.5]) - erode) / feather;
      if (t <= 0) continue;
      mask[y * size + x] = t >= 1 ? 1 : t * t * (3 - 2 * t);
    }
  }
  return mask;
}

/**
 * A face outline from five landmarks (eye centres, nose tip, mouth corners), for faces given by five points only
 * (`--landmarks`, the reference's MTCNN points), where no 68-point jaw line exists: an ellipse in the face's own
 * axes, 2.2 eye distances wide, from 0.8 eye-to-mouth distances above the eyes (the forehead) to 0.6 below the mouth
 * (the chin). On the FFHQ template (eye distance 0.246 of the side, eyes to mouth 0.256) that spans rows 0.26 to
 * 0.88 and columns 0.23 to 0.77, the face without the ears; {@link faceMask} then erodes and feathers it like a
 * 68-point hull.
 */
export function outlineFrom5(points: readonly Point[], vertices = 32): Point[] {
  if (points.length !== 5) throw new Error(`outlineFrom5: need the 5 landmarks, got ${points.length}.`);
  const [le, re, , lm, rm] = points as [Point, Point, Point, Point, Point];
  const eye: Point = [(le[0] + re[0]) / 2, (le[1] + re[1]) / 2];
  const mouth: Point = [(lm[0] + rm[0]) / 2, (lm[1] + rm[1]) / 2];
  const eyeDist = Math.hypot(re[0] - le[0], re[1] - le[1]);
  const down: Point = [mouth[0] - eye[0], mouth[1] - eye[1]];
  const em = Math.hypot(down[0], down[1]);
  // The face's own axes: u across (eye to eye), v down (eyes to mouth).
  const u: Point = [(re[0] - le[0]) / eyeDist, (re[1] - le[1]) / eyeDist];
  const v: Point = [down[0] / em, down[1] / em];
  const top = -0.8 * em;
  const bottom = 1.6 * em;
  const cv = (top + bottom) / 2;
  const a = 1.1 * eyeDist;
  const b = (bottom - top) / 2;
  return Array.from({ length: vertices }, (_, k) => {
    const t = (2 * Math.PI * k) / vertices;
    const x = a * Math.cos(t);
    const y = cv + b * Math.sin(t);
    return [eye[0] + x * u[0] + y * v[0], eye[1] + x * u[1] + y * v[1]] as Point;
  });
}
