import {
  alignFaceAs,
  decodeImage,
  DEFAULT_FACE_ALIGNMENT,
  isFaceAlignment,
  type FaceAlignment,
  eyeDistance,
  IMAGE_EXTENSIONS,
  ImageDecodeError,
  loadFaceDetector,
  resizeImage,
  writeFileAtomic,
  writePng,
  type DetectedFace,
  type DetectOptions,
  type FaceDetector,
  type Landmarks5,
  type RawImage,
} from '@faceshifter/core/node';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { ProgressBar } from '../logging/progress.js';
import { manifestFiles, manifestToCsv, readManifestFile, skippedToCsv, type ManifestRow, type SkippedRow } from './manifest.js';

/**
 * `yarn prepare-data`: photos in, FFHQ-style aligned face crops (PNG) plus manifest.csv out.
 *
 * Crash safety and resuming: every finished photo is one line appended to a journal
 * (`.prepare/journal[-i-of-n].jsonl`) after its crops are written (each crop atomically). A rerun reads the
 * journal and skips those photos; a line cut short by a crash is dropped, and that photo is simply redone. The
 * manifest and skipped.csv are rebuilt from the journal (every 200 photos and at the end), each written
 * atomically, so they are always complete CSV files listing crops that exist.
 */

export type Layout = 'flat' | 'identity-folders';

export interface Shard {
  index: number;
  count: number;
}

export interface PrepareOptions {
  input: string;
  output: string;
  /** Crop side in pixels; default 256. */
  size?: number;
  /** How faces are aligned (core faces/templates.ts); default `ffhq`. `reference` makes crops like the PyTorch reference's. */
  align?: FaceAlignment;
  /**
   * `flat` (CelebA-HQ, FFHQ): every face is its own identity. `identity-folders` (VGGFace2): each first-level
   * subfolder is one identity and only the largest face of each of its photos is kept; photos directly in the
   * input root are treated as in `flat`.
   */
  layout?: Layout;
  shard?: Shard;
  /** Minimum detector score; default 0.5. */
  minScore?: number;
  /** Faces whose eyes are closer than this many photo pixels are skipped (too small to crop); default 20. */
  minEyeDistance?: number;
  /** Which faces of a photo to keep; default: all for flat photos, the largest for identity folders. */
  faces?: 'all' | 'largest';
  /** Face detector model: `ssd` (default; falls back to `tiny` when it finds nothing) or `tiny` (faster, weaker). */
  detector?: 'ssd' | 'tiny';
  /** Progress bar stream; default stderr; false for none. */
  progress?: NodeJS.WriteStream | false;
  /** A loaded detector to use instead of loading face-api's (tests pass stand-ins). */
  faceDetector?: Pick<FaceDetector, 'detect'>;
}

export interface PrepareSummary {
  /** Photos in this shard. */
  photos: number;
  /** Of those, done by an earlier run. */
  resumed: number;
  /** Faces in the manifest. */
  faces: number;
  identities: number;
  skipped: number;
  /** Files without an image extension, ignored. */
  ignored: number;
  manifest: string;
  skippedFile: string;
}

interface JournalEntry {
  source: string;
  faces?: ManifestRow[];
  skipped?: string;
}

const SETTINGS_VERSION = 1;
/** Photos larger than this (longest side) are detected on a downscaled copy; crops still come from full resolution. */
const MAX_DETECT_SIDE = 2048;
const MANIFEST_EVERY = 200;

/** Parses `i/n` (0 <= i < n). */
export function parseShard(spec: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(spec.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) throw new Error(`--shard '${spec}' must be i/n with 0 <= i < n, e.g. 0/4.`);
  return { index, count };
}

