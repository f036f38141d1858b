/**
 * InsightFace_Pytorch's `Backbone(num_layers, drop_ratio, mode)`: the IR and IR-SE ResNets of ArcFace, in the
 * PyTorch port that taotaonice/FaceShifter (and maum-ai/faceshifter) load `model_ir_se50.pth` into: z_id of the
 * paper's identity encoder, 512-d. Frozen and differentiable w.r.t. the input (torch_frozen.ts).
 *
 *   input_layer: Conv3×3(3→64, p1, no bias) → BN → PReLU(64)
 *   body: per stage (64, 128, 256, 512 channels; 3/4/14/3 units at depth 50, 3/13/30/3 at 100, 3/8/36/3 at 152),
 *     the first unit stride 2. A unit is res + shortcut with
 *       res = BN(in) → Conv3×3(in→d, p1) → PReLU(d) → Conv3×3(d→d, stride, p1) → BN(d) [→ SE(d, 16) in ir_se]
 *       shortcut = MaxPool(1, stride) when in = d (a subsampling), else Conv1×1(in→d, stride) → BN(d)
 *     SE(d, r): x·σ(Conv1×1(d/r→d)(ReLU(Conv1×1(d→d/r)(avgpool(x))))), convs without bias.
 *   output_layer: BN2d(512) → Dropout (off in eval) → flatten (NCHW) → Linear(512·7·7, 512) → BN1d(512)
 *   forward returns l2_norm of that (the encoder normalises).
 *
 * Input: 112×112 RGB in [−1, 1] (the reference feeds its [−1, 1] images); NHWC here.
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

export type IRMode = 'ir' | 'ir_se';

/** The shape of a Backbone: what its state_dict determines. */
export interface IRArchitecture {
  mode: IRMode;
  /** Units per stage; the first unit of each stage has stride 2. */
  units: number[];
  /** Channels per stage; the stem has channels[0]. */
  channels: number[];
  /** Embedding size (c_id). */
  embedding: number;
}

/** get_blocks(num_layers) of InsightFace_Pytorch. */
export const IR_DEPTH_UNITS: Readonly<Record<50 | 100 | 152, readonly number[]>> = { 50: [3, 4, 14, 3], 100: [3, 13, 30, 3], 152: [3, 8, 36, 3] };

/** The full-size Backbone(depth, _, mode). */
export function irArchitecture(depth: 50 | 100 | 152, mode: IRMode): IRArchitecture {
  return { mode, units: [...IR_DEPTH_UNITS[depth]], channels: [64, 128, 256, 512], embedding: 512 };
}

const SE_REDUCTION = 16;
/** 112 / 2^4: the feature map the Linear flattens. */
const FINAL_SIDE = 7;

interface UnitSpec {
  index: number;
  inChannels: number;
  depth: number;
  stride: number;
}

function unitSpecs(arch: IRArchitecture): UnitSpec[] {
  const out: UnitSpec[] = [];
  let inChannels = arch.channels[0]!;
  arch.units.forEach((n, stage) => {
    const depth = arch.channels[stage]!;
    for (let i = 0; i < n; i++) out.push({ index: out.length, inChannels: i === 0 ? inChannels : depth, depth, stride: i === 0 ? 2 : 1 });
    inChannels = depth;
  });
  return out;
}

