/**
 * insightface `recognition/arcface_torch/backbones/iresnet.py` `IResNet`: the network of the arcface_torch ArcFace
 * and CosFace releases (`backbone.pth`, e.g. the glint360k CosFace r100 that ID-retrieval evaluations use; also the
 * identity network of ai-forever/ghost and SimSwap). Frozen and differentiable w.r.t. the input (torch_frozen.ts).
 *
 *   conv1: Conv3×3(3→64, p1, no bias) → bn1 → prelu(64)
 *   layer1..4 (64, 128, 256, 512 channels; 2/2/2/2 blocks at r18, 3/4/6/3 r34, 3/4/14/3 r50, 3/13/30/3 r100,
 *     6/26/60/6 r200), each starting with a stride-2 block. IBasicBlock(in → d, stride):
 *       out = bn1(x) → Conv3×3(in→d, p1) → bn2 → prelu(d) → Conv3×3(d→d, stride, p1) → bn3
 *       identity = downsample(x) = Conv1×1(in→d, stride) → BN  (first block), else x
 *       out + identity (no activation after the sum)
 *   bn2 → flatten (NCHW) → dropout (off in eval) → fc: Linear(512·7·7, 512) → features: BatchNorm1d(512)
 *   forward returns the unnormalised features (the encoder normalises).
 *
 * Input: the 112×112 crop aligned to insightface's 5-point template, as (p − 127.5)/127.5, i.e. [−1, 1]; NHWC here.
 */
import * as tf from '@tensorflow/tfjs';
import type { SafetensorsFile } from '../weights/safetensors.js';
import {
  applyAffine,
  applyConv,
  applyPrelu,
  batchNormAffine,
  batchNormKeys,
  convTensors,
  FrozenResNet,
  frozenAffine,
  frozenConv,
  frozenHead,
  frozenVector,
  readStateDict,
  stateDictValue,
  type FrozenAffine,
  type FrozenConv,
  type FrozenResNetParts,
  type TorchKey,
} from './torch_frozen.js';

/** The shape of an IResNet: what its state_dict determines. */
export interface IResNetArchitecture {
  /** Blocks per layer (4 layers). */
  layers: number[];
  /** Channels per layer; the stem has channels[0]. */
  channels: number[];
  embedding: number;
}

export const IRESNET_DEPTH_LAYERS: Readonly<Record<18 | 34 | 50 | 100 | 200, readonly number[]>> = {
  18: [2, 2, 2, 2],
  34: [3, 4, 6, 3],
  50: [3, 4, 14, 3],
  100: [3, 13, 30, 3],
  200: [6, 26, 60, 6],
};

export function iresnetArchitecture(depth: 18 | 34 | 50 | 100 | 200): IResNetArchitecture {
  return { layers: [...IRESNET_DEPTH_LAYERS[depth]], channels: [64, 128, 256, 512], embedding: 512 };
}

const FINAL_SIDE = 7;

interface BlockSpec {
  prefix: string;
  inChannels: number;
  planes: number;
  stride: number;
  downsample: boolean;
}

function blockSpecs(arch: IResNetArchitecture): BlockSpec[] {
  const out: BlockSpec[] = [];
  let inplanes = arch.channels[0]!;
  arch.layers.forEach((n, l) => {
    const planes = arch.channels[l]!;
    for (let i = 0; i < n; i++) {
      // _make_layer(stride=2) always gives the first block a downsample (stride ≠ 1).
      out.push({ prefix: `layer${l + 1}.${i}`, inChannels: i === 0 ? inplanes : planes, planes, stride: i === 0 ? 2 : 1, downsample: i === 0 });
    }
    inplanes = planes;
  });
  return out;
}

/** Every key of the architecture's state_dict, in PyTorch's order, with its shape. */
export function iresnetKeys(arch: IResNetArchitecture): TorchKey[] {
  const stem = arch.channels[0]!;
  const last = arch.channels.at(-1)!;
  const keys: TorchKey[] = [{ name: 'conv1.weight', shape: [stem, 3, 3, 3] }, ...batchNormKeys('bn1', stem), { name: 'prelu.weight', shape: [stem] }];
  for (const b of blockSpecs(arch)) {
    keys.push(
      ...batchNormKeys(`${b.prefix}.bn1`, b.inChannels),
      { name: `${b.prefix}.conv1.weight`, shape: [b.planes, b.inChannels, 3, 3] },
      ...batchNormKeys(`${b.prefix}.bn2`, b.planes),
      { name: `${b.prefix}.prelu.weight`, shape: [b.planes] },
      { name: `${b.prefix}.conv2.weight`, shape: [b.planes, b.planes, 3, 3] },
      ...batchNormKeys(`${b.prefix}.bn3`, b.planes),
    );
    if (b.downsample) keys.push({ name: `${b.prefix}.downsample.0.weight`, shape: [b.planes, b.inChannels, 1, 1] }, ...batchNormKeys(`${b.prefix}.downsample.1`, b.planes));
  }
  keys.push(
    ...batchNormKeys('bn2', last),
    { name: 'fc.weight', shape: [arch.embedding, last * FINAL_SIDE * FINAL_SIDE] },
    { name: 'fc.bias', shape: [arch.embedding] },
    ...batchNormKeys('features', arch.embedding),
  );
  return keys;
}

