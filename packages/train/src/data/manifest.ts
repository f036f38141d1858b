import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';

/**
 * A prepared dataset's manifest: one CSV row per aligned face crop. Written by `yarn prepare-data`, read by the
 * training loader. Paths are POSIX, relative to the dataset folder (`path`) or to the prepared input folder
 * (`source`); coordinates are pixels of the source photo.
 *
 * Sharded runs (`--shard i/n`) each write `manifest-<i>-of-<n>.csv`. A dataset folder is read as
 * `manifest.csv` when it exists, otherwise as the concatenation of every `manifest-*-of-*.csv` in it
 * (`yarn prepare-data --merge --output <dir>` writes that concatenation to manifest.csv).
 */
export interface ManifestRow {
  path: string;
  identity: string;
  source: string;
  /** Index of the face in its photo (detector order, highest score first). */
  face: number;
  score: number;
  detector: string;
  box: [number, number, number, number];
  /** left eye, right eye, nose tip, left mouth corner, right mouth corner, each [x, y]. */
  landmarks: [number, number][];
}

export const MANIFEST_COLUMNS = [
  'path', 'identity', 'source', 'face', 'score', 'detector', 'box_x', 'box_y', 'box_w', 'box_h',
  'left_eye_x', 'left_eye_y', 'right_eye_x', 'right_eye_y', 'nose_x', 'nose_y',
  'mouth_left_x', 'mouth_left_y', 'mouth_right_x', 'mouth_right_y',
] as const;

export interface SkippedRow {
  source: string;
  reason: string;
}

const round2 = (v: number): string => (Number.isFinite(v) ? (Math.round(v * 100) / 100).toString() : '');

export function manifestToCsv(rows: readonly ManifestRow[]): string {
  const records = rows.map((r) => [
    r.path, r.identity, r.source, String(r.face), Number.isFinite(r.score) ? r.score.toFixed(4) : '', r.detector,
    ...r.box.map(round2),
    // Rows read from a manifest with only path and identity have no landmarks: empty cells keep the CSV rectangular.
    ...(r.landmarks.length ? r.landmarks.flatMap((p) => p.map(round2)) : new Array<string>(10).fill('')),
  ]);
  return stringify([[...MANIFEST_COLUMNS], ...records]);
}

export function skippedToCsv(rows: readonly SkippedRow[]): string {
  return stringify([['source', 'reason'], ...rows.map((r) => [r.source, r.reason])]);
}

function num(file: string, line: number, rec: Record<string, string>, key: string): number {
  const v = Number(rec[key]);
  if (rec[key] === undefined || rec[key] === '' || !Number.isFinite(v)) {
    throw new Error(`${file}:${line}: column '${key}' is '${rec[key] ?? ''}', not a number; regenerate the manifest with \`yarn prepare-data\`.`);
  }
  return v;
}

export interface ReadManifestOptions {
  /**
   * Called for a bad row (empty path, a non-number where a number belongs) instead of throwing: the row is left
   * out. `message` names the file, the line and the column. The training loader skips bad rows this way.
   */
  onBadRow?: (message: string) => void;
}

/** Parses one manifest CSV file; errors name the file, the line and the column. */
export async function readManifestFile(file: string, options: ReadManifestOptions = {}): Promise<ManifestRow[]> {
  const text = await fs.readFile(file, 'utf8');
  let records: Record<string, string>[];
  try {
    // Leniently read, a row with too few or too many cells is one bad row, not a bad file.
    records = parse(text, { columns: true, skip_empty_lines: true, bom: true, relax_column_count: options.onBadRow !== undefined }) as Record<string, string>[];
  } catch (e) {
    throw new Error(`${file} is not a valid CSV manifest (${e instanceof Error ? e.message : String(e)}).`);
  }
  if (records.length > 0) {
    const missing = ['path', 'identity'].filter((c) => !(c in records[0]!));
    if (missing.length) throw new Error(`${file} has no '${missing.join("', '")}' column; a manifest needs at least path and identity.`);
  }
  const rows: ManifestRow[] = [];
  const width = records.length > 0 ? Object.keys(records[0]!).length : 0;
  records.forEach((rec, i) => {
    try {
      if (Object.keys(rec).length !== width) throw new Error(`${file}:${i + 2}: ${Object.keys(rec).length} cells, the header has ${width}.`);
      rows.push(parseRow(file, i + 2, rec));
    } catch (e) {
      if (!options.onBadRow) throw e;
      options.onBadRow(e instanceof Error ? e.message : String(e));
    }
  });
  return rows;
}

function parseRow(file: string, line: number, rec: Record<string, string>): ManifestRow {
  if (!rec.path) throw new Error(`${file}:${line}: empty 'path'.`);
  const has = (k: string): boolean => rec[k] !== undefined && rec[k] !== '';
  return {
    path: rec.path,
    identity: rec.identity || rec.path,
    source: rec.source ?? '',
    face: has('face') ? num(file, line, rec, 'face') : 0,
    score: has('score') ? num(file, line, rec, 'score') : NaN,
    detector: rec.detector ?? '',
    box: has('box_x') ? (['box_x', 'box_y', 'box_w', 'box_h'].map((k) => num(file, line, rec, k)) as ManifestRow['box']) : [NaN, NaN, NaN, NaN],
    landmarks: has('left_eye_x')
      ? ['left_eye', 'right_eye', 'nose', 'mouth_left', 'mouth_right'].map((p) => [num(file, line, rec, `${p}_x`), num(file, line, rec, `${p}_y`)] as [number, number])
      : [],
  };
}

/** `manifest.csv`, or else the sorted `manifest-<i>-of-<n>.csv` parts, of a dataset folder. */
export async function manifestFiles(dir: string): Promise<string[]> {
  const whole = path.join(dir, 'manifest.csv');
  if (existsSync(whole)) return [whole];
  const names = await fs.readdir(dir);
  return names
    .filter((n) => /^manifest-\d+-of-\d+\.csv$/.test(n))
    .sort((a, b) => Number(a.split('-')[1]) - Number(b.split('-')[1]))
    .map((n) => path.join(dir, n));
}

/** Reads a dataset folder's manifest (whole, or all parts) or one manifest file. */
export async function readManifest(fileOrDir: string, options: ReadManifestOptions = {}): Promise<{ root: string; rows: ManifestRow[] }> {
  const stat = await fs.stat(fileOrDir).catch(() => undefined);
  if (!stat) throw new Error(`Dataset ${fileOrDir} does not exist; build one with \`yarn prepare-data --input <photos> --output ${fileOrDir}\`.`);
  if (stat.isFile()) return { root: path.dirname(fileOrDir), rows: await readManifestFile(fileOrDir, options) };
  const files = await manifestFiles(fileOrDir);
  if (files.length === 0) throw new Error(`${fileOrDir} has no manifest.csv or manifest-<i>-of-<n>.csv.`);
  const rows = (await Promise.all(files.map((f) => readManifestFile(f, options)))).flat();
  return { root: fileOrDir, rows };
}
