import * as tf from '@tensorflow/tfjs';
import {
  checkpointFiles,
  encodePng,
  FaceSwapPipeline,
  loadCheckpointNetworksFromFiles,
  loadFaceDetector,
  loadIdentityEncoder,
  selectBackend,
  summarizeNetwork,
  swapMark,
  urlModelFiles,
  type AEINet,
  type FaceDetector,
  type HEARNet,
  type IdentityEncoder,
  type IdentityEncoderName,
  type ModelConfig,
  type NetworkSummary,
  type RawImage,
} from '@faceshifter/core';
import { CheckpointError, trainedIdentityEncoder, type CheckpointPick } from './checkpoint.js';
import type { RgbImage } from './photo.js';

/**
 * What the app holds between clicks: the tfjs backend, the face models, the opened checkpoints and the pipeline
 * built from them. The swap itself is @faceshifter/core's FaceSwapPipeline, the class `yarn swap` runs in Node;
 * only the file access (fetch, picked files) and image decoding differ.
 */

export type BackendChoice = 'auto' | 'webgpu' | 'webgl' | 'wasm';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'webgpu', 'webgl', 'wasm'];
export type DetectorKind = 'ssd' | 'tiny';

/** The app's static files, relative to the page (vite/static_files.ts copies them there). */
const MODELS_URL = new URL('models', document.baseURI).href;
const WASM_URL = new URL('tfjs-wasm/', document.baseURI).href;

export interface OpenedNetwork<T> {
  source: CheckpointPick;
  network: T;
  config: ModelConfig;
  step: number | null;
  /** Parameter counts of each of its networks (AEI-Net: the attribute encoder and the generator). */
  summaries: { title: string; summary: NetworkSummary }[];
  dispose(): void;
}

export type Analysed = Awaited<ReturnType<FaceSwapPipeline['analyse']>>;

export interface SwapOutcome {
  image: RawImage;
  swapped: number[];
  /** The PNG to download: the result with the synthetic-image mark in tEXt chunks, as `yarn swap` writes it. */
  png: Uint8Array;
  mark: Record<string, string>;
  /** Wall time of identity + AEI-Net (+ HEAR-Net) + paste-back, in ms (detection happens when a photo is picked). */
  ms: number;
}

function oneLine(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0]! : String(e);
}

export class SwapSession {
  backend: string | null = null;
  private files = urlModelFiles(MODELS_URL);
  private detector: Promise<FaceDetector> | null = null;
  private encoders = new Map<IdentityEncoderName, Promise<IdentityEncoder>>();
  aei: (OpenedNetwork<AEINet> & { identity: { name: IdentityEncoderName; from: string } }) | null = null;
  hear: OpenedNetwork<HEARNet> | null = null;
  private pipelineCache: { pipeline: FaceSwapPipeline; key: string } | null = null;

  constructor(private readonly log: (line: string) => void) {}

  /** Makes `choice` the tfjs backend ('auto': webgpu, then webgl, then wasm); returns the one running. */
  async useBackend(choice: BackendChoice): Promise<string> {
    this.backend = await selectBackend(choice, { wasmPaths: WASM_URL, log: this.log });
    return this.backend;
  }

  private faceDetector(): Promise<FaceDetector> {
    this.detector ??= loadFaceDetector({ files: this.files }).catch((e: unknown) => {
      this.detector = null;
      throw e;
    });
    return this.detector;
  }

  private identityEncoder(name: IdentityEncoderName): Promise<IdentityEncoder> {
    let encoder = this.encoders.get(name);
    if (!encoder) {
      encoder = loadIdentityEncoder(name, { files: this.files });
      encoder.catch(() => this.encoders.delete(name));
      this.encoders.set(name, encoder);
    }
    return encoder;
  }

