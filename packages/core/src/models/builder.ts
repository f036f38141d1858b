/**
 * Shared plumbing of the network files: build options, hierarchical layer names, seeded standard layers, and the
 * channel plan that ties the attribute encoder's levels to the generator's blocks.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../config/model_config.js';
import { convBias, convKernel, deriveSeed } from '../layers/initializers.js';

/** How a network is built (not part of the architecture, so not in the config). */
export interface BuildOptions {
  /** Seed of every initialiser; each weight derives its own from it and the weight's name. Default 0. */
  seed?: number;
  /** Prefix of every layer and weight name, e.g. `encoder` → `encoder.conv1.0/kernel`. Each network has a default. */
  name?: string;
  /**
   * Create the weights as zeros instead of drawing them: for counting parameters or right before loading
   * weights (tfjs does the same when it loads a model). Default false.
   */
  fastInit?: boolean;
}

export type ContainerArgs = ConstructorParameters<typeof tf.LayersModel>[0];

/** The symbolic tensor(s) a layer's apply() returns during graph construction. */
export function sym(x: tf.Tensor | tf.Tensor[] | tf.SymbolicTensor | tf.SymbolicTensor[]): tf.SymbolicTensor {
  if (Array.isArray(x)) throw new Error('expected one symbolic tensor, got a list');
  return x as tf.SymbolicTensor;
}

/** Creates the layers of one network with hierarchical names (`<prefix>.<local>`) and seeded initialisers. */
export class LayerFactory {
  readonly seed: number;
  readonly fastInit: boolean;

  constructor(
    readonly prefix: string,
    options: BuildOptions,
  ) {
    this.seed = options.seed ?? 0;
    this.fastInit = options.fastInit ?? false;
  }

  name(local: string): string {
    return `${this.prefix}.${local}`;
  }

  seedFor(local: string, weight = ''): number {
    return deriveSeed(this.seed, weight ? `${this.name(local)}/${weight}` : this.name(local));
  }

  /** Registers a layer created elsewhere: applies fastInit. */
  add<L extends tf.layers.Layer>(layer: L): L {
    layer.setFastWeightInitDuringBuild(this.fastInit);
    return layer;
  }

  input(local: string, shape: number[]): tf.SymbolicTensor {
    return tf.input({ shape, name: this.name(local) });
  }

  /** A k×k conv, Xavier-normal kernel, PyTorch-default bias. `padding` 'same' equals PyTorch's (k−s)/2 for the even sizes used here. */
  conv(local: string, a: { cIn: number; filters: number; kernelSize: number; strides?: number; padding: 'same' | 'valid'; useBias: boolean }): tf.layers.Layer {
    const k = a.kernelSize;
    return this.add(
      tf.layers.conv2d({
        name: this.name(local),
        filters: a.filters,
        kernelSize: k,
        strides: a.strides ?? 1,
        padding: a.padding,
        useBias: a.useBias,
        kernelInitializer: convKernel(k, a.cIn, a.filters, this.seedFor(local, 'kernel')),
        biasInitializer: a.useBias ? convBias(a.cIn * k * k, this.seedFor(local, 'bias')) : 'zeros',
      }),
    );
  }

  /**
   * A transposed conv. With k = 4, s = 2, 'same' gives 2H×2W with one pixel of padding cropped on each side,
   * exactly PyTorch's ConvTranspose2d(k=4, s=2, padding=1).
   */
  convTranspose(local: string, a: { cIn: number; filters: number; kernelSize: number; strides: number; padding: 'same' | 'valid'; useBias: boolean }): tf.layers.Layer {
    const k = a.kernelSize;
    return this.add(
      tf.layers.conv2dTranspose({
        name: this.name(local),
        filters: a.filters,
        kernelSize: k,
        strides: a.strides,
        padding: a.padding,
        useBias: a.useBias,
        kernelInitializer: convKernel(k, a.cIn, a.filters, this.seedFor(local, 'kernel')),
        // PyTorch computes a ConvTranspose2d's bias fan-in from weight.size(1)·k², i.e. its output channels.
        biasInitializer: a.useBias ? convBias(a.filters * k * k, this.seedFor(local, 'bias')) : 'zeros',
      }),
    );
  }

  /** BatchNorm with PyTorch's defaults: ε = 1e-5, running stats updated with 0.1 of the batch (tfjs momentum 0.9). */
  batchNorm(local: string): tf.layers.Layer {
    return this.add(tf.layers.batchNormalization({ name: this.name(local), axis: -1, momentum: 0.9, epsilon: 1e-5 }));
  }

  leakyReLU(local: string, alpha: number): tf.layers.Layer {
    return this.add(tf.layers.leakyReLU({ name: this.name(local), alpha }));
  }

  concat(local: string): tf.layers.Layer {
    return this.add(tf.layers.concatenate({ name: this.name(local), axis: -1 }));
  }
}

/** Channel count after the width multiplier (at least 1). */
export function scaled(channels: number, widthMultiplier: number): number {
  return Math.max(1, Math.round(channels * widthMultiplier));
}

/** One down block of the attribute encoder: `conv{index}`, output size² × channels. */
export interface EncoderDown {
  index: number;
  size: number;
  channels: number;
}

/** One up block of the attribute encoder: `deconv{index}`, making z_att^(index+1) at size² with its skip concatenated. */
export interface EncoderUp {
  index: number;
  size: number;
  cIn: number;
  cOut: number;
  skipChannels: number;
}

