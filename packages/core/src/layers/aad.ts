import * as tf from '@tensorflow/tfjs';
import type { AADMaskMode, AADNorm } from '../config/model_config.js';
import { shapes, type Kwargs, type LayerArgs } from './common.js';
import { convBias, convKernel, deriveSeed, linearKernel } from './initializers.js';
import { instanceNormalize } from './instance_norm.js';

export interface AADLayerArgs extends LayerArgs {
  /**
   * The attention mask M (paper eq. 3; design section 3). Default `learned`.
   * - `learned`: M = σ(Conv1×1(h̄)) with ONE output channel, h_out = (1 − M)⊙A + M⊙I.
   * - `constant`: M ≡ 0.5, h_out = ½(A + I).
   * - `sum`: h_out = A + I.
   * - `none`: no identity injection, h_out = A; γ_id, β_id and the mask conv are not created and z_id is ignored.
   */
  mask?: AADMaskMode;
  /** Kernel size k of the γ_att and β_att convs of z_att: 1 (paper) or 3 ('same' padding). Default 1. */
  gammaBetaKernel?: 1 | 3;
  /**
   * How h̄ is made from h_in, always without affine parameters (the denormalisation replaces them). Default
   * `instance` (paper: per sample and channel over H×W); `batch` uses batch statistics when training and moving
   * statistics otherwise.
   */
  norm?: AADNorm;
  /** ε of the normalisation. Default 1e-5. */
  epsilon?: number;
  /** Moving-statistics momentum for `norm: 'batch'`, PyTorch's convention (new = (1 − m)·old + m·batch). Default 0.1. */
  momentum?: number;
  /** Seed of this layer's initialisers; each weight derives its own from it and its name. Default 0. */
  seed?: number;
}

/**
 * Adaptive Attentional Denormalization (FaceShifter, Li et al. CVPR 2020, section 3.2.2).
 *
 * Inputs `[h_in, z_att, z_id]`: h_in is B×H×W×C_h, z_att^k is B×H×W×C_att, z_id is B×c_id. With h̄ = IN(h_in):
 * - A = γ_att ⊙ h̄ + β_att, γ_att and β_att a k×k conv (with bias) of z_att each, C_att → C_h;
 * - I = γ_id ⊙ h̄ + β_id, γ_id and β_id a fully connected layer (c_id → C_h) each, broadcast over H×W;
 * - M = σ(Conv1×1(h̄)), one channel: where the identity (M → 1) or the attributes (M → 0) win;
 * - h_out = (1 − M) ⊙ A + M ⊙ I, of the shape of h_in.
 *
 * Weights carry the reference implementation's names: `conv1` = γ_att, `conv2` = β_att, `fc1` = γ_id,
 * `fc2` = β_id, `conv_h` = the mask conv (plus `moving_mean`/`moving_variance` for `norm: 'batch'`).
 * Initialisation: convs Xavier-normal with PyTorch's default bias, fc weights N(0, 0.001²) with zero bias.
 */
export class AADLayer extends tf.layers.Layer {
  static className = 'AADLayer';
  readonly mask: AADMaskMode;
  readonly gammaBetaKernel: 1 | 3;
  readonly norm: AADNorm;
  readonly epsilon: number;
  readonly momentum: number;
  readonly seed: number;
  private w: Partial<Record<AADWeight, tf.LayerVariable>> = {};

  constructor(args: AADLayerArgs = {}) {
    super(args);
    this.mask = args.mask ?? 'learned';
    this.gammaBetaKernel = args.gammaBetaKernel ?? 1;
    this.norm = args.norm ?? 'instance';
    this.epsilon = args.epsilon ?? 1e-5;
    this.momentum = args.momentum ?? 0.1;
    this.seed = args.seed ?? 0;
    if (!['learned', 'constant', 'sum', 'none'].includes(this.mask)) {
      throw new Error(`AADLayer: mask must be 'learned', 'constant', 'sum' or 'none', got ${JSON.stringify(this.mask)}`);
    }
    if (this.gammaBetaKernel !== 1 && this.gammaBetaKernel !== 3) {
      throw new Error(`AADLayer: gammaBetaKernel must be 1 or 3, got ${JSON.stringify(this.gammaBetaKernel)}`);
    }
    if (this.norm !== 'instance' && this.norm !== 'batch') {
      throw new Error(`AADLayer: norm must be 'instance' or 'batch', got ${JSON.stringify(this.norm)}`);
    }
  }

