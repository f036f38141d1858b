/**
 * The InsightFace recognition networks as identity encoders: the paper's ArcFace (InsightFace_Pytorch IR-SE50, as
 * taotaonice/FaceShifter trains with it) and arcface_torch's iresnets (ArcFace and CosFace releases, for ID
 * retrieval as papers measure it). Weights come from the public PyTorch files users bring (`model_ir_se50.pth`,
 * `backbone.pth`), read by weights/pth.ts; no code from them runs.
 *
 * Each encoder warps its input to the network's own 112² alignment (template_warp.ts), feeds it in [−1, 1] (both
 * references' normalisation: (p − 127.5)/127.5 and (p/255 − 0.5)/0.5 are the same map), and L2-normalises.
 */
import * as tf from '@tensorflow/tfjs';
import { applyAffine } from '../faces/alignment.js';
import type { SafetensorsFile } from '../weights/safetensors.js';
import type { CropBox } from './crop.js';
import { l2Normalize, type IdentityEncoder, type IdentityEncoderName } from './identity_encoder.js';
import { inferIRArchitecture, InsightFaceIR, irArchitecture, irKeys, type IRArchitecture, type IRMode } from './insightface_ir.js';
import { IResNet, inferIResNetArchitecture, iresnetArchitecture, iresnetKeys, type IResNetArchitecture } from './iresnet.js';
import type { TorchKey } from './torch_frozen.js';
import { AffineSampler, inputMap, NET_SIZE, type EncoderInputAlignment, type NetworkAlignment } from './template_warp.js';

/** A network that maps [B, 112, 112, 3] in [−1, 1] to raw embeddings. */
export interface FaceRecognitionNetwork {
  forward(x: tf.Tensor4D): tf.Tensor2D;
  dispose(): void;
}

/** The registered InsightFace encoders: family, architecture (null: read from the weights) and alignment. */
export interface InsightFaceSpec {
  family: 'backbone' | 'iresnet';
  mode?: IRMode;
  depth: number | null;
  alignment: NetworkAlignment;
  /** What users bring, for messages. */
  weightsHint: string;
}

const IR_SE_HINT = "InsightFace_Pytorch's model_ir_se50.pth (taotaonice/FaceShifter's identity network)";
const IR_HINT = 'an InsightFace_Pytorch IR Backbone state_dict (model_ir50.pth, ...)';
const IRESNET_HINT = "an insightface arcface_torch backbone.pth (ArcFace or CosFace, e.g. glint360k_cosface_r100)";

export const INSIGHTFACE_ENCODERS = {
  'arcface-ir-se50': { family: 'backbone', mode: 'ir_se', depth: 50, alignment: 'faceshifter-256', weightsHint: IR_SE_HINT },
  'arcface-ir-se100': { family: 'backbone', mode: 'ir_se', depth: 100, alignment: 'faceshifter-256', weightsHint: IR_SE_HINT },
  'arcface-ir-se152': { family: 'backbone', mode: 'ir_se', depth: 152, alignment: 'faceshifter-256', weightsHint: IR_SE_HINT },
  'arcface-ir50': { family: 'backbone', mode: 'ir', depth: 50, alignment: 'faceshifter-256', weightsHint: IR_HINT },
  'arcface-ir100': { family: 'backbone', mode: 'ir', depth: 100, alignment: 'faceshifter-256', weightsHint: IR_HINT },
  'arcface-ir152': { family: 'backbone', mode: 'ir', depth: 152, alignment: 'faceshifter-256', weightsHint: IR_HINT },
  /** Any depth and width, read from the weights (research nets, and the small seeded nets of tests). */
  'arcface-ir-se': { family: 'backbone', mode: 'ir_se', depth: null, alignment: 'faceshifter-256', weightsHint: IR_SE_HINT },
  iresnet18: { family: 'iresnet', depth: 18, alignment: 'arcface-112', weightsHint: IRESNET_HINT },
  iresnet34: { family: 'iresnet', depth: 34, alignment: 'arcface-112', weightsHint: IRESNET_HINT },
  iresnet50: { family: 'iresnet', depth: 50, alignment: 'arcface-112', weightsHint: IRESNET_HINT },
  iresnet100: { family: 'iresnet', depth: 100, alignment: 'arcface-112', weightsHint: IRESNET_HINT },
  iresnet200: { family: 'iresnet', depth: 200, alignment: 'arcface-112', weightsHint: IRESNET_HINT },
  iresnet: { family: 'iresnet', depth: null, alignment: 'arcface-112', weightsHint: IRESNET_HINT },
} as const satisfies Record<string, InsightFaceSpec>;

export type InsightFaceEncoderName = keyof typeof INSIGHTFACE_ENCODERS;
export const INSIGHTFACE_ENCODER_NAMES = Object.keys(INSIGHTFACE_ENCODERS) as InsightFaceEncoderName[];

export function isInsightFaceEncoder(name: string): name is InsightFaceEncoderName {
  return Object.hasOwn(INSIGHTFACE_ENCODERS, name);
}

/** z_id length of an InsightFace encoder; null for the generic ones (the weights decide). */
export function insightFaceDim(name: InsightFaceEncoderName): number | null {
  return INSIGHTFACE_ENCODERS[name].depth === null ? null : 512;
}

/** The state_dict keys a named encoder expects (null for the generic ones, whose weights decide). */
export function insightFaceKeys(name: InsightFaceEncoderName): TorchKey[] | null {
  const spec: InsightFaceSpec = INSIGHTFACE_ENCODERS[name];
  if (spec.depth === null) return null;
  return spec.family === 'backbone' ? irKeys(irArchitecture(spec.depth as 50 | 100 | 152, spec.mode!)) : iresnetKeys(iresnetArchitecture(spec.depth as 18 | 34 | 50 | 100 | 200));
}

