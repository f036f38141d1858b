import type * as tf from '@tensorflow/tfjs';
import { access } from 'node:fs/promises';
import {
  decodeImage,
  FaceSwapPipeline,
  ImageDecodeError,
  loadCheckpointNetworks,
  loadFaceDetector,
  loadIdentityEncoder,
  readCheckpoint,
  type AEINet,
  type AnalysedPhoto,
  type FaceMaskOptions,
  type FaceSelection,
  type HEARNet,
  type IdentityEncoderName,
  type LoadedCheckpoint,
  type RawImage,
  type SwapResult,
} from '@faceshifter/core/node';
import { findCheckpoint, trainedIdentityEncoder } from '@faceshifter/train';

/**
 * Face swapping on photo files: loads the checkpoints, identity encoder and detector named by paths and options,
 * and runs core's {@link FaceSwapPipeline} (the same code as the web app's) on decoded photos.
 */

export type { AnalysedPhoto, FaceSelection, SwapResult };

export interface FaceSwapperOptions {
  /** AEI-Net run directory (its newest checkpoint is used) or checkpoint directory. */
  checkpoint: string;
  /** HEAR-Net run or checkpoint; when given, the swap is refined with it (faceshifter.md, stage 2). */
  hear?: string;
  /** The identity encoder AEI-Net was trained with; default: the run's config.yaml, else face-api-recognition-centred. */
  identity?: IdentityEncoderName;
  /** Weights of an InsightFace `identity` encoder (.pth or safetensors); default: the run's identity.weights. */
  identityWeights?: string;
  /** Face detector: `ssd` (default, more accurate) or `tiny` (about 7x faster, weaker on small or turned faces). */
  detector?: 'ssd' | 'tiny';
  /** The blend mask's shape. */
  mask?: FaceMaskOptions;
  /** Progress and notes (one line each); default: none. */
  log?: (line: string) => void;
}

/** Reads and decodes a photo; a missing or unreadable file is a one-line error naming it and the fix. */
export async function readPhoto(file: string, role: string): Promise<RawImage & { channels: 3 }> {
  try {
    await access(file);
  } catch {
    throw new Error(`${file}: no such ${role} file; check the path`);
  }
  try {
    return await decodeImage(file);
  } catch (e) {
    if (e instanceof ImageDecodeError) throw new Error(`${file}: cannot decode the ${role} image (${e.reason}); pass a JPEG, PNG, WebP, TIFF or AVIF photo`);
    throw e;
  }
}

/** An AEI-Net checkpoint (run or checkpoint folder), with a clear error for any other kind. */
export async function loadAEI(userPath: string, log: (line: string) => void): Promise<{ dir: string; loaded: LoadedCheckpoint; aei: AEINet }> {
  const dir = await findCheckpoint(userPath);
  const info = await readCheckpoint(dir);
  if (!info.meta.networks.includes('aei')) {
    const hint = info.meta.networks.includes('hearnet') ? ' (this one is a HEAR-Net checkpoint: pass it as --hear)' : '';
    throw new Error(`${info.dir}: not an AEI-Net checkpoint (it holds ${info.meta.networks.join(', ')}); pass an AEI-Net run or checkpoint as --checkpoint${hint}`);
  }
  const loaded = await loadCheckpointNetworks(info.dir, { only: ['aei'] });
  log(`[swap] AEI-Net ${info.dir} (${loaded.config.resolution} px, step ${info.meta.step ?? 'n/a'})`);
  return { dir: info.dir, loaded, aei: loaded.networks.aei as AEINet };
}

/** A HEAR-Net checkpoint for an AEI-Net of `resolution` px, with a clear error for any other kind or size. */
export async function loadHEAR(userPath: string, resolution: number, log: (line: string) => void): Promise<{ dir: string; loaded: LoadedCheckpoint; hear: HEARNet }> {
  const dir = await findCheckpoint(userPath);
  const info = await readCheckpoint(dir);
  if (!info.meta.networks.includes('hearnet')) {
    throw new Error(`${info.dir}: not a HEAR-Net checkpoint (it holds ${info.meta.networks.join(', ')}); pass a run trained with stage: hear as --hear, or leave --hear out`);
  }
  if (info.config.resolution !== resolution) {
    throw new Error(`${info.dir}: HEAR-Net works at ${info.config.resolution} px but AEI-Net at ${resolution} px; pass a HEAR-Net trained on this AEI-Net`);
  }
  const loaded = await loadCheckpointNetworks(info.dir, { only: ['hearnet'] });
  log(`[swap] HEAR-Net ${info.dir}`);
  return { dir: info.dir, loaded, hear: loaded.networks.hearnet as HEARNet };
}

