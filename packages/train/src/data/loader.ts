import * as tf from '@tensorflow/tfjs';
import { decodeImage, ImageDecodeError, type ChannelOrder } from '@faceshifter/core/node';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import seedrandom from 'seedrandom';
import { drawAugment, FACESHIFTER_JITTER, writeAugmented, type AugmentParams, type ColorJitter } from './augment.js';
import { checkImageFiles } from './file_check.js';
import { readManifest, type ReadManifestOptions } from './manifest.js';
import { isImagePath, listFiles } from './prepare.js';

/**
 * The training data loader: (X_s, X_t, same) batches for AEI-Net and HEAR-Net.
 *
 * - Pairs: X_t walks the dataset in a seeded random order, one epoch after another; with probability
 *   `sameProbability` X_s is the very same image with the same augmentation (X_s = X_t, the pairs L_rec uses),
 *   otherwise a uniformly drawn other image. The paper uses 0.2 for AEI-Net and 0.5 for HEAR-Net.
 * - Determinism: every random choice (order, pairs, flips, jitter) is drawn from one seedrandom stream when a batch
 *   is planned, in batch order, so the sequence of batches depends on the seed alone, not on decode timing.
 * - Decoding (sharp: decode + Lanczos resize to the model resolution) runs on libuv worker threads, `prefetch`
 *   batches ahead of the one being trained on, and decoded images stay in an LRU cache of `cacheBytes`, so after
 *   the first epoch of a small dataset nothing is decoded again. What remains on the step's path is one JS pass
 *   per image that flips, jitters and converts it into the batch buffer (augment.ts).
 * - Bad data: a file that is missing or does not decode, and a manifest row that does not parse, is skipped with
 *   a warning naming it, and its place in the batch is taken by another image drawn from a stream seeded by the
 *   run's seed and the position in the data, so a run with bad files is as deterministic as one without, resumed
 *   or not. Files are checked cheaply (first and last bytes) when the loader opens, so most bad files are known
 *   before step 1; the rest are found when first drawn. Past `maxSkipFraction` of the dataset, the loader stops
 *   the run with a {@link DataSkipError}.
 */
export interface FacePairLoaderOptions {
  /** A prepared dataset folder (manifest.csv or manifest-*-of-*.csv), one manifest file, or a folder of aligned face images. */
  source: string;
  batchSize: number;
  /** Side of the images handed to the model. */
  resolution: number;
  /** Probability that X_s = X_t: 0.2 for AEI-Net, 0.5 for HEAR-Net. */
  sameProbability: number;
  seed: number | string;
  /** Colour jitter; default FaceShifter's (0.2, 0.2, 0.2, 0.01); false for none. */
  jitter?: ColorJitter | false;
  /** Random horizontal flips; default true. */
  flip?: boolean;
  /** Batches decoded ahead; default 2. */
  prefetch?: number;
  /** Budget of the decoded-image cache in bytes; default 512 MiB. */
  cacheBytes?: number;
  /** The run stops when more than this fraction of files and manifest rows is unreadable; default 0.01. */
  maxSkipFraction?: number;
  /** Check every file's first and last bytes when opening; default true. */
  checkFiles?: boolean;
  /** Where the warning about each skipped file goes; default stderr. */
  warn?: (line: string) => void;
  /**
   * The channel order of the batches: `rgb` (default), or `bgr` for weights trained on BGR (the PyTorch reference's
   * cv2.imread images; faces.channels in a config).
   */
  channels?: ChannelOrder;
}

/** More of the dataset was unreadable than `data.maxSkipFraction` allows. */
export class DataSkipError extends Error {
  constructor(readonly skipped: number, readonly total: number, readonly maxFraction: number, readonly first: string) {
    super(
      `Training data: ${skipped} of ${total} files or manifest rows are unreadable (${((100 * skipped) / total).toFixed(2)}%), more than ` +
        `data.maxSkipFraction ${maxFraction}; the first is ${first}. Fix or remove them (\`yarn prepare-data\` rebuilds a dataset), or raise data.maxSkipFraction.`,
    );
    this.name = 'DataSkipError';
  }
}

/** Warnings printed one by one before the rest are only counted (data/skipped). */
const MAX_SKIP_WARNINGS = 50;

export interface FacePairBatch {
  /** X_s, [B, R, R, 3] in [-1, 1]. */
  source: tf.Tensor4D;
  /** X_t, [B, R, R, 3] in [-1, 1]. */
  target: tf.Tensor4D;
  /** 1 where X_s = X_t, else 0; [B]. */
  same: tf.Tensor1D;
  sourceIndex: number[];
  targetIndex: number[];
}

export interface DatasetItem {
  file: string;
  identity: string;
}

