import type { Point } from '@faceshifter/core/node';

/** The inner-face points used for expression: brows 17–26, nose 27–35, eyes 36–47, mouth 48–67 (no jaw contour,
 * which mostly carries face outline and slides under yaw). */
export const EXPRESSION_POINTS: readonly number[] = Array.from({ length: 51 }, (_, i) => 17 + i);

function solve3(A: number[][], b: number[]): number[] {
  // Gaussian elimination with partial pivoting; A is 3×3.
  const m = A.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < 3; c++) {
    let p = c;
    for (let r = c + 1; r < 3; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    if (Math.abs(m[c]![c]!) < 1e-12) throw new Error('expressionError: landmarks are degenerate (collinear).');
    for (let r = 0; r < 3; r++) {
      if (r === c) continue;
      const f = m[r]![c]! / m[c]![c]!;
      for (let k = c; k < 4; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  return [0, 1, 2].map((i) => m[i]![3]! / m[i]![i]!);
}

/**
 * Expression error between two faces' 68 landmarks, in % of the reference face's outer-eye-corner distance:
 * the RMS distance over {@link EXPRESSION_POINTS} after a least-squares 2-D AFFINE map of `face` onto `reference`.
 *
 * The affine map absorbs position, scale, in-plane rotation, and — to first order — out-of-plane rotation of the
 * nearly flat inner face (a weak-perspective view of a plane is affine) and the face's overall width/height
 * proportions (an identity trait). What is left is mostly expression (mouth opening and shape, eye closure, brow
 * raise), but also identity-specific local proportions (e.g. mouth width relative to eyes) and the non-planar
 * part of large head turns; it is not a 3DMM expression code. The identical face gives exactly 0.
 */
export function expressionError(face: readonly Point[], reference: readonly Point[]): number {
  if (face.length !== 68 || reference.length !== 68) throw new Error(`expressionError: expected 68 landmarks each, got ${face.length} and ${reference.length}.`);
  const idx = EXPRESSION_POINTS;
  // Normal equations of [x y 1]·A = target, one 3-vector per output coordinate.
  const AtA = [0, 1, 2].map(() => [0, 0, 0]);
  const Atx = [0, 0, 0];
  const Aty = [0, 0, 0];
  for (const i of idx) {
    const row = [face[i]![0], face[i]![1], 1];
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 3; c++) AtA[r]![c]! += row[r]! * row[c]!;
      Atx[r]! += row[r]! * reference[i]![0];
      Aty[r]! += row[r]! * reference[i]![1];
    }
  }
  const ax = solve3(AtA, Atx);
  const ay = solve3(AtA, Aty);
  let sq = 0;
  for (const i of idx) {
    const [x, y] = face[i]!;
    const dx = ax[0]! * x + ax[1]! * y + ax[2]! - reference[i]![0];
    const dy = ay[0]! * x + ay[1]! * y + ay[2]! - reference[i]![1];
    sq += dx * dx + dy * dy;
  }
  const iod = Math.hypot(reference[45]![0] - reference[36]![0], reference[45]![1] - reference[36]![1]);
  if (!(iod > 0)) throw new Error('expressionError: the reference face has zero eye-corner distance.');
  return (100 * Math.sqrt(sq / idx.length)) / iod;
}
