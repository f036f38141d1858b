import type { Point } from '@faceshifter/core/node';

/** Head pose in degrees. R = Rz(roll)·Ry(yaw)·Rx(pitch) maps the face model into camera axes (x right, y up,
 * z towards the camera); a left-right mirror negates yaw and roll and keeps pitch. */
export interface HeadPose {
  yaw: number;
  pitch: number;
  roll: number;
}

/**
 * A hand-made, left-right symmetric 3-D mean face on rigid 68-point landmarks, in units of the outer-eye-corner
 * distance (x right in the image, y up, z towards the camera, origin between the eyes). Rounded average
 * proportions, not a fitted model: absolute angles are approximate (≈ ±20% on yaw / pitch), differences between
 * faces and the mirror symmetry are what the metric relies on. Jaw contour and brows are left out (the contour
 * is a silhouette that slides under yaw; brows move with expression).
 */
export const MEAN_FACE_3D: readonly (readonly [index: number, x: number, y: number, z: number])[] = [
  [36, -0.5, 0, -0.12], // outer eye corners
  [45, 0.5, 0, -0.12],
  [39, -0.18, 0, 0], // inner eye corners
  [42, 0.18, 0, 0],
  [27, 0, 0.05, 0.08], // nose bridge
  [30, 0, -0.45, 0.38], // nose tip
  [31, -0.13, -0.52, 0.18], // nostril wings
  [35, 0.13, -0.52, 0.18],
  [33, 0, -0.56, 0.25], // below the nose
  [48, -0.3, -0.9, 0.05], // mouth corners
  [54, 0.3, -0.9, 0.05],
  [8, 0, -1.35, 0.05], // chin
];

type Vec3 = [number, number, number];

function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

function inv3(m: number[][]): number[][] {
  const [a, b, c] = m[0]!;
  const [d, e, f] = m[1]!;
  const [g, h, i] = m[2]!;
  const A = e! * i! - f! * h!;
  const B = -(d! * i! - f! * g!);
  const C = d! * h! - e! * g!;
  const det = a! * A + b! * B + c! * C;
  if (Math.abs(det) < 1e-12) throw new Error('headPose: the 3-D model points are degenerate.');
  return [
    [A / det, -(b! * i! - c! * h!) / det, (b! * f! - c! * e!) / det],
    [B / det, (a! * i! - c! * g!) / det, -(a! * f! - c! * d!) / det],
    [C / det, -(a! * h! - b! * g!) / det, (a! * e! - b! * d!) / det],
  ];
}

/**
 * Head pose from 68 landmarks (image pixels, y down) by a least-squares scaled-orthographic fit of
 * {@link MEAN_FACE_3D}: the centred 2-D points p ≈ M·P for a 2×3 M (linear least squares), M's rows are then
 * made orthonormal (M ← (M Mᵀ)^(-1/2) M, the nearest scaled rotation), the third row is their cross product,
 * and the Euler angles are read off R = Rz(roll)·Ry(yaw)·Rx(pitch).
 */
export function headPose(landmarks68: readonly Point[]): HeadPose {
  if (landmarks68.length !== 68) throw new Error(`headPose: expected 68 landmarks, got ${landmarks68.length}.`);
  const n = MEAN_FACE_3D.length;
  const P = MEAN_FACE_3D.map(([, x, y, z]) => [x, y, z]);
  const p = MEAN_FACE_3D.map(([i]) => [landmarks68[i]![0], -landmarks68[i]![1]]);
  const c3 = [0, 1, 2].map((k) => P.reduce((s, v) => s + v[k]!, 0) / n);
  const c2 = [0, 1].map((k) => p.reduce((s, v) => s + v[k]!, 0) / n);
  const Pc = P.map((v) => v.map((x, k) => x - c3[k]!));
  const pc = p.map((v) => v.map((x, k) => x - c2[k]!));
  // M = (Σ p Pᵀ)(Σ P Pᵀ)⁻¹
  const PPt = [0, 1, 2].map((r) => [0, 1, 2].map((c) => Pc.reduce((s, v) => s + v[r]! * v[c]!, 0)));
  const pPt = [0, 1].map((r) => [0, 1, 2].map((c) => Pc.reduce((s, v, j) => s + pc[j]![r]! * v[c]!, 0)));
  const inv = inv3(PPt);
  const M = pPt.map((row) => [0, 1, 2].map((c) => row.reduce((s, x, k) => s + x * inv[k]![c]!, 0)));
  // (M Mᵀ)^(-1/2) for the symmetric 2×2 M Mᵀ = [[a, b], [b, d]], by its eigen-decomposition.
  const a = M[0]!.reduce((s, x) => s + x * x, 0);
  const d = M[1]!.reduce((s, x) => s + x * x, 0);
  const b = M[0]!.reduce((s, x, k) => s + x * M[1]![k]!, 0);
  const tr = (a + d) / 2;
  const disc = Math.sqrt(((a - d) / 2) ** 2 + b * b);
  const l1 = tr + disc;
  const l2 = tr - disc;
  if (!(l2 > 1e-12)) throw new Error('headPose: landmarks are degenerate (collinear or coincident).');
  // Eigenvectors of the 2×2 matrix.
  let v1: [number, number] = Math.abs(b) > 1e-12 ? [l1 - d, b] : a >= d ? [1, 0] : [0, 1];
  const nv = Math.hypot(v1[0], v1[1]);
  v1 = [v1[0] / nv, v1[1] / nv];
  const v2: [number, number] = [-v1[1], v1[0]];
  const s1 = 1 / Math.sqrt(l1);
  const s2 = 1 / Math.sqrt(l2);
  const W = [
    [s1 * v1[0] * v1[0] + s2 * v2[0] * v2[0], s1 * v1[0] * v1[1] + s2 * v2[0] * v2[1]],
    [s1 * v1[1] * v1[0] + s2 * v2[1] * v2[0], s1 * v1[1] * v1[1] + s2 * v2[1] * v2[1]],
  ];
  const r1 = [0, 1, 2].map((k) => W[0]![0]! * M[0]![k]! + W[0]![1]! * M[1]![k]!) as Vec3;
  const r2 = [0, 1, 2].map((k) => W[1]![0]! * M[0]![k]! + W[1]![1]! * M[1]![k]!) as Vec3;
  const r3 = cross(r1, r2);
  const deg = 180 / Math.PI;
  return {
    yaw: Math.asin(Math.max(-1, Math.min(1, -r3[0]))) * deg,
    pitch: Math.atan2(r3[1], r3[2]) * deg - PITCH_OFFSET_DEG,
    roll: Math.atan2(r2[0], r1[0]) * deg,
  };
}

/**
 * Pitch that {@link headPose} reads on frontal, level faces with this rough model (median over the embedded
 * crops, whose faces are near frontal): subtracted so that 0 means level. It cancels in pose errors.
 */
export const PITCH_OFFSET_DEG = 24;

/** L2 distance in degrees between two poses' (yaw, pitch, roll). */
export function poseError(a: HeadPose, b: HeadPose): number {
  return Math.hypot(a.yaw - b.yaw, a.pitch - b.pitch, a.roll - b.roll);
}