  /** Whether z_id enters this layer (false for mask 'none'). */
  get injectsIdentity(): boolean {
    return this.mask !== 'none';
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const [hShape, attShape, idShape] = shapes(inputShape, 3, `AADLayer '${this.name}'`);
    const cH = hShape![3];
    const cAtt = attShape![3];
    const cId = idShape![idShape!.length - 1];
    if (cH == null || cAtt == null || cId == null) {
      throw new Error(`AADLayer '${this.name}': channel counts must be known, got h_in ${JSON.stringify(hShape)}, z_att ${JSON.stringify(attShape)}, z_id ${JSON.stringify(idShape)}`);
    }
    const k = this.gammaBetaKernel;
    const add = (name: AADWeight, shape: number[], init: ReturnType<typeof tf.initializers.zeros>, trainable = true): void => {
      this.w[name] = this.addWeight(name, shape, 'float32', init, undefined, trainable);
    };
    const seed = (name: string): number => deriveSeed(this.seed, name);
    add('conv1/kernel', [k, k, cAtt, cH], convKernel(k, cAtt, cH, seed('conv1/kernel')));
    add('conv1/bias', [cH], convBias(cAtt * k * k, seed('conv1/bias')));
    add('conv2/kernel', [k, k, cAtt, cH], convKernel(k, cAtt, cH, seed('conv2/kernel')));
    add('conv2/bias', [cH], convBias(cAtt * k * k, seed('conv2/bias')));
    if (this.injectsIdentity) {
      add('fc1/kernel', [cId, cH], linearKernel(seed('fc1/kernel')));
      add('fc1/bias', [cH], tf.initializers.zeros());
      add('fc2/kernel', [cId, cH], linearKernel(seed('fc2/kernel')));
      add('fc2/bias', [cH], tf.initializers.zeros());
    }
    if (this.mask === 'learned') {
      add('conv_h/kernel', [1, 1, cH, 1], convKernel(1, cH, 1, seed('conv_h/kernel')));
      add('conv_h/bias', [1], convBias(cH, seed('conv_h/bias')));
    }
    if (this.norm === 'batch') {
      add('moving_mean', [cH], tf.initializers.zeros(), false);
      add('moving_variance', [cH], tf.initializers.ones(), false);
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return shapes(inputShape, 3, `AADLayer '${this.name}'`)[0]!;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs = {}): tf.Tensor {
    return tf.tidy(() => {
      const [h, zAtt, zId] = inputs as [tf.Tensor4D, tf.Tensor4D, tf.Tensor2D];
      const hBar = this.normalize(h, kwargs['training'] === true);
      const affine = (name: 'conv1' | 'conv2'): tf.Tensor4D =>
        tf.fused.conv2d({ x: zAtt, filter: this.read(`${name}/kernel`) as tf.Tensor4D, strides: 1, pad: 'same', bias: this.read(`${name}/bias`) });
      const a = tf.add(tf.mul(affine('conv1'), hBar), affine('conv2'));
      if (!this.injectsIdentity) return a;
      const [batch, , , cH] = h.shape;
      const dense = (name: 'fc1' | 'fc2'): tf.Tensor =>
        tf.reshape(tf.fused.matMul({ a: zId, b: this.read(`${name}/kernel`) as tf.Tensor2D, bias: this.read(`${name}/bias`) }), [batch, 1, 1, cH]);
      const i = tf.add(tf.mul(dense('fc1'), hBar), dense('fc2'));
      switch (this.mask) {
        case 'constant':
          return tf.mul(tf.add(a, i), 0.5);
        case 'sum':
          return tf.add(a, i);
        default: {
          const m = tf.sigmoid(tf.fused.conv2d({ x: hBar, filter: this.read('conv_h/kernel') as tf.Tensor4D, strides: 1, pad: 'valid', bias: this.read('conv_h/bias') }));
          // (1 − M)⊙A + M⊙I written as A + M⊙(I − A): one product fewer, same value.
          return tf.add(a, tf.mul(m, tf.sub(i, a)));
        }
      }
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      mask: this.mask,
      gammaBetaKernel: this.gammaBetaKernel,
      norm: this.norm,
      epsilon: this.epsilon,
      momentum: this.momentum,
      seed: this.seed,
    };
  }

  private read(name: AADWeight): tf.Tensor {
    return this.w[name]!.read();
  }

  private normalize(h: tf.Tensor4D, training: boolean): tf.Tensor4D {
    if (this.norm === 'instance') return instanceNormalize(h, this.epsilon);
    const movingMean = this.w.moving_mean!;
    const movingVariance = this.w.moving_variance!;
    if (!training) {
      return tf.mul(tf.sub(h, movingMean.read()), tf.rsqrt(tf.add(movingVariance.read(), this.epsilon)));
    }
    const { mean, variance } = tf.moments(h, [0, 1, 2]);
    const n = h.shape[0] * h.shape[1] * h.shape[2];
    // The moving variance is unbiased, as PyTorch's running_var; the batch is normalised with the biased one.
    tf.tidy(() => {
      const m = this.momentum;
      const unbiased = tf.mul(variance, n > 1 ? n / (n - 1) : 1);
      movingMean.write(tf.add(tf.mul(movingMean.read(), 1 - m), tf.mul(mean, m)));
      movingVariance.write(tf.add(tf.mul(movingVariance.read(), 1 - m), tf.mul(unbiased, m)));
    });
    return tf.mul(tf.sub(h, mean), tf.rsqrt(tf.add(variance, this.epsilon)));
  }
}
tf.serialization.registerClass(AADLayer);

type AADWeight =
  | 'conv1/kernel'
  | 'conv1/bias'
  | 'conv2/kernel'
  | 'conv2/bias'
  | 'fc1/kernel'
  | 'fc1/bias'
  | 'fc2/kernel'
  | 'fc2/bias'
  | 'conv_h/kernel'
  | 'conv_h/bias'
  | 'moving_mean'
  | 'moving_variance';