/** AEI-Net (+ HEAR-Net), the identity encoder and the face detector, loaded once for any number of swaps. */
export class FaceSwapper {
  private constructor(
    readonly checkpointDir: string,
    readonly hearDir: string | null,
    readonly identityName: IdentityEncoderName,
    readonly pipeline: FaceSwapPipeline,
    private readonly disposers: (() => void)[],
  ) {}

  static async load(options: FaceSwapperOptions): Promise<FaceSwapper> {
    const log = options.log ?? (() => {});
    const disposers: (() => void)[] = [];
    try {
      const a = await loadAEI(options.checkpoint, log);
      disposers.push(a.loaded.dispose);
      const h = options.hear ? await loadHEAR(options.hear, a.aei.modelConfig.resolution, log) : null;
      if (h) disposers.push(h.loaded.dispose);
      const found = options.identity ? { name: options.identity, weights: options.identityWeights, from: '--identity' } : trainedIdentityEncoder(options.checkpoint, a.dir);
      const identity = await loadIdentityEncoder(found.name, { weights: options.identityWeights ?? found.weights, weightsOption: "--identity-weights <file> (or identity.weights in the run's config.yaml)" });
      disposers.push(() => identity.dispose());
      if (identity.dim !== a.aei.modelConfig.cId) {
        throw new Error(`${a.dir}: AEI-Net takes ${a.aei.modelConfig.cId}-d identities but ${found.name} gives ${identity.dim}-d; pass the encoder it was trained with as --identity`);
      }
      log(`[swap] identity encoder ${found.name} (${found.from ?? 'default: no run config.yaml found'})`);
      const detector = await loadFaceDetector();
      const pipeline = new FaceSwapPipeline({ aei: a.aei, hear: h?.hear ?? null, identity, detector, detectorKind: options.detector, mask: options.mask, log: options.log });
      return new FaceSwapper(a.dir, h?.dir ?? null, found.name, pipeline, disposers);
    } catch (e) {
      for (const d of disposers.reverse()) d();
      throw e;
    }
  }

  /** The side of the aligned crops AEI-Net works on. */
  get resolution(): number {
    return this.pipeline.resolution;
  }

  /** Detects the faces of a decoded photo, ordered left to right. */
  analyse(file: string, photo: RawImage & { channels: 3 }): Promise<AnalysedPhoto> {
    return this.pipeline.analyse(file, photo);
  }

  /** z_id of the source photo's face ([1, c_id]; the caller disposes it); see {@link FaceSwapPipeline.sourceIdentity}. */
  sourceIdentity(source: AnalysedPhoto, faceIndex?: number): tf.Tensor2D {
    return this.pipeline.sourceIdentity(source, faceIndex);
  }

  /** Which of the target's faces a selection means; the errors name the file, the faces found and the fix. */
  selectFaces(target: AnalysedPhoto, selection: FaceSelection | undefined): number[] {
    return this.pipeline.selectFaces(target, selection);
  }

  /** AEI-Net (then HEAR-Net) on one aligned target crop: the swapped crop, same size. */
  swapCrop(crop: RawImage, zId: tf.Tensor2D): Promise<RawImage> {
    return this.pipeline.swapCrop(crop, zId);
  }

  /** Swaps the selected target faces to the identity `zId` and pastes them back into the full target photo. */
  swap(zId: tf.Tensor2D, target: AnalysedPhoto, selection?: FaceSelection): Promise<SwapResult> {
    return this.pipeline.swap(zId, target, selection);
  }

  dispose(): void {
    for (const d of this.disposers.reverse()) d();
    this.disposers.length = 0;
  }
}
