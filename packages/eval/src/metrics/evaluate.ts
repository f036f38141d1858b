import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decodeImage, imageToTensor, loadIdentityEncoder, resizeImage, tensorToImage, toChannelOrder, type AEINet, type ChannelOrder, type FaceAlignment, type HEARNet, type IdentityEncoder, type IdentityEncoderName, type Point, type RawImage } from '@faceshifter/core/node';
import { expressionError } from './expression.js';
import { alignedLandmarks68 } from './landmarks.js';
import type { EvalPair } from './pairs.js';
import { headPose, poseError, type HeadPose } from './pose.js';
import { meanCI, type MeanCI } from './stats.js';

/** What Ŷ is: the model's swap, or a built-in baseline (Ŷ = X_t: no swap; Ŷ = X_s: the source pasted as is). */
export type EvalMethod = 'model' | 'target' | 'source';
export const EVAL_METHODS: readonly EvalMethod[] = ['model', 'target', 'source'];

/** Makes Ŷ from aligned X_s and X_t (same size). */
export type SwapFn = (source: RawImage, target: RawImage) => Promise<RawImage>;

/** The evaluation networks' view of one face. */
export interface FaceFeatures {
  /** The evaluation identity network's embedding (default Human faceres), L2-normalised; not the training network. */
  embedding: Float32Array;
  landmarks: Point[];
  pose: HeadPose;
}

/** One evaluated pair: a row of report.csv. */
export interface PairResult {
  index: number;
  source: string;
  target: string;
  sourceIdentity: string;
  targetIdentity: string;
  /** cos(faceres(Ŷ), faceres(X_s)). */
  idSimilarity: number;
  /** The gallery identity nearest to Ŷ. */
  retrieved: string;
  /** 1 when {@link retrieved} is the source identity. */
  retrievalHit: number;
  poseError: number;
  expressionError: number;
  swapPose: HeadPose;
  targetPose: HeadPose;
}

export interface EvalSummary {
  method: EvalMethod;
  pairs: number;
  identities: number;
  resolution: number;
  /** The identity network ID similarity and retrieval were measured with. */
  idNetwork: string;
  idSimilarity: MeanCI;
  /** Top-1 ID retrieval, %. */
  idRetrieval: MeanCI;
  /** Degrees. */
  poseError: MeanCI;
  /** % of the target's outer-eye-corner distance. */
  expressionError: MeanCI;
}

export interface EvalResult {
  rows: PairResult[];
  summary: EvalSummary;
  /** Ŷ of each pair at the evaluation resolution (for the contact sheet). */
  swaps: RawImage[];
}

/** The evaluation identity network of ID retrieval when none is named: a different network from any training one. */
export const DEFAULT_ID_NETWORK: IdentityEncoderName = 'human-faceres';

export interface FaceMetricsOptions {
  /** The ID-retrieval network, e.g. `iresnet100` with a CosFace backbone.pth as papers do. Default human-faceres. */
  idNetwork?: IdentityEncoderName;
  /** Its weights, for the InsightFace networks (.pth or safetensors). */
  idWeights?: string;
  /** How the evaluated images are aligned (the dataset's and the checkpoint's); default ffhq. */
  align?: FaceAlignment;
}

/** The network behind an encoder name: face-api's raw and centred descriptors come from one network. */
function networkOf(name: string): string {
  return name.startsWith('face-api-recognition') ? 'face-api-recognition' : name;
}

/**
 * A warning when ID retrieval would be measured with the network the model was trained against (the same name with
 * no weights, or the same weights file): the swaps were optimised for that network, so it overstates identity
 * transfer. Null when the networks differ.
 */