/** A loader position, as saved in checkpoints. */
export interface LoaderState {
  version: 1;
  items: number;
  rng: object;
  epochStart: object | null;
  cursor: number;
  epoch: number;
  /** Indices of the files found unreadable so far (they stay skipped after a resume). */
  skipped?: number[];
}

interface PlannedBatch {
  /** The loader's position after planning this batch. */
  after: LoaderState;
  sourceIndex: number[];
  targetIndex: number[];
  same: boolean[];
  sourceAug: AugmentParams[];
  targetAug: AugmentParams[];
  /** Decoded pixels by index, or why the file could not be decoded. */
  pixels: Promise<Map<number, Uint8Array | string>>;
}

/** The images of a dataset: a manifest's rows, or every image under a folder that has no manifest. */
export async function listDatasetItems(source: string, options: ReadManifestOptions = {}): Promise<DatasetItem[]> {
  const stat = await fs.stat(source).catch(() => undefined);
  if (!stat) throw new Error(`Dataset ${source} does not exist; prepare one with \`yarn prepare-data --input <photos> --output ${source}\` or use datasets/embedded.`);
  const hasManifest = stat.isFile() || (await fs.readdir(source)).some((n) => /^manifest(-\d+-of-\d+)?\.csv$/.test(n));
  if (hasManifest) {
    const { root, rows } = await readManifest(source, options);
    return rows.map((r) => ({ file: path.join(root, r.path), identity: r.identity }));
  }
  const files = (await listFiles(source)).filter(isImagePath);
  return files.map((f) => ({ file: path.join(source, f), identity: f.slice(0, f.length - path.extname(f).length) }));
}

function problemOf(e: unknown): string {
  if (e instanceof ImageDecodeError) return e.reason;
  return e instanceof Error ? e.message.split('\n')[0]! : String(e);
}

export class FacePairLoader {
  private rng: seedrandom.prng;
  private order: number[] = [];
  /** The stream's state just before the current epoch's shuffle: the order is rebuilt from it on restore. */
  private epochStart: object | undefined;
  private cursor = 0;
  private epochCount = 0;
  /** Where the stream stood after planning the last batch that next() returned. */
  private returnedState: LoaderState;
  private readonly queue: PlannedBatch[] = [];
  private readonly cache = new Map<number, Uint8Array>();
  private readonly inflight = new Map<number, Promise<Uint8Array>>();
  private cachedBytes = 0;
  private disposed = false;
  /** Files that could not be read, by index, with why; counted in {@link skipped}. */
  private readonly skippedFiles = new Map<number, string>();
  /** Decode failures seen ahead of time by prefetch; counted only when their batch is taken, in batch order. */
  private readonly failed = new Map<number, string>();
  private badRows: string[] = [];
  private warnings = 0;
  readonly jitter: ColorJitter | false;
  readonly flip: boolean;

  private constructor(readonly items: readonly DatasetItem[], readonly options: FacePairLoaderOptions) {
    this.rng = seedrandom(String(options.seed), { state: true });
    this.returnedState = this.snapshot();
    this.jitter = options.jitter ?? FACESHIFTER_JITTER;
    this.flip = options.flip ?? true;
  }