/** FNV-1a (32-bit) of a string: a stable hash, the same on every machine and Node version. */
export function stableHash(s: string): number {
  let h = 0x811c9dc5;
  const bytes = Buffer.from(s, 'utf8');
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Whether a photo (POSIX path relative to the input folder) belongs to a shard. */
export function inShard(relPath: string, shard: Shard | undefined): boolean {
  return !shard || stableHash(relPath) % shard.count === shard.index;
}

function shardSuffix(shard: Shard | undefined): string {
  return shard ? `-${shard.index}-of-${shard.count}` : '';
}


/** Files under `dir` (recursive, hidden names skipped), as sorted POSIX paths relative to `dir`. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = await fs.readdir(path.join(dir, rel), { withFileTypes: true });
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(r);
      else if (e.isFile() || e.isSymbolicLink()) out.push(r);
    }
  };
  await walk('');
  return out.sort();
}

export function isImagePath(p: string): boolean {
  return IMAGE_EXTENSIONS.includes(path.extname(p).toLowerCase());
}

async function readJournal(file: string): Promise<Map<string, JournalEntry>> {
  const done = new Map<string, JournalEntry>();
  if (!existsSync(file)) return done;
  const bytes = await fs.readFile(file);
  let start = 0;
  while (start < bytes.length) {
    const nl = bytes.indexOf(0x0a, start);
    // A last line without its newline was cut short by a crash: drop it; that photo is simply redone.
    if (nl < 0) break;
    const line = bytes.subarray(start, nl).toString('utf8').trim();
    if (line) {
      let entry: JournalEntry;
      try {
        entry = JSON.parse(line) as JournalEntry;
      } catch {
        break;
      }
      if (typeof entry.source === 'string') done.set(entry.source, entry);
    }
    start = nl + 1;
  }
  if (start < bytes.length) await fs.truncate(file, start);
  return done;
}

interface Settings {
  version: number;
  size: number;
  layout: Layout;
  template: string;
  detector: string;
  minScore: number;
  minEyeDistance: number;
  faces: string;
}

async function checkSettings(dir: string, settings: Settings): Promise<void> {
  const file = path.join(dir, 'settings.json');
  if (existsSync(file)) {
    const old = JSON.parse(await fs.readFile(file, 'utf8')) as Settings;
    const diffs = (Object.keys(settings) as (keyof Settings)[]).filter((k) => old[k] !== settings[k]);
    if (diffs.length) {
      const what = diffs.map((k) => `${k} ${String(old[k])} (now ${String(settings[k])})`).join(', ');
      throw new Error(`${path.dirname(dir)} was prepared with ${what}; use those settings to resume, or a new --output.`);
    }
    return;
  }
  await writeFileAtomic(file, JSON.stringify(settings, null, 2) + '\n');
}

/** The settings' name of an alignment; `ffhq-5pt` is what datasets made before alignments had names record. */
function templateSetting(align: FaceAlignment): string {
  return align === 'ffhq' ? 'ffhq-5pt' : align;
}

/**
 * The alignment a dataset folder made by prepare-data was cropped with (its .prepare/settings.json), or null for a
 * folder of crops from elsewhere, whose alignment is not recorded.
 */
export async function datasetAlignment(root: string): Promise<FaceAlignment | null> {
  try {
    const settings = JSON.parse(await fs.readFile(path.join(root, '.prepare', 'settings.json'), 'utf8')) as Partial<Settings>;
    const t = settings.template === 'ffhq-5pt' ? 'ffhq' : settings.template;
    return isFaceAlignment(t) ? t : null;
  } catch {
    return null;
  }
}

function identityOf(rel: string, layout: Layout): { identity: string | undefined; stem: string } {
  const noExt = rel.slice(0, rel.length - path.extname(rel).length);
  const parts = noExt.split('/');
  if (layout === 'identity-folders' && parts.length > 1) return { identity: parts[0]!, stem: noExt };
  return { identity: undefined, stem: noExt };
}

function faceArea(f: DetectedFace): number {
  return f.box.width * f.box.height;
}

async function detectOn(detector: Pick<FaceDetector, 'detect'>, photo: RawImage, options: DetectOptions): Promise<DetectedFace[]> {
  const side = Math.max(photo.width, photo.height);
  if (side <= MAX_DETECT_SIDE) return detector.detect(photo, options);
  const s = MAX_DETECT_SIDE / side;
  const small = await resizeImage(photo, Math.round(photo.width * s), Math.round(photo.height * s));
  const sx = photo.width / small.width;
  const sy = photo.height / small.height;
  const faces = await detector.detect(small, options);
  return faces.map((f) => ({
    ...f,
    box: { x: f.box.x * sx, y: f.box.y * sy, width: f.box.width * sx, height: f.box.height * sy },
    landmarks68: f.landmarks68.map(([x, y]) => [x * sx, y * sy] as const),
    landmarks5: f.landmarks5.map(([x, y]) => [x * sx, y * sy] as const) as unknown as Landmarks5,
  }));
}

/** Runs the preparation; see {@link PrepareOptions}. Throws for an input that cannot be used at all. */
export async function prepareDataset(options: PrepareOptions): Promise<PrepareSummary> {
  const size = options.size ?? 256;
  const layout = options.layout ?? 'flat';
  const minScore = options.minScore ?? 0.5;
  const minEyeDistance = options.minEyeDistance ?? 20;
  if (!Number.isInteger(size) || size < 16) throw new Error(`--size ${size} must be an integer of at least 16.`);
  const input = path.resolve(options.input);
  const output = path.resolve(options.output);
  const inputStat = await fs.stat(input).catch(() => undefined);
  if (!inputStat?.isDirectory()) throw new Error(`Input folder ${options.input} does not exist or is not a folder; pass --input <folder of photos>.`);
  if (output === input || output.startsWith(input + path.sep)) {
    throw new Error(`--output ${options.output} is inside --input ${options.input}; write the dataset somewhere else.`);
  }

  const all = await listFiles(input);
  const images = all.filter(isImagePath);
  const ignored = all.length - images.length;
  if (images.length === 0) {
    throw new Error(`No photos in ${options.input} (looked for ${IMAGE_EXTENSIONS.join(', ')}${ignored ? `; ${ignored} other files ignored` : ''}).`);
  }
  const photos = images.filter((p) => inShard(p, options.shard));

  const stateDir = path.join(output, '.prepare');
  await fs.mkdir(stateDir, { recursive: true });
  const detectorModel = options.detector ?? 'ssd';
  const align = options.align ?? DEFAULT_FACE_ALIGNMENT;
  await checkSettings(stateDir, { version: SETTINGS_VERSION, size, layout, template: templateSetting(align), detector: detectorModel, minScore, minEyeDistance, faces: options.faces ?? 'auto' });
  const suffix = shardSuffix(options.shard);
  const journalFile = path.join(stateDir, `journal${suffix}.jsonl`);
  const journal = await readJournal(journalFile);
  const manifestFile = path.join(output, `manifest${suffix}.csv`);
  const skippedFile = path.join(output, `skipped${suffix}.csv`);

  const writeOutputs = async (): Promise<{ faces: number; skipped: number; identities: number }> => {
    const rows: ManifestRow[] = [];
    const skipped: SkippedRow[] = [];
    for (const p of photos) {
      const e = journal.get(p);
      if (!e) continue;
      if (e.faces) rows.push(...e.faces);
      if (e.skipped) skipped.push({ source: p, reason: e.skipped });
    }
    await writeFileAtomic(manifestFile, manifestToCsv(rows));
    await writeFileAtomic(skippedFile, skippedToCsv(skipped));
    return { faces: rows.length, skipped: skipped.length, identities: new Set(rows.map((r) => r.identity)).size };
  };

  const pending = photos.filter((p) => !journal.has(p));
  const resumed = photos.length - pending.length;
  const detector = options.faceDetector ?? (pending.length ? await loadFaceDetector() : undefined);
  const bar = options.progress === false ? undefined : new ProgressBar({ total: photos.length, label: 'prepare', stream: options.progress, start: resumed });

  const decode = (rel: string): Promise<RawImage | ImageDecodeError> =>
    decodeImage(path.join(input, rel)).catch((e: unknown) => (e instanceof ImageDecodeError ? e : new ImageDecodeError(rel, String(e))));

  let facesSoFar = [...journal.values()].reduce((n, e) => n + (e.faces?.length ?? 0), 0);
  // Decoding runs on libuv threads; the next photo decodes while the current one is detected.
  let next = pending.length ? decode(pending[0]!) : undefined;
  for (let i = 0; i < pending.length; i++) {
    const rel = pending[i]!;
    const decoded = await next!;
    next = i + 1 < pending.length ? decode(pending[i + 1]!) : undefined;
    const entry: JournalEntry = { source: rel };
    if (decoded instanceof ImageDecodeError) {
      entry.skipped = decoded.reason;
    } else {
      const found = await detectOn(detector!, decoded, { minScore, detector: detectorModel });
      const bigEnough = found.filter((f) => eyeDistance(f.landmarks5) >= minEyeDistance);
      const { identity: folderIdentity, stem } = identityOf(rel, layout);
      const keep = options.faces ?? (folderIdentity ? 'largest' : 'all');
      const chosen = keep === 'largest' ? bigEnough.sort((a, b) => faceArea(b) - faceArea(a)).slice(0, 1) : bigEnough;
      if (found.length === 0) entry.skipped = `no face found (detector score >= ${minScore})`;
      else if (chosen.length === 0) entry.skipped = `faces too small (eye distance < ${minEyeDistance} px)`;
      else {
        entry.faces = [];
        for (const [k, f] of chosen.entries()) {
          const crop = alignFaceAs(decoded, f.landmarks5, size, align).crop;
          const out = `faces/${stem}_f${k}.png`;
          await writePng(path.join(output, out), crop);
          entry.faces.push({
            path: out,
            identity: folderIdentity ?? `${stem}_f${k}`,
            source: rel,
            face: k,
            score: f.score,
            detector: f.detector,
            box: [f.box.x, f.box.y, f.box.width, f.box.height],
            landmarks: f.landmarks5.map(([x, y]) => [x, y] as [number, number]),
          });
        }
        facesSoFar += entry.faces.length;
      }
    }
    await fs.appendFile(journalFile, JSON.stringify(entry) + '\n');
    journal.set(rel, entry);
    if ((i + 1) % MANIFEST_EVERY === 0) await writeOutputs();
    bar?.update(resumed + i + 1, { faces: String(facesSoFar) });
  }
  bar?.done();
  const counts = await writeOutputs();
  return { photos: photos.length, resumed, ignored, manifest: manifestFile, skippedFile, ...counts };
}

/** Concatenates a dataset folder's manifest-<i>-of-<n>.csv and skipped-<i>-of-<n>.csv parts into manifest.csv and skipped.csv. */
export async function mergeShards(output: string): Promise<{ faces: number; parts: number }> {
  const dir = path.resolve(output);
  const whole = path.join(dir, 'manifest.csv');
  if (existsSync(whole)) throw new Error(`${whole} already exists; delete it first to merge the parts again.`);
  const parts = await manifestFiles(dir);
  if (parts.length === 0) throw new Error(`${output} has no manifest-<i>-of-<n>.csv parts to merge.`);
  const rows = (await Promise.all(parts.map((f) => readManifestFile(f)))).flat();
  const skipped: SkippedRow[] = [];
  for (const name of (await fs.readdir(dir)).filter((n) => /^skipped-\d+-of-\d+\.csv$/.test(n)).sort()) {
    const { parse } = await import('csv-parse/sync');
    const recs = parse(await fs.readFile(path.join(dir, name), 'utf8'), { columns: true, skip_empty_lines: true }) as SkippedRow[];
    skipped.push(...recs);
  }
  await writeFileAtomic(path.join(dir, 'skipped.csv'), skippedToCsv(skipped));
  await writeFileAtomic(whole, manifestToCsv(rows));
  return { faces: rows.length, parts: parts.length };
}