export function sameNetworkWarning(trainName: string, trainWeights: string | undefined, evalName: string, evalWeights: string | undefined): string | null {
  const sameFile = trainWeights !== undefined && evalWeights !== undefined && path.resolve(trainWeights) === path.resolve(evalWeights);
  const sameNet = trainWeights === undefined && evalWeights === undefined && networkOf(trainName) === networkOf(evalName);
  if (!sameFile && !sameNet) return null;
  return (
    `warning: ID retrieval uses the training identity network (${evalName}${evalWeights ? `, ${evalWeights}` : ''}); the swaps were optimised against it, ` +
    'so retrieval overstates identity transfer. Papers evaluate with another network (ArcFace trains, CosFace evaluates): pass --id-network <encoder> [--id-weights <file>]'
  );
}

/** Loads the evaluation networks: the ID network (default Human faceres), face-api's landmark net for pose and expression. */
export class FaceMetrics {
  private constructor(
    private readonly encoder: IdentityEncoder,
    readonly idNetwork: string,
  ) {}

  static async load(options: FaceMetricsOptions = {}): Promise<FaceMetrics> {
    const name = options.idNetwork ?? DEFAULT_ID_NETWORK;
    return new FaceMetrics(await loadIdentityEncoder(name, { weights: options.idWeights, weightsOption: '--id-weights <file>', input: options.align ?? 'ffhq' }), name);
  }

  async features(image: RawImage): Promise<FaceFeatures> {
    const embedding = tf.tidy(() => this.encoder.embed(imageToTensor(image).expandDims(0) as tf.Tensor4D));
    const e = (await embedding.data()) as Float32Array;
    embedding.dispose();
    const landmarks = await alignedLandmarks68(image);
    return { embedding: e, landmarks, pose: headPose(landmarks) };
  }