/** Reads blocks per layer and widths from an iresnet state_dict; a one-line error when it is not one. */
export function inferIResNetArchitecture(file: SafetensorsFile): IResNetArchitecture {
  const shapeOf = (n: string): readonly number[] | undefined => file.tensors.get(n)?.shape;
  const fc = shapeOf('fc.weight');
  if (!shapeOf('conv1.weight') || !fc || !shapeOf('layer1.0.conv1.weight')) {
    const looksBackbone = file.tensors.has('input_layer.0.weight');
    throw new Error(
      `${file.source}: not an insightface iresnet state_dict (no conv1.weight / layer1.0.conv1.weight / fc.weight)` +
        (looksBackbone ? '; it looks like an InsightFace_Pytorch Backbone (model_ir_se50.pth): use identity encoder arcface-ir-se50' : ''),
    );
  }
  const layers: number[] = [];
  const channels: number[] = [];
  for (let l = 1; l <= 4; l++) {
    let n = 0;
    while (shapeOf(`layer${l}.${n}.conv1.weight`)) n++;
    if (n === 0) throw new Error(`${file.source}: iresnet layer${l} has no blocks`);
    layers.push(n);
    channels.push(shapeOf(`layer${l}.0.conv1.weight`)![0]!);
  }
  return { layers, channels, embedding: fc[0]! };
}

interface FrozenBlock {
  spec: BlockSpec;
  bn1: FrozenAffine;
  conv1: FrozenConv;
  prelu: tf.Tensor1D;
  conv2: FrozenConv;
  downsample: FrozenConv | null;
}

/** The frozen parts of an IResNet, from a state_dict checked key by key against the architecture. */
function iresnetParts(file: SafetensorsFile, arch: IResNetArchitecture, what: string): FrozenResNetParts<FrozenBlock> {
  const values = readStateDict(file, iresnetKeys(arch), what, 'is it an insightface arcface_torch iresnet backbone.pth of this depth?');
  const stem = arch.channels[0]!;
  return {
    stem: frozenConv(values, 'conv1.weight', [stem, 3, 3, 3], 1, 1, batchNormAffine(values, 'bn1')),
    stemPrelu: frozenVector(values, 'prelu.weight'),
    blocks: blockSpecs(arch).map((b) => ({
      spec: b,
      bn1: frozenAffine(batchNormAffine(values, `${b.prefix}.bn1`)),
      conv1: frozenConv(values, `${b.prefix}.conv1.weight`, [b.planes, b.inChannels, 3, 3], 1, 1, batchNormAffine(values, `${b.prefix}.bn2`)),
      prelu: frozenVector(values, `${b.prefix}.prelu.weight`),
      conv2: frozenConv(values, `${b.prefix}.conv2.weight`, [b.planes, b.planes, 3, 3], b.stride, 1, batchNormAffine(values, `${b.prefix}.bn3`)),
      downsample: b.downsample
        ? frozenConv(values, `${b.prefix}.downsample.0.weight`, [b.planes, b.inChannels, 1, 1], b.stride, 0, batchNormAffine(values, `${b.prefix}.downsample.1`))
        : null,
    })),
    head: frozenHead(stateDictValue(values, 'fc.weight'), stateDictValue(values, 'fc.bias'), arch.channels.at(-1)!, FINAL_SIDE, batchNormAffine(values, 'bn2'), batchNormAffine(values, 'features')),
  };
}

/** A frozen IResNet on a state_dict. `forward` gives the raw features of [B, 112, 112, 3] images in [−1, 1]. */
export class IResNet extends FrozenResNet<FrozenBlock> {
  readonly arch: IResNetArchitecture;

  constructor(file: SafetensorsFile, arch: IResNetArchitecture, what = 'the iresnet') {
    super(iresnetParts(file, arch, what), 'IResNet');
    this.arch = arch;
  }

  protected block(x: tf.Tensor4D, b: FrozenBlock): tf.Tensor4D {
    const out = applyConv(applyPrelu(applyConv(applyAffine(x, b.bn1), b.conv1), b.prelu), b.conv2);
    return tf.add(out, b.downsample ? applyConv(x, b.downsample) : x);
  }

  protected blockTensors(b: FrozenBlock): tf.Tensor[] {
    return [...convTensors(b.conv1), ...convTensors(b.conv2), ...convTensors(b.downsample), b.bn1.scale, b.bn1.shift, b.prelu];
  }
}