/** Every key of the architecture's state_dict, in PyTorch's order, with its shape. */
export function irKeys(arch: IRArchitecture): TorchKey[] {
  const stem = arch.channels[0]!;
  const last = arch.channels.at(-1)!;
  const keys: TorchKey[] = [
    { name: 'input_layer.0.weight', shape: [stem, 3, 3, 3] },
    ...batchNormKeys('input_layer.1', stem),
    { name: 'input_layer.2.weight', shape: [stem] },
    ...batchNormKeys('output_layer.0', last),
    { name: 'output_layer.3.weight', shape: [arch.embedding, last * FINAL_SIDE * FINAL_SIDE] },
    { name: 'output_layer.3.bias', shape: [arch.embedding] },
    ...batchNormKeys('output_layer.4', arch.embedding),
  ];
  for (const u of unitSpecs(arch)) {
    const p = `body.${u.index}`;
    if (u.inChannels !== u.depth) keys.push({ name: `${p}.shortcut_layer.0.weight`, shape: [u.depth, u.inChannels, 1, 1] }, ...batchNormKeys(`${p}.shortcut_layer.1`, u.depth));
    keys.push(
      ...batchNormKeys(`${p}.res_layer.0`, u.inChannels),
      { name: `${p}.res_layer.1.weight`, shape: [u.depth, u.inChannels, 3, 3] },
      { name: `${p}.res_layer.2.weight`, shape: [u.depth] },
      { name: `${p}.res_layer.3.weight`, shape: [u.depth, u.depth, 3, 3] },
      ...batchNormKeys(`${p}.res_layer.4`, u.depth),
    );
    if (arch.mode === 'ir_se') {
      const r = Math.floor(u.depth / SE_REDUCTION);
      keys.push({ name: `${p}.res_layer.5.fc1.weight`, shape: [r, u.depth, 1, 1] }, { name: `${p}.res_layer.5.fc2.weight`, shape: [u.depth, r, 1, 1] });
    }
  }
  return keys;
}

/**
 * Reads the architecture from a state_dict: units and channels from `body.N.res_layer.1.weight`, stages starting
 * where the channel count changes (every Backbone stage widens), the embedding from the Linear. Throws a one-line
 * error when the file is not a Backbone state_dict.
 */
export function inferIRArchitecture(file: SafetensorsFile, mode: IRMode): IRArchitecture {
  const shapeOf = (n: string): readonly number[] | undefined => file.tensors.get(n)?.shape;
  const linear = shapeOf('output_layer.3.weight');
  if (!shapeOf('input_layer.0.weight') || !linear) {
    const looksIResNet = file.tensors.has('conv1.weight') && file.tensors.has('layer1.0.conv1.weight');
    throw new Error(
      `${file.source}: not an InsightFace_Pytorch Backbone state_dict (no input_layer.0.weight / output_layer.3.weight)` +
        (looksIResNet ? '; it looks like an insightface arcface_torch iresnet: use identity encoder iresnet50 or iresnet100' : ''),
    );
  }
  const depths: number[] = [];
  for (let i = 0; shapeOf(`body.${i}.res_layer.1.weight`); i++) depths.push(shapeOf(`body.${i}.res_layer.1.weight`)![0]!);
  const units: number[] = [];
  const channels: number[] = [];
  depths.forEach((d, i) => {
    if (i === 0 || d !== depths[i - 1]) {
      units.push(0);
      channels.push(d);
    }
    units[units.length - 1]!++;
  });
  if (units.length !== 4) {
    throw new Error(`${file.source}: the Backbone body has ${units.length} stage(s) of distinct widths (${channels.join(', ')}); the 112 px input needs 4 to reach the 7×7 map before the Linear`);
  }
  const hasSE = file.tensors.has('body.0.res_layer.5.fc1.weight');
  if (hasSE !== (mode === 'ir_se')) {
    throw new Error(`${file.source}: the weights are an ${hasSE ? 'IR-SE' : 'IR'} Backbone but the encoder is ${mode === 'ir_se' ? 'IR-SE' : 'IR'}; pick the arcface-${hasSE ? 'ir-se' : 'ir'}* encoder`);
  }
  return { mode, units, channels, embedding: linear[0]! };
}

interface FrozenUnit {
  spec: UnitSpec;
  shortcut: FrozenConv | null;
  bnIn: FrozenAffine;
  conv1: FrozenConv;
  prelu: tf.Tensor1D;
  conv2: FrozenConv;
  se: { fc1: tf.Tensor2D; fc2: tf.Tensor2D } | null;
}

/** 1×1 conv weight [out, in, 1, 1] as the [in, out] matrix of a matMul on pooled features. */
function pointwiseMatrix(values: Map<string, Float32Array>, name: string, out: number, inC: number): tf.Tensor2D {
  const w = stateDictValue(values, name);
  const m = new Float32Array(inC * out);
  for (let o = 0; o < out; o++) for (let i = 0; i < inC; i++) m[i * out + o] = w[o * inC + i]!;
  return tf.tensor2d(m, [inC, out]);
}

