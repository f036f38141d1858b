import { readFile } from 'node:fs/promises';
import { fromPixelIndices, type Landmarks5, type Point } from '@faceshifter/core/node';

/**
 * `yarn swap --landmarks points.json`: the five landmarks of the source and target faces, given instead of detected
 * (the reference's MTCNN points, or another detector's), so that a swap can be compared point for point with the
 * reference's own run. The file:
 *
 *   { "convention": "pixel-index", "source": [[x, y] × 5], "target": [[x, y] × 5] or [[[x, y] × 5], ...] }
 *
 * Points are left eye, right eye, nose tip, left and right mouth corner, image-left first. `pixel-index` (the
 * default: cv2, MTCNN, insightface and the reference) puts pixel i's centre at i; `continuous` (this project's and
 * face-api's) at i + 0.5.
 */
export interface GivenLandmarks {
  source: Landmarks5[];
  target: Landmarks5[];
}

function faces(v: unknown, file: string, key: string): Landmarks5[] {
  const isPoint = (p: unknown): p is [number, number] => Array.isArray(p) && p.length === 2 && p.every((c) => typeof c === 'number' && Number.isFinite(c));
  const isFace = (f: unknown): f is Point[] => Array.isArray(f) && f.length === 5 && f.every(isPoint);
  if (isFace(v)) return [v as unknown as Landmarks5];
  if (Array.isArray(v) && v.length > 0 && v.every(isFace)) return v as unknown as Landmarks5[];
  throw new Error(`${file}: "${key}" must be 5 [x, y] points (left eye, right eye, nose tip, left and right mouth corner) or a list of such faces`);
}

export async function readLandmarksFile(file: string): Promise<GivenLandmarks> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${file}: no such file (--landmarks); check the path` : `${file}: not valid JSON (--landmarks): ${e instanceof Error ? e.message : String(e)}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${file}: --landmarks expects an object with "source" and "target" point lists`);
  const o = doc as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !['convention', 'source', 'target'].includes(k));
  if (unknown.length) throw new Error(`${file}: unknown key "${unknown[0]}" in --landmarks; valid keys: convention, source, target`);
  const convention = o.convention ?? 'pixel-index';
  if (convention !== 'pixel-index' && convention !== 'continuous') throw new Error(`${file}: "convention" is ${JSON.stringify(convention)}; use "pixel-index" (cv2, MTCNN: pixel i's centre at i) or "continuous" (centre at i + 0.5)`);
  const convert = (l: Landmarks5): Landmarks5 => (convention === 'pixel-index' ? fromPixelIndices(l) : l);
  return { source: faces(o.source, file, 'source').map(convert), target: faces(o.target, file, 'target').map(convert) };
}