  dispose(): void {
    this.encoder.dispose();
  }
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/**
 * AEI-Net's swap at its resolution: z_id from the training identity encoder on X_s, attributes from X_t; with
 * `hear`, refined by HEAR-Net as `yarn swap --hear` does on a detected face. Images are fed in `channels` order
 * (the checkpoint's; BGR for the reference's weights) and the swap comes back as RGB.
 */
export function aeiSwapFn(aei: AEINet, identity: IdentityEncoder, hear?: HEARNet | null, channels: ChannelOrder = 'rgb'): SwapFn {
  const R = aei.modelConfig.resolution;
  return async (source, target) => {
    const [s, t] = await Promise.all([source, target].map((im) => (im.width === R && im.height === R ? im : resizeImage(im, R, R))));
    const y = tf.tidy(() => {
      const xs = toChannelOrder(imageToTensor(s!).expandDims(0) as tf.Tensor4D, channels);
      const xt = toChannelOrder(imageToTensor(t!).expandDims(0) as tf.Tensor4D, channels);
      const swap = aei.forward(xt, identity.embed(xs)).swap;
      if (!hear) return toChannelOrder(swap.squeeze([0]) as tf.Tensor3D, channels);
      // ΔY_t = X_t − AEI(X_t, z_id(X_t)): what AEI-Net fails to reproduce of the target itself (occlusions).
      const self = aei.forward(xt, identity.embed(xt)).swap;
      return toChannelOrder(hear.refine(swap, tf.sub(xt, self) as tf.Tensor4D).squeeze([0]) as tf.Tensor3D, channels);
    });
    try {
      return await tensorToImage(y);
    } finally {
      y.dispose();
    }
  };
}

export interface EvaluateOptions {
  method: EvalMethod;
  /** Required for method 'model'. */
  swap?: SwapFn;
  /** Side every image (X_s, X_t, Ŷ) is resized to before measuring; default 256. */
  resolution?: number;
  metrics: FaceMetrics;
  /** Seed of the bootstrap intervals. */
  seed?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Evaluates Ŷ for every pair: ID similarity and top-1 retrieval with the ID network (default faceres), pose and expression error against
 * X_t with landmarks. The retrieval gallery holds one embedding per identity among all the pairs' images (sources
 * and targets): the mean of its images' embeddings, renormalised.
 */
export async function evaluatePairs(pairs: readonly EvalPair[], options: EvaluateOptions): Promise<EvalResult> {
  const { method, metrics } = options;
  const resolution = options.resolution ?? 256;
  if (method === 'model' && !options.swap) throw new Error("evaluatePairs: method 'model' needs a swap function (load a checkpoint).");
  if (pairs.length === 0) throw new Error('evaluatePairs: no pairs to evaluate.');
  const images = new Map<string, Promise<RawImage>>();
  const load = (file: string): Promise<RawImage> => {
    let p = images.get(file);
    if (!p) images.set(file, (p = decodeImage(file, { resize: resolution })));
    return p;
  };
  const cache = new Map<string, FaceFeatures>();
  const featuresOf = async (file: string): Promise<FaceFeatures> => {
    let f = cache.get(file);
    if (!f) cache.set(file, (f = await metrics.features(await load(file))));
    return f;
  };
  // Gallery: every identity among sources and targets.
  const byIdentity = new Map<string, Set<string>>();
  for (const p of pairs) {
    for (const [id, file] of [[p.sourceIdentity, p.source], [p.targetIdentity, p.target]] as const) {
      if (!byIdentity.has(id)) byIdentity.set(id, new Set());
      byIdentity.get(id)!.add(file);
    }
  }
  const gallery: { identity: string; embedding: Float32Array }[] = [];
  for (const [identity, files] of byIdentity) {
    let sum: Float32Array | undefined;
    for (const f of files) {
      const e = (await featuresOf(f)).embedding;
      sum ??= new Float32Array(e.length);
      for (let i = 0; i < e.length; i++) sum[i]! += e[i]!;
    }
    const norm = Math.sqrt(dot(sum!, sum!)) || 1;
    gallery.push({ identity, embedding: sum!.map((v) => v / norm) });
  }
  const rows: PairResult[] = [];
  const swaps: RawImage[] = [];
  for (const [index, p] of pairs.entries()) {
    const src = await featuresOf(p.source);
    const tgt = await featuresOf(p.target);
    let swap: RawImage;
    let y: FaceFeatures;
    if (method === 'target') {
      swap = await load(p.target);
      y = tgt;
    } else if (method === 'source') {
      swap = await load(p.source);
      y = src;
    } else {
      swap = await options.swap!(await load(p.source), await load(p.target));
      if (swap.width !== resolution || swap.height !== resolution) swap = await resizeImage(swap, resolution, resolution);
      y = await metrics.features(swap);
    }
    let best = gallery[0]!;
    let bestSim = -Infinity;
    for (const g of gallery) {
      const s = dot(y.embedding, g.embedding);
      if (s > bestSim) [best, bestSim] = [g, s];
    }
    rows.push({
      index,
      source: p.source,
      target: p.target,
      sourceIdentity: p.sourceIdentity,
      targetIdentity: p.targetIdentity,
      idSimilarity: dot(y.embedding, src.embedding),
      retrieved: best.identity,
      retrievalHit: best.identity === p.sourceIdentity ? 1 : 0,
      poseError: poseError(y.pose, tgt.pose),
      expressionError: expressionError(y.landmarks, tgt.landmarks),
      swapPose: y.pose,
      targetPose: tgt.pose,
    });
    swaps.push(swap);
    options.onProgress?.(index + 1, pairs.length);
  }
  const seed = options.seed ?? 0;
  const summary: EvalSummary = {
    method,
    pairs: rows.length,
    identities: gallery.length,
    resolution,
    idNetwork: options.metrics.idNetwork,
    idSimilarity: meanCI(rows.map((r) => r.idSimilarity), { seed }),
    idRetrieval: meanCI(rows.map((r) => 100 * r.retrievalHit), { seed: seed + 1 }),
    poseError: meanCI(rows.map((r) => r.poseError), { seed: seed + 2 }),
    expressionError: meanCI(rows.map((r) => r.expressionError), { seed: seed + 3 }),
  };
  return { rows, summary, swaps };
}