/** The frozen parts of a Backbone, from a state_dict checked key by key against the architecture. */
function backboneParts(file: SafetensorsFile, arch: IRArchitecture, what: string): FrozenResNetParts<FrozenUnit> {
  const values = readStateDict(file, irKeys(arch), what, `is it InsightFace_Pytorch's ${arch.mode} Backbone (e.g. model_ir_se50.pth)?`);
  const stem = arch.channels[0]!;
  return {
    stem: frozenConv(values, 'input_layer.0.weight', [stem, 3, 3, 3], 1, 1, batchNormAffine(values, 'input_layer.1')),
    stemPrelu: frozenVector(values, 'input_layer.2.weight'),
    blocks: unitSpecs(arch).map((u) => {
      const p = `body.${u.index}`;
      const r = Math.floor(u.depth / SE_REDUCTION);
      return {
        spec: u,
        shortcut:
          u.inChannels === u.depth
            ? null
            : frozenConv(values, `${p}.shortcut_layer.0.weight`, [u.depth, u.inChannels, 1, 1], u.stride, 0, batchNormAffine(values, `${p}.shortcut_layer.1`)),
        bnIn: frozenAffine(batchNormAffine(values, `${p}.res_layer.0`)),
        conv1: frozenConv(values, `${p}.res_layer.1.weight`, [u.depth, u.inChannels, 3, 3], 1, 1),
        prelu: frozenVector(values, `${p}.res_layer.2.weight`),
        conv2: frozenConv(values, `${p}.res_layer.3.weight`, [u.depth, u.depth, 3, 3], u.stride, 1, batchNormAffine(values, `${p}.res_layer.4`)),
        se:
          arch.mode === 'ir_se'
            ? { fc1: pointwiseMatrix(values, `${p}.res_layer.5.fc1.weight`, r, u.depth), fc2: pointwiseMatrix(values, `${p}.res_layer.5.fc2.weight`, u.depth, r) }
            : null,
      };
    }),
    head: frozenHead(
      stateDictValue(values, 'output_layer.3.weight'),
      stateDictValue(values, 'output_layer.3.bias'),
      arch.channels.at(-1)!,
      FINAL_SIDE,
      batchNormAffine(values, 'output_layer.0'),
      batchNormAffine(values, 'output_layer.4'),
    ),
  };
}

/** A frozen Backbone on a state_dict. `forward` gives the raw embedding of [B, 112, 112, 3] images in [−1, 1]. */
export class InsightFaceIR extends FrozenResNet<FrozenUnit> {
  readonly arch: IRArchitecture;

  constructor(file: SafetensorsFile, arch: IRArchitecture, what = 'the ArcFace Backbone') {
    super(backboneParts(file, arch, what), 'InsightFaceIR');
    this.arch = arch;
  }

  protected block(x: tf.Tensor4D, u: FrozenUnit): tf.Tensor4D {
    // MaxPool2d(1, stride): a subsampling, kept as the pool so its gradient is the one of a pool.
    const shortcut = u.shortcut ? applyConv(x, u.shortcut) : u.spec.stride === 1 ? x : tf.maxPool(x, 1, u.spec.stride, 'valid');
    let res = applyPrelu(applyConv(applyAffine(x, u.bnIn), u.conv1), u.prelu);
    res = applyConv(res, u.conv2);
    if (u.se) {
      const [b, , , c] = res.shape;
      const pooled = tf.mean(res, [1, 2]) as tf.Tensor2D;
      const gate = tf.sigmoid(tf.matMul(tf.relu(tf.matMul(pooled, u.se.fc1)), u.se.fc2));
      res = tf.mul(res, tf.reshape(gate, [b, 1, 1, c]));
    }
    return tf.add(res, shortcut);
  }

  protected blockTensors(u: FrozenUnit): tf.Tensor[] {
    return [...convTensors(u.shortcut), ...convTensors(u.conv1), ...convTensors(u.conv2), u.bnIn.scale, u.bnIn.shift, u.prelu, ...(u.se ? [u.se.fc1, u.se.fc2] : [])];
  }
}