  /** Loads AEI-Net from a checkpoint's files, with the identity encoder its run was trained with. */
  async openAEI(source: CheckpointPick): Promise<NonNullable<SwapSession['aei']>> {
    const loaded = await loadNetworks(source, 'aei');
    try {
      const aei = loaded.networks.aei as AEINet;
      const identity = trainedIdentityEncoder(source.runConfig);
      const encoder = await this.identityEncoder(identity.name);
      if (encoder.dim !== aei.modelConfig.cId) {
        throw new CheckpointError(`${source.label}: AEI-Net takes ${aei.modelConfig.cId}-d identities but ${identity.name} (${identity.from}) gives ${encoder.dim}-d; open the run folder, whose config.yaml names the encoder it was trained with`);
      }
      if (this.hear && this.hear.config.resolution !== aei.modelConfig.resolution) this.closeHEAR();
      this.aei?.dispose();
      this.aei = {
        source,
        network: aei,
        config: loaded.config,
        step: loaded.meta.step,
        summaries: [
          { title: 'Multi-level attribute encoder', summary: summarizeNetwork(aei.encoder) },
          { title: 'AAD generator', summary: summarizeNetwork(aei.generator) },
        ],
        identity,
        dispose: loaded.dispose,
      };
      return this.aei;
    } catch (e) {
      loaded.dispose();
      throw e;
    }
  }

  /** Loads HEAR-Net from a checkpoint's files; it must work at AEI-Net's resolution. */
  async openHEAR(source: CheckpointPick): Promise<OpenedNetwork<HEARNet>> {
    const loaded = await loadNetworks(source, 'hearnet');
    const hear = loaded.networks.hearnet as HEARNet;
    if (this.aei && loaded.config.resolution !== this.aei.config.resolution) {
      loaded.dispose();
      throw new CheckpointError(`${source.label}: HEAR-Net works at ${loaded.config.resolution} px but AEI-Net at ${this.aei.config.resolution} px; open a HEAR-Net trained on this AEI-Net`);
    }
    this.hear?.dispose();
    this.hear = { source, network: hear, config: loaded.config, step: loaded.meta.step, summaries: [{ title: 'HEAR-Net', summary: summarizeNetwork(hear) }], dispose: loaded.dispose };
    return this.hear;
  }

  closeHEAR(): void {
    this.hear?.dispose();
    this.hear = null;
  }

  /** The pipeline of the networks open now (rebuilt when they or the detector kind change). */
  async pipeline(detectorKind: DetectorKind): Promise<FaceSwapPipeline> {
    if (!this.aei) throw new Error('Open an AEI-Net checkpoint first (a run folder, or one of its checkpoints).');
    const key = `${this.aei.source.label}|${this.hear?.source.label ?? ''}|${this.aei.identity.name}|${detectorKind}`;
    if (this.pipelineCache?.key !== key) {
      const [detector, identity] = await Promise.all([this.faceDetector(), this.identityEncoder(this.aei.identity.name)]);
      const pipeline = new FaceSwapPipeline({
        aei: this.aei.network,
        ...(this.hear ? { hear: this.hear.network } : {}),
        identity,
        detector,
        detectorKind,
        log: this.log,
      });
      this.pipelineCache = { pipeline, key };
    }
    return this.pipelineCache.pipeline;
  }

  /** Detects a photo's faces (left to right). Models load on first use. */
  async analyse(name: string, photo: RgbImage, detectorKind: DetectorKind): Promise<Analysed> {
    const pipeline = await this.pipeline(detectorKind);
    return pipeline.analyse(name, photo);
  }

  /** Swaps the source face `sourceFace` into the target's faces `selection`; the result carries the mark. */
  async swap(source: Analysed, sourceFace: number, target: Analysed, selection: number | 'all', detectorKind: DetectorKind): Promise<SwapOutcome> {
    const pipeline = await this.pipeline(detectorKind);
    const start = performance.now();
    const zId = pipeline.sourceIdentity(source, sourceFace);
    let result;
    try {
      result = await pipeline.swap(zId, target, selection);
    } finally {
      zId.dispose();
    }
    const ms = performance.now() - start;
    const mark = swapMark({
      checkpoint: this.aei!.source.label,
      hear: this.hear?.source.label ?? null,
      source: source.file,
      target: target.file,
      faces: result.swapped,
    });
    return { image: result.image, swapped: result.swapped, png: encodePng(result.image, mark), mark, ms };
  }

  /** tfjs's tensor count, for the page's memory line (it must not grow from swap to swap). */
  static tensors(): number {
    return tf.memory().numTensors;
  }
}

async function loadNetworks(source: CheckpointPick, network: 'aei' | 'hearnet'): Promise<Awaited<ReturnType<typeof loadCheckpointNetworksFromFiles>>> {
  try {
    return await loadCheckpointNetworksFromFiles(checkpointFiles(source.label, source.files), { only: [network] });
  } catch (e) {
    const message = oneLine(e);
    throw new CheckpointError(message.startsWith(source.label) ? message : `${source.label}: ${message}`);
  }
}