  static async open(options: FacePairLoaderOptions): Promise<FacePairLoader> {
    const { batchSize, resolution, sameProbability } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`FacePairLoader: batchSize ${batchSize} must be a positive integer.`);
    if (!Number.isInteger(resolution) || resolution < 4) throw new Error(`FacePairLoader: resolution ${resolution} must be an integer of at least 4.`);
    if (!(sameProbability >= 0 && sameProbability <= 1)) throw new Error(`FacePairLoader: sameProbability ${sameProbability} must be in [0, 1].`);
    const badRows: string[] = [];
    const items = await listDatasetItems(options.source, { onBadRow: (m) => badRows.push(m) });
    if (items.length === 0) throw new Error(`Dataset ${options.source} has no images.`);
    if (items.length < 2 && sameProbability < 1) throw new Error(`Dataset ${options.source} has one image; pairs of different images need at least two.`);
    const loader = new FacePairLoader(items, options);
    loader.badRows = badRows;
    const bad = options.checkFiles ?? true ? await checkImageFiles(items.map((i) => i.file)) : new Map<number, string>();
    for (const [index, problem] of bad) loader.skippedFiles.set(index, problem);
    // Too many bad files is one error naming the first; otherwise each is named in a warning and training goes on.
    loader.checkSkipBudget();
    loader.skippedFiles.clear();
    for (const row of badRows) loader.warn(`skipping manifest row ${row}`);
    for (const [index, problem] of bad) loader.skip(index, problem);
    return loader;
  }

  /** Files and manifest rows skipped so far as unreadable (logged as data/skipped). */
  get skipped(): number {
    return this.skippedFiles.size + this.badRows.length;
  }

  private warn(message: string): void {
    const out = this.options.warn ?? ((line: string) => process.stderr.write(line + '\n'));
    this.warnings++;
    if (this.warnings <= MAX_SKIP_WARNINGS) out(`[faceshifter] data: ${message}`);
    if (this.warnings === MAX_SKIP_WARNINGS) out(`[faceshifter] data: further skipped files are counted (data/skipped in metrics.csv and TensorBoard) but not printed.`);
  }

  private skip(index: number, problem: string): void {
    if (this.skippedFiles.has(index)) return;
    this.skippedFiles.set(index, problem);
    this.failed.set(index, problem);
    this.warn(`skipping ${this.items[index]!.file}: ${problem}; another image takes its place`);
  }

  private checkSkipBudget(): void {
    const total = this.items.length + this.badRows.length;
    const max = this.options.maxSkipFraction ?? 0.01;
    if (this.skipped / total <= max) return;
    const [index, problem] = [...this.skippedFiles][0] ?? [];
    const first = index !== undefined ? `${this.items[index]!.file} (${problem})` : `manifest row ${this.badRows[0]}`;
    throw new DataSkipError(this.skipped, total, max, first);
  }

  /** Full passes over the dataset (as X_t) planned so far. */
  get epoch(): number {
    return this.epochCount;
  }

  private nextTarget(): number {
    if (this.cursor >= this.order.length) {
      this.epochStart = this.rng.state();
      this.order = this.shuffled(this.rng);
      this.cursor = 0;
      this.epochCount++;
    }
    return this.order[this.cursor++]!;
  }

  /** Fisher-Yates with the seeded stream. */
  private shuffled(rng: () => number): number[] {
    const order = this.items.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    return order;
  }

  private snapshot(): LoaderState {
    return { version: 1, items: this.items.length, rng: this.rng.state(), epochStart: this.epochStart ?? null, cursor: this.cursor, epoch: this.epochCount };
  }

  /** JSON-serialisable position and RNG state as of the last batch next() returned (checkpoints save it). */
  state(): LoaderState {
    return { ...this.returnedState, skipped: [...this.skippedFiles.keys()].sort((a, b) => a - b) };
  }

  /** Continues from a {@link state}: the batches that follow are the ones the saved run would have seen next. */
  restore(state: unknown): void {
    const s = state as Partial<LoaderState> | null;
    if (!s || s.version !== 1 || typeof s.rng !== 'object' || typeof s.cursor !== 'number' || typeof s.epoch !== 'number') {
      throw new Error('FacePairLoader.restore: not a state saved by FacePairLoader.state(); start the run afresh or use its own checkpoint.');
    }
    if (s.items !== this.items.length) {
      throw new Error(`FacePairLoader.restore: the saved run had ${s.items} images, this dataset has ${this.items.length}; resume with the same dataset.`);
    }
    this.queue.length = 0;
    this.rng = seedrandom('', { state: s.rng! });
    this.epochStart = s.epochStart ?? undefined;
    this.order = s.epochStart ? this.shuffled(seedrandom('', { state: s.epochStart })) : [];
    this.cursor = s.cursor;
    this.epochCount = s.epoch;
    this.returnedState = this.snapshot();
    // Files the saved run found unreadable stay counted, so data/skipped continues where it was.
    for (const index of s.skipped ?? []) {
      if (Number.isInteger(index) && index >= 0 && index < this.items.length && !this.skippedFiles.has(index)) this.skip(index, 'unreadable earlier in this run');
    }
  }

  private decode(index: number): Promise<Uint8Array> {
    const known = this.failed.get(index);
    if (known !== undefined) return Promise.reject(new ImageDecodeError(this.items[index]!.file, known));
    const hit = this.cache.get(index);
    if (hit) {
      // Refresh its LRU position.
      this.cache.delete(index);
      this.cache.set(index, hit);
      return Promise.resolve(hit);
    }
    let pending = this.inflight.get(index);
    if (!pending) {
      pending = decodeImage(this.items[index]!.file, { resize: this.options.resolution }).then((img) => {
        this.inflight.delete(index);
        this.remember(index, img.data);
        return img.data;
      });
      pending.catch((e: unknown) => {
        this.inflight.delete(index);
        this.failed.set(index, problemOf(e));
      });
      this.inflight.set(index, pending);
    }
    return pending;
  }

  private remember(index: number, data: Uint8Array): void {
    const budget = this.options.cacheBytes ?? 512 * 1024 * 1024;
    if (data.byteLength > budget || this.disposed) return;
    this.cache.set(index, data);
    this.cachedBytes += data.byteLength;
    for (const [k, v] of this.cache) {
      if (this.cachedBytes <= budget) break;
      this.cache.delete(k);
      this.cachedBytes -= v.byteLength;
    }
  }

  private plan(): PlannedBatch {
    const b = this.options.batchSize;
    const n = this.items.length;
    const batch: Omit<PlannedBatch, 'pixels' | 'after'> = { sourceIndex: [], targetIndex: [], same: [], sourceAug: [], targetAug: [] };
    for (let i = 0; i < b; i++) {
      const t = this.nextTarget();
      const same = this.rng() < this.options.sameProbability;
      // A uniformly drawn index other than t.
      const s = same ? t : (t + 1 + Math.floor(this.rng() * (n - 1))) % n;
      const targetAug = drawAugment(this.rng, this.jitter, this.flip);
      batch.targetIndex.push(t);
      batch.sourceIndex.push(s);
      batch.same.push(same);
      batch.targetAug.push(targetAug);
      batch.sourceAug.push(same ? targetAug : drawAugment(this.rng, this.jitter, this.flip));
    }
    const wanted = [...new Set([...batch.sourceIndex, ...batch.targetIndex])];
    const pixels = Promise.all(wanted.map(async (i) => [i, await this.decode(i).catch(problemOf)] as const)).then((pairs) => new Map(pairs));
    return { ...batch, pixels, after: this.snapshot() };
  }

  private fill(): void {
    const ahead = Math.max(1, (this.options.prefetch ?? 2) + 1);
    while (this.queue.length < ahead) this.queue.push(this.plan());
  }

  /** The next batch; the caller owns (and disposes) its tensors. */
  async next(): Promise<FacePairBatch> {
    if (this.disposed) throw new Error('FacePairLoader: next() after dispose().');
    this.fill();
    const planned = this.queue.shift()!;
    this.returnedState = planned.after;
    this.fill();
    const pixels = await planned.pixels;
    // Where a file is bad, another takes its place: drawn from a stream keyed by the batch's position in the data,
    // so the replacement is the same whenever the bad file was found and whether or not the run was resumed.
    const position = `${planned.after.epoch}:${planned.after.cursor}`;
    const target: [number, Uint8Array][] = [];
    const source: [number, Uint8Array][] = [];
    for (let k = 0; k < planned.targetIndex.length; k++) {
      const t = await this.usable(planned.targetIndex[k]!, pixels, `${position}:${k}:t`);
      target.push(t);
      source.push(planned.same[k] ? t : await this.usable(planned.sourceIndex[k]!, pixels, `${position}:${k}:s`, t[0]));
    }
    const r = this.options.resolution;
    const b = this.options.batchSize;
    const assemble = (images: [number, Uint8Array][], aug: AugmentParams[]): tf.Tensor4D => {
      const buf = new Float32Array(b * r * r * 3);
      images.forEach(([, px], k) => writeAugmented(px, r, aug[k]!, buf, k * r * r * 3));
      if (this.options.channels === 'bgr') {
        for (let i = 0; i < buf.length; i += 3) {
          const red = buf[i]!;
          buf[i] = buf[i + 2]!;
          buf[i + 2] = red;
        }
      }
      return tf.tensor4d(buf, [b, r, r, 3]);
    };
    return {
      target: assemble(target, planned.targetAug),
      source: assemble(source, planned.sourceAug),
      same: tf.tensor1d(planned.same.map((s) => (s ? 1 : 0))),
      sourceIndex: source.map(([i]) => i),
      targetIndex: target.map(([i]) => i),
    };
  }

  /**
   * The image at `index`, or, if it is unreadable, the first readable one of a seeded sequence of replacements
   * (never `avoid`, the other image of a pair). A newly found bad file is counted here, in batch order.
   */
  private async usable(index: number, pixels: Map<number, Uint8Array | string>, key: string, avoid?: number): Promise<[number, Uint8Array]> {
    const n = this.items.length;
    let candidate = index;
    for (let attempt = 0; attempt <= 100 * n; attempt++) {
      if (candidate !== avoid || n === 1) {
        let px: Uint8Array | string | undefined = this.skippedFiles.has(candidate) ? this.skippedFiles.get(candidate)! : pixels.get(candidate);
        px ??= await this.decode(candidate).catch(problemOf);
        if (typeof px !== 'string') return [candidate, px];
        this.skip(candidate, px);
        this.checkSkipBudget();
      }
      candidate = Math.floor(seedrandom(`${String(this.options.seed)}|replace|${key}|${attempt}`)() * n);
    }
    throw new Error(`Training data: no readable image found to replace ${this.items[index]!.file}; check the dataset ${this.options.source}.`);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<FacePairBatch> {
    for (;;) yield await this.next();
  }

  /** Drops queued batches and the cache. Holds no tensors between batches, so nothing else needs freeing. */
  dispose(): void {
    this.disposed = true;
    this.queue.length = 0;
    this.cache.clear();
    this.cachedBytes = 0;
  }
}
