import type { Landmarks5, Point } from './alignment.js';

/**
 * The 68-point (iBUG 300-W) layout face-api predicts, reduced to the 5 points alignment uses.
 * In that layout 36-41 is the eye on the image's left, 42-47 the one on its right, 30 the nose tip, and 48 / 54
 * the mouth corners.
 */
const LEFT_EYE = [36, 37, 38, 39, 40, 41];
const RIGHT_EYE = [42, 43, 44, 45, 46, 47];
const NOSE_TIP = 30;
const MOUTH_LEFT = 48;
const MOUTH_RIGHT = 54;

function mean(points: readonly Point[], idx: readonly number[]): Point {
  let x = 0;
  let y = 0;
  for (const i of idx) {
    x += points[i]![0];
    y += points[i]![1];
  }
  return [x / idx.length, y / idx.length];
}

/** Eye centres (mean of the six eyelid points), nose tip, mouth corners. */
export function reduceLandmarks68(points: readonly Point[]): Landmarks5 {
  if (points.length !== 68) throw new Error(`reduceLandmarks68: expected 68 points, got ${points.length}.`);
  return [mean(points, LEFT_EYE), mean(points, RIGHT_EYE), points[NOSE_TIP]!, points[MOUTH_LEFT]!, points[MOUTH_RIGHT]!];
}

/** Distance between the eye centres: the scale of a face, used for minimum-size checks. */
export function eyeDistance(l: Landmarks5): number {
  return Math.hypot(l[1][0] - l[0][0], l[1][1] - l[0][1]);
}
