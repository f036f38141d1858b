import * as tf from '@tensorflow/tfjs';
import {
  checkpointFaceInput,
  checkpointFiles,
  describeFaceInput,
  encodePng,
  expectIdentityWeights,
  FaceSwapPipeline,
  loadCheckpointNetworksFromFiles,
  loadFaceDetector,
  loadIdentityEncoder,
  loadReferenceAEI,
  loadReferenceHEAR,
  selectBackend,
  summarizeNetwork,
  swapMark,
  urlModelFiles,
  type AEINet,
  type FaceAlignment,
  type FaceDetector,
  type FaceInput,
  type HEARNet,
  type IdentityEncoder,
  type IdentityEncoderName,
  type ModelConfig,
  type NetworkSummary,
  type RawImage,
  type ReferenceOptionNames,
  type SafetensorsFile,
} from '@faceshifter/core';
import { stringify as toYaml } from 'yaml';
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
  /** The checkpoint folder, its URL, or the .pth file's name: what the page shows and the PNG mark records. */
  label: string;
  /** What the page shows as the config: its title and YAML. */
  configView: { title: string; text: string };
  network: T;
  config: ModelConfig;
  step: number | null;
  /** Parameter counts of each of its networks (AEI-Net: the attribute encoder and the generator). */
  summaries: { title: string; summary: NetworkSummary }[];
  dispose(): void;
}

/** The opened AEI-Net: the checkpoint's (its run's identity encoder) or the reference's .pth (with the identity network's). */
export type OpenedAEI = OpenedNetwork<AEINet> & {
  identity: { name: IdentityEncoderName; from: string };
  /** The alignment and channel order it was trained on. */
  faces: FaceInput;
  /** For the reference's files: the identity network built from the picked weights (owned, disposed with it). */
  encoder: IdentityEncoder | null;
  /** For the reference's files: those weights, to build the identity network for another alignment. */
  identityWeights: SafetensorsFile | null;
};

/** A parsed weights file and the name of the file it came from. */
export interface PickedWeights {
  label: string;
  file: SafetensorsFile;
}