function sameArchitecture(a: object, b: object): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Builds the named network on a parsed state_dict, checking the architecture the name promises. */
export function buildInsightFaceNetwork(name: InsightFaceEncoderName, file: SafetensorsFile): { network: FaceRecognitionNetwork; embedding: number; architecture: IRArchitecture | IResNetArchitecture } {
  const spec: InsightFaceSpec = INSIGHTFACE_ENCODERS[name];
  const what = `identity encoder ${name}`;
  if (spec.family === 'backbone') {
    const found = inferIRArchitecture(file, spec.mode!);
    const arch = spec.depth === null ? found : irArchitecture(spec.depth as 50 | 100 | 152, spec.mode!);
    if (!sameArchitecture(found, arch)) {
      throw new Error(
        `${file.source}: ${name} expects units ${JSON.stringify(arch.units)} of widths ${JSON.stringify(arch.channels)}, the weights have ${JSON.stringify(found.units)} of ${JSON.stringify(found.channels)} (embedding ${found.embedding}); pick the encoder of that depth, or arcface-ir-se to take the architecture from the weights`,
      );
    }
    return { network: new InsightFaceIR(file, arch, what), embedding: arch.embedding, architecture: arch };
  }
  const found = inferIResNetArchitecture(file);
  const arch = spec.depth === null ? found : iresnetArchitecture(spec.depth as 18 | 34 | 50 | 100 | 200);
  if (!sameArchitecture(found, arch)) {
    throw new Error(
      `${file.source}: ${name} expects blocks ${JSON.stringify(arch.layers)} of widths ${JSON.stringify(arch.channels)}, the weights have ${JSON.stringify(found.layers)} of ${JSON.stringify(found.channels)} (embedding ${found.embedding}); pick the iresnet of that depth, or iresnet to take the architecture from the weights`,
    );
  }
  return { network: new IResNet(file, arch, what), embedding: arch.embedding, architecture: arch };
}

export interface InsightFaceEncoderOptions {
  /** What the encoder is given (template_warp.ts). Default `ffhq`: this project's aligned crops. */
  input?: EncoderInputAlignment;
}

/** A frozen InsightFace network behind its alignment warp: z_id = normalise(net(warp(x))). */
export class InsightFaceEncoder implements IdentityEncoder {
  readonly inputSize = NET_SIZE;
  readonly input: EncoderInputAlignment;
  private readonly samplers = new Map<number, AffineSampler>();
  private disposed = false;

  constructor(
    readonly name: IdentityEncoderName,
    private readonly network: FaceRecognitionNetwork,
    readonly dim: number,
    readonly alignment: NetworkAlignment,
    options: InsightFaceEncoderOptions = {},
  ) {
    this.input = options.input ?? 'ffhq';
  }

  /** The bounding square of what the network sees, as fractions of the input side (informational). */
  get cropBox(): CropBox {
    if (this.input === 'aligned-112') return { x: 0, y: 0, size: 1 };
    const side = 256;
    const m = inputMap(this.alignment, this.input, side);
    const corners = [[-0.5, -0.5], [NET_SIZE - 0.5, -0.5], [-0.5, NET_SIZE - 0.5], [NET_SIZE - 0.5, NET_SIZE - 0.5]].map((p) => applyAffine(m, p as [number, number]));
    const xs = corners.map((c) => (c[0] + 0.5) / side);
    const ys = corners.map((c) => (c[1] + 0.5) / side);
    const size = Math.max(Math.max(...xs) - Math.min(...xs), Math.max(...ys) - Math.min(...ys));
    return { x: Math.min(...xs), y: Math.min(...ys), size };
  }

  private sampler(side: number): AffineSampler {
    let s = this.samplers.get(side);
    if (!s) {
      s = new AffineSampler(inputMap(this.alignment, this.input, side), NET_SIZE, side, side);
      this.samplers.set(side, s);
    }
    return s;
  }

  /** The network's input for these images: [B, 112, 112, 3] in [−1, 1]. */
  networkInput(images: tf.Tensor4D): tf.Tensor4D {
    this.assertUsable();
    const [, h, w, c] = images.shape;
    if (images.rank !== 4 || c !== 3) throw new Error(`${this.name}.embed: expected NHWC RGB images [B, H, W, 3] in [−1, 1], got [${images.shape}]`);
    if (h !== w) throw new Error(`${this.name}.embed: expected square aligned crops, got ${h}×${w}`);
    if (this.input === 'aligned-112') {
      if (h !== NET_SIZE) throw new Error(`${this.name}.embed: aligned-112 input must be 112×112, got ${h}×${w}`);
      return images;
    }
    return this.sampler(h).apply(images);
  }

  embed(images: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => l2Normalize(this.network.forward(this.networkInput(images))));
  }

  private assertUsable(): void {
    if (this.disposed) throw new Error(`${this.name}: the encoder was disposed; load it again with loadIdentityEncoder('${this.name}', { weights }).`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.network.dispose();
    for (const s of this.samplers.values()) s.dispose();
    this.samplers.clear();
  }
}

/** An InsightFace encoder on a parsed state_dict (safetensors or .pth). */
export function createInsightFaceEncoder(name: InsightFaceEncoderName, file: SafetensorsFile, options: InsightFaceEncoderOptions = {}): InsightFaceEncoder {
  const { network, embedding } = buildInsightFaceNetwork(name, file);
  return new InsightFaceEncoder(name, network, embedding, INSIGHTFACE_ENCODERS[name].alignment, options);
}
