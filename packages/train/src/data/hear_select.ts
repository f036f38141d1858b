import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decodeImage, imageToTensor, toChannelOrder, writeFileAtomic, type AEINet, type ChannelOrder, type IdentityEncoder } from '@faceshifter/core/node';
import { stringify } from 'csv-stringify/sync';
import { ProgressBar } from '../logging/progress.js';
import { manifestToCsv, readManifest, type ManifestRow } from './manifest.js';

/**
 * HEAR-Net's training set (faceshifter.md §10): the images AEI-Net reconstructs worst, ranked by the heuristic
 * error mean|X − AEI(X, X)|. Those are the faces with occlusions (hands, glasses, hair, shadows) that AEI-Net,
 * guided by identity and attributes only, paints over.
 */
export interface HearSelectOptions {
  /** The channel order AEI-Net was trained on (its checkpoint's faces.channels); default rgb. */
  channels?: ChannelOrder;
  dataset: string;
  /** Fraction of the dataset kept, highest error first. Paper: 0.1. */
  top: number;
  /** Manifest to write; default `<dataset>/manifest-hear.csv`, next to the crops it refers to. */
  out?: string;
  batchSize?: number;
  progress?: NodeJS.WriteStream | false;
}

export interface HearSelectResult {
  out: string;
  kept: number;
  total: number;
  /** Heuristic error of every image, highest first. */
  ranked: { path: string; error: number }[];
}

export async function selectHearImages(aei: AEINet, identity: IdentityEncoder, options: HearSelectOptions): Promise<HearSelectResult> {
  if (!(options.top > 0 && options.top <= 1)) throw new Error(`--top ${options.top}: expected a fraction in (0, 1], e.g. 0.1 for the top 10%.`);
  const { root, rows } = await readManifest(options.dataset);
  if (rows.length === 0) throw new Error(`${options.dataset}: the manifest lists no images.`);
  const R = aei.modelConfig.resolution;
  const batchSize = options.batchSize ?? 8;
  const bar = options.progress === false ? null : new ProgressBar({ total: rows.length, label: 'heuristic error', stream: options.progress });
  const errors: number[] = [];
  for (let i = 0; i < rows.length; i += batchSize) {
    const chunk = rows.slice(i, i + batchSize);
    const images = await Promise.all(chunk.map((r) => decodeImage(path.join(root, r.path), { resize: R })));
    const perImage = tf.tidy(() => {
      const x = toChannelOrder(tf.stack(images.map(imageToTensor)) as tf.Tensor4D, options.channels ?? 'rgb');
      const self = aei.forward(x, identity.embed(x)).swap;
      return tf.mean(tf.abs(tf.sub(x, self)), [1, 2, 3]);
    });
    // Asynchronous: GPU backends (webgpu in Node) have no synchronous readback.
    errors.push(...(await perImage.data()));
    perImage.dispose();
    bar?.update(Math.min(rows.length, i + batchSize));
  }
  const order = rows.map((_, i) => i).sort((a, b) => errors[b]! - errors[a]!);
  const kept = Math.max(1, Math.round(rows.length * options.top));
  const selected: ManifestRow[] = order.slice(0, kept).map((i) => rows[i]!);
  const out = options.out ?? path.join(root, 'manifest-hear.csv');
  // Paths stay relative to the dataset folder; a manifest written elsewhere gets paths relative to its own folder.
  const rebased = selected.map((r) => ({ ...r, path: path.relative(path.dirname(out), path.join(root, r.path)).split(path.sep).join('/') }));
  await writeFileAtomic(out, manifestToCsv(rebased));
  const ranked = order.map((i) => ({ path: rows[i]!.path, error: errors[i]! }));
  await writeFileAtomic(out.replace(/\.csv$/, '') + '.errors.csv', stringify([['path', 'heuristic_error'], ...ranked.map((r) => [r.path, r.error.toFixed(6)])]));
  return { out, kept, total: rows.length, ranked };
}