/** The web app's fields, named in the hints of the reference loaders' errors instead of the CLI's flags. */
export const WEB_REFERENCE_NAMES: ReferenceOptionNames = {
  generator: 'the AEI-Net generator field (G_latest.pth)',
  identity: 'the identity network field (model_ir_se50.pth)',
  hear: 'the HEAR-Net field',
};

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
  private encoders = new Map<string, Promise<IdentityEncoder>>();
  aei: OpenedAEI | null = null;
  hear: OpenedNetwork<HEARNet> | null = null;
  private pipelineCache: { pipeline: FaceSwapPipeline; aei: OpenedAEI; hear: OpenedNetwork<HEARNet> | null; detectorKind: DetectorKind; align: FaceAlignment } | null = null;
  /** The alignment chosen on the page instead of the model's own (`--align` of `yarn swap`); null: the model's. */
  private alignOverride: FaceAlignment | null = null;
  /** The reference identity network rebuilt for an overriding alignment (one at a time; freed when replaced). */
  private overrideEncoder: { aei: OpenedAEI; align: FaceAlignment; encoder: Promise<IdentityEncoder> } | null = null;

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

  /** A packaged identity encoder (shipped as a static file of the app), for crops in `faces.align`. */
  private identityEncoder(name: IdentityEncoderName, faces: FaceInput): Promise<IdentityEncoder> {
    const key = `${name}|${faces.align}`;
    let encoder = this.encoders.get(key);
    if (!encoder) {
      encoder = loadIdentityEncoder(name, { files: this.files, input: faces.align });
      encoder.catch(() => this.encoders.delete(key));
      this.encoders.set(key, encoder);
    }
    return encoder;
  }

  /** Loads AEI-Net from a checkpoint's files, with the identity encoder its run was trained with. */
  async openAEI(source: CheckpointPick): Promise<OpenedAEI> {
    const loaded = await loadNetworks(source, 'aei');
    try {
      const aei = loaded.networks.aei as AEINet;
      const identity = trainedIdentityEncoder(source.runConfig);
      const faces = checkpointFaceInput(loaded.meta);
      const encoder = await this.identityEncoder(identity.name, faces);
      if (encoder.dim !== aei.modelConfig.cId) {
        throw new CheckpointError(`${source.label}: AEI-Net takes ${aei.modelConfig.cId}-d identities but ${identity.name} (${identity.from}) gives ${encoder.dim}-d; open the run folder, whose config.yaml names the encoder it was trained with`);
      }
      if (this.hear && this.hear.config.resolution !== aei.modelConfig.resolution) this.closeHEAR();
      this.aei?.dispose();
      const run = source.runConfig;
      this.aei = {
        label: source.label,
        configView: run
          ? { title: `Run config (${run.label})`, text: run.text }
          : { title: 'Model config (the checkpoint\u2019s config.yaml; open the run folder to see the whole run config)', text: new TextDecoder().decode(source.files.get('config.yaml') ?? new Uint8Array()) },
        network: aei,
        config: loaded.config,
        step: loaded.meta.step,
        summaries: [
          { title: 'Multi-level attribute encoder', summary: summarizeNetwork(aei.encoder) },
          { title: 'AAD generator', summary: summarizeNetwork(aei.generator) },
        ],
        identity,
        faces,
        encoder: null,
        identityWeights: null,
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
    this.hear = {
      label: source.label,
      configView: { title: 'HEAR-Net config', text: new TextDecoder().decode(source.files.get('config.yaml') ?? new Uint8Array()) },
      network: hear,
      config: loaded.config,
      step: loaded.meta.step,
      summaries: [{ title: 'HEAR-Net', summary: summarizeNetwork(hear) }],
      dispose: loaded.dispose,
    };
    return this.hear;
  }

  /**
   * AEI-Net from the PyTorch reference's generator file (G_latest.pth) with the identity network it was trained
   * with (model_ir_se50.pth), as `yarn swap --weights G --id-weights ir` loads them: the config from the shapes,
   * the reference's alignment and channel order, IR-SE fed crops in that alignment.
   */
  openReferenceAEI(generator: PickedWeights, identityWeights: PickedWeights): Promise<OpenedAEI> {
    return this.referenceAEI(generator, identityWeights).catch((e: unknown) => {
      throw new CheckpointError(oneLine(e));
    });
  }

  private async referenceAEI(generator: PickedWeights, identityWeights: PickedWeights): Promise<OpenedAEI> {
    expectIdentityWeights(identityWeights.file, WEB_REFERENCE_NAMES);
    const g = loadReferenceAEI(generator.file, WEB_REFERENCE_NAMES);
    let encoder: IdentityEncoder | null = null;
    try {
      const name: IdentityEncoderName = 'arcface-ir-se';
      encoder = await loadIdentityEncoder(name, { weights: identityWeights.file, input: g.faces.align, weightsOption: WEB_REFERENCE_NAMES.identity });
      if (encoder.dim !== g.config.cId) {
        throw new Error(`${generator.label}: AEI-Net takes ${g.config.cId}-d identities but ${identityWeights.label} gives ${encoder.dim}-d; open the identity network it was trained with`);
      }
      if (this.hear && this.hear.config.resolution !== g.config.resolution) this.closeHEAR();
      this.aei?.dispose();
      const owned = encoder;
      this.aei = {
        label: generator.label,
        configView: { title: `Model config (read from the shapes of ${generator.label}; ${describeFaceInput(g.faces)})`, text: toYaml(g.config) },
        network: g.aei,
        config: g.config,
        step: null,
        summaries: [
          { title: 'Multi-level attribute encoder', summary: summarizeNetwork(g.aei.encoder) },
          { title: 'AAD generator', summary: summarizeNetwork(g.aei.generator) },
        ],
        identity: { name, from: identityWeights.label },
        faces: g.faces,
        encoder: owned,
        identityWeights: identityWeights.file,
        dispose: () => {
          g.aei.dispose();
          owned.dispose();
          this.disposeOverrideEncoder();
        },
      };
      return this.aei;
    } catch (e) {
      encoder?.dispose();
      g.aei.dispose();
      throw e;
    }
  }

  /** HEAR-Net from a reference-layout .pth, for the open AEI-Net (its config gives the resolution). */
  openReferenceHEAR(weights: PickedWeights): OpenedNetwork<HEARNet> {
    if (!this.aei) throw new CheckpointError(`${weights.label}: open the AEI-Net first (the generator and the identity network)`);
    let hear: HEARNet;
    try {
      hear = loadReferenceHEAR(weights.file, this.aei.config, WEB_REFERENCE_NAMES);
    } catch (e) {
      throw new CheckpointError(oneLine(e));
    }
    this.hear?.dispose();
    this.hear = {
      label: weights.label,
      configView: { title: 'HEAR-Net config', text: toYaml(hear.modelConfig) },
      network: hear,
      config: hear.modelConfig,
      step: null,
      summaries: [{ title: 'HEAR-Net', summary: summarizeNetwork(hear) }],
      dispose: () => hear.dispose(),
    };
    return this.hear;
  }

  closeHEAR(): void {
    this.hear?.dispose();
    this.hear = null;
  }

  /** Aligns faces as `align` instead of as the model was trained (null: the model's own alignment). */
  setAlignment(align: FaceAlignment | null): void {
    this.alignOverride = align;
  }

  /** The alignment and channel order swaps use now: the model's, with the page's alignment if one is chosen. */
  faces(): FaceInput | null {
    if (!this.aei) return null;
    return this.alignOverride ? { ...this.aei.faces, align: this.alignOverride } : this.aei.faces;
  }

  /** The identity network for crops in `faces.align`: the model's own, or one built for the chosen alignment. */
  private identityFor(aei: OpenedAEI, faces: FaceInput): Promise<IdentityEncoder> {
    if (!aei.encoder) return this.identityEncoder(aei.identity.name, faces);
    if (faces.align === aei.faces.align || !aei.identityWeights) return Promise.resolve(aei.encoder);
    if (this.overrideEncoder?.aei !== aei || this.overrideEncoder.align !== faces.align) {
      this.disposeOverrideEncoder();
      const encoder = loadIdentityEncoder(aei.identity.name, { weights: aei.identityWeights, input: faces.align, weightsOption: WEB_REFERENCE_NAMES.identity });
      this.overrideEncoder = { aei, align: faces.align, encoder };
    }
    return this.overrideEncoder.encoder;
  }

  private disposeOverrideEncoder(): void {
    void this.overrideEncoder?.encoder.then((e) => e.dispose(), () => {});
    this.overrideEncoder = null;
  }

  /** The pipeline of the networks open now (rebuilt when they, the detector kind or the alignment change). */
  async pipeline(detectorKind: DetectorKind): Promise<FaceSwapPipeline> {
    if (!this.aei) throw new Error('Open an AEI-Net checkpoint first (a run folder, or one of its checkpoints).');
    const aei = this.aei;
    const faces = this.faces()!;
    const cache = this.pipelineCache;
    if (cache?.aei !== aei || cache.hear !== this.hear || cache.detectorKind !== detectorKind || cache.align !== faces.align) {
      const [detector, identity] = await Promise.all([this.faceDetector(), this.identityFor(aei, faces)]);
      const pipeline = new FaceSwapPipeline({
        aei: aei.network,
        ...(this.hear ? { hear: this.hear.network } : {}),
        identity,
        faces,
        detector,
        detectorKind,
        log: this.log,
      });
      this.pipelineCache = { pipeline, aei, hear: this.hear, detectorKind, align: faces.align };
      return pipeline;
    }
    return cache.pipeline;
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
      checkpoint: this.aei!.label,
      hear: this.hear?.label ?? null,
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
