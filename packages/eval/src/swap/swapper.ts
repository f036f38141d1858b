import type * as tf from '@tensorflow/tfjs';
import { access } from 'node:fs/promises';
import {
  checkpointFaceInput,
  decodeImage,
  describeFaceInput,
  expectIdentityWeights,
  FaceSwapPipeline,
  loadReferenceAEI,
  loadReferenceHEAR,
  readWeightsFile,
  type ChannelOrder,
  type FaceAlignment,
  type FaceInput,
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
  /** AEI-Net run directory (its newest checkpoint is used) or checkpoint directory; or give `weights`. */
  checkpoint?: string;
  /**
   * Instead of a checkpoint: the PyTorch reference's generator as it published it (G_latest.pth) or any
   * reference-layout file; the model config comes from its shapes, the alignment and channel order are the
   * reference's (or what the file's metadata records). Needs `identityWeights` (model_ir_se50.pth).
   */
  weights?: string;
  /** With `weights`: the reference-layout HEAR-Net weights, to refine the swap. */
  hearWeights?: string;
  /** The alignment to crop faces with; default: what the weights were trained on. A different one is warned about. */
  align?: FaceAlignment;
  /**
   * The channel order the networks are fed; default: what the weights record (BGR for the reference's files, the
   * order its training Dataset reads; its inference_demo.py feeds RGB). A different one is warned about.
   */
  channels?: ChannelOrder;
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

/** The alignment to crop with: the weights' own, or the user's, with one warning line when the two differ. */
function chooseFaceInput(trained: FaceInput, align: FaceAlignment | undefined, channels: ChannelOrder | undefined, what: string, log: (line: string) => void): FaceInput {
  let faces = trained;
  if (align !== undefined && align !== trained.align) {
    log(`[swap] warning: --align ${align}, but ${what} was trained on ${trained.align}-aligned faces; its swaps will be off (leave out --align to use ${trained.align})`);
    faces = { ...faces, align };
  }
  if (channels !== undefined && channels !== trained.channels) {
    log(`[swap] warning: --channels ${channels}, but ${what} records ${trained.channels.toUpperCase()} input; leave out --channels to use ${trained.channels}`);
    faces = { ...faces, channels };
  }
  return faces;
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
    /** The checkpoint directory, or the weights file, named in the synthetic mark. */
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
      if ((options.checkpoint === undefined) === (options.weights === undefined)) {
        throw new Error('name the AEI-Net with exactly one of --checkpoint <run|checkpoint> or --weights <G_latest.pth>');
      }
      const idWeights = options.identityWeights === undefined ? undefined : await readWeightsFile(options.identityWeights, { what: 'the identity network (--id-weights)' });
      if (idWeights) expectIdentityWeights(idWeights);
      let aei: AEINet;
      let hear: HEARNet | null = null;
      let named: string;
      let hearNamed: string | null = null;
      let trained: FaceInput;
      // Said once everything is loaded and checked, so that a failure is the one line of its error.
      const notes: string[] = [];
      let found: { name: IdentityEncoderName; weights?: string; from: string | null };
      if (options.weights !== undefined) {
        if (options.hear !== undefined) throw new Error('--hear takes a HEAR-Net checkpoint for --checkpoint; with --weights pass the HEAR-Net .pth as --hear-weights');
        const g = loadReferenceAEI(await readWeightsFile(options.weights, { what: 'the AEI-Net generator (--weights)' }));
        disposers.push(() => g.aei.dispose());
        aei = g.aei;
        named = options.weights;
        trained = g.faces;
        notes.push(`[swap] AEI-Net ${options.weights} (reference layout: ${g.config.resolution} px, width ${g.config.widthMultiplier}, c_id ${g.config.cId}; ${describeFaceInput(g.faces)})`);
        if (options.hearWeights !== undefined) {
          hear = loadReferenceHEAR(await readWeightsFile(options.hearWeights, { what: 'the HEAR-Net (--hear-weights)' }), g.config);
          const h = hear;
          disposers.push(() => h.dispose());
          hearNamed = options.hearWeights;
          notes.push(`[swap] HEAR-Net ${options.hearWeights}`);
        }
        if (idWeights === undefined) {
          throw new Error(`--weights ${options.weights} needs the identity network it was trained with: pass --id-weights model_ir_se50.pth (InsightFace_Pytorch's IR-SE50, which the reference trains with)`);
        }
        found = { name: options.identity ?? 'arcface-ir-se', from: options.identity ? '--identity' : 'the reference trains with IR-SE; architecture from --id-weights' };
      } else {
        if (options.hearWeights !== undefined) throw new Error('--hear-weights goes with --weights; with --checkpoint pass a HEAR-Net run as --hear');
        const a = await loadAEI(options.checkpoint!, log);
        disposers.push(a.loaded.dispose);
        aei = a.aei;
        named = a.dir;
        trained = checkpointFaceInput(a.loaded.meta);
        const h = options.hear ? await loadHEAR(options.hear, a.aei.modelConfig.resolution, log) : null;
        if (h) {
          disposers.push(h.loaded.dispose);
          hear = h.hear;
          hearNamed = h.dir;
        }
        found = options.identity ? { name: options.identity, weights: options.identityWeights, from: '--identity' } : trainedIdentityEncoder(options.checkpoint!, a.dir);
      }
      const faces = chooseFaceInput(trained, options.align, options.channels, named, log);
      const identity = await loadIdentityEncoder(found.name, {
        weights: idWeights ?? found.weights,
        input: faces.align,
        weightsOption: "--identity-weights <file> (or identity.weights in the run's config.yaml)",
      });
      disposers.push(() => identity.dispose());
      if (identity.dim !== aei.modelConfig.cId) {
        throw new Error(`${named}: AEI-Net takes ${aei.modelConfig.cId}-d identities but ${found.name} gives ${identity.dim}-d; pass the identity network it was trained with`);
      }
      for (const n of notes) log(n);
      log(`[swap] identity encoder ${found.name} (${found.from ?? 'default: no run config.yaml found'}); faces: ${describeFaceInput(faces)}`);
      const detector = await loadFaceDetector();
      const pipeline = new FaceSwapPipeline({ aei, hear, identity, detector, faces, detectorKind: options.detector, mask: options.mask, log: options.log });
      return new FaceSwapper(named, hearNamed, found.name, pipeline, disposers);
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