/** One AAD ResBlk of the generator: `AADBlk{index}` at size², fed z_att^index (C_att channels). */
export interface GeneratorBlock {
  index: number;
  size: number;
  cIn: number;
  cOut: number;
  cAtt: number;
}

/** The channel plan of AEI-Net at a resolution and width: encoder levels and generator blocks, consistently. */
export interface AEIPlan {
  resolution: number;
  /** log2(R) − 1 down blocks, so that z_att^1 is 2×2. */
  downBlocks: number;
  down: EncoderDown[];
  /** Empty when config.attributes is 'single' (only the bottleneck z_att^1 is produced). */
  up: EncoderUp[];
  /** Channels of each z_att^k the encoder outputs, k = 1.. (length log2 R for 'multi', 1 for 'single'). */
  attributeChannels: number[];
  /** Spatial size of each z_att^k the encoder outputs. */
  attributeSizes: number[];
  /** Channels of the generator's first feature map (the 2×2 ConvTranspose of z_id). */
  generatorInit: number;
  blocks: GeneratorBlock[];
}

/**
 * The plan, anchored at full resolution like a U-Net (level j has size R/2^j):
 * - encoder level j has E(j) = min(16·2^j, 1024)·w channels: 32, 64, ..., 1024, 1024 at 256²;
 * - z_att at level j is up(E(j)) ‖ down_j, so 2·E(j), except z_att^1 = down_n (E(n)) and the last level
 *   j = 0, the ×2 bilinear of level 1 (2·E(1));
 * - generator level j outputs G(j) = min(32·2^j, 1024)·w channels (3 at j = 0) and takes G(j+1).
 * At 256² and w = 1 this is exactly the paper's tables (design sections 2 and 5); other resolutions add or drop
 * levels at the bottom, where channels are capped at 1024.
 */
export function planAEI(config: Pick<ModelConfig, 'resolution' | 'widthMultiplier' | 'attributes'>): AEIPlan {
  const R = config.resolution;
  const n = Math.log2(R) - 1;
  if (!Number.isInteger(n) || R < 32) throw new Error(`model.resolution must be a power of two >= 32, got ${R}`);
  const w = config.widthMultiplier;
  const E = (j: number): number => scaled(Math.min(16 * 2 ** j, 1024), w);
  const G = (j: number): number => (j === 0 ? 3 : scaled(Math.min(32 * 2 ** j, 1024), w));
  const size = (j: number): number => R / 2 ** j;
  const down = Array.from({ length: n }, (_, i) => ({ index: i + 1, size: size(i + 1), channels: E(i + 1) }));
  // z_att channels per level j (0..n).
  const zAtt = (j: number): number => (j === n ? E(n) : j === 0 ? 2 * E(1) : 2 * E(j));
  const multi = config.attributes === 'multi';
  const up = multi
    ? Array.from({ length: n - 1 }, (_, i) => {
        const j = n - 1 - i;
        return { index: i + 1, size: size(j), cIn: zAtt(j + 1), cOut: E(j), skipChannels: E(j) };
      })
    : [];
  const levels = Array.from({ length: n + 1 }, (_, k) => n - k); // level j of z_att^(k+1)
  const blocks = levels.map((j, k) => ({ index: k + 1, size: size(j), cIn: G(j + 1), cOut: G(j), cAtt: multi ? zAtt(j) : E(n) }));
  return {
    resolution: R,
    downBlocks: n,
    down,
    up,
    attributeChannels: multi ? levels.map(zAtt) : [E(n)],
    attributeSizes: multi ? levels.map(size) : [2],
    generatorInit: G(n + 1),
    blocks,
  };
}

/**
 * Applies the layers of `model` again, in order, to new symbolic inputs, and returns the tensors that correspond
 * to its outputs. The layers (and so the weights) are shared with `model`; the new graph contains them directly
 * instead of `model` as one nested layer.
 *
 * Why: tfjs 4.22's graph executor calls a multi-output layer once per output it needs, so a nested encoder with
 * eight z_att outputs would run eight times per AEI-Net pass (and update its BatchNorm statistics eight times).
 */
export function replayModel(model: tf.LayersModel, inputs: tf.SymbolicTensor[]): tf.SymbolicTensor[] {
  if (inputs.length !== model.inputs.length) throw new Error(`replayModel: ${model.name} takes ${model.inputs.length} inputs, got ${inputs.length}`);
  const mapped = new Map<tf.SymbolicTensor, tf.SymbolicTensor>();
  model.inputs.forEach((t, i) => mapped.set(t, inputs[i]!));
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    // The model's own call of the layer is its first: the models here are built before they are replayed.
    const node = layer.inboundNodes[0]!;
    const ins = node.inputTensors.map((t) => {
      const m = mapped.get(t);
      if (!m) throw new Error(`replayModel: input ${t.name} of layer ${layer.name} is not computed yet`);
      return m;
    });
    const outs = layer.apply(ins.length === 1 ? ins[0]! : ins, node.callArgs);
    const outList = (Array.isArray(outs) ? outs : [outs]) as tf.SymbolicTensor[];
    node.outputTensors.forEach((t, i) => mapped.set(t, outList[i]!));
  }
  return model.outputs.map((t) => mapped.get(t)!);
}
