import * as tf from '@tensorflow/tfjs';
import { resolveModelConfig, type ModelConfig, type ModelConfigInput } from '../../config/model_config.js';
import { AEINet } from '../../models/aei_net.js';
import { MultiscaleDiscriminator } from '../../models/multiscale_discriminator.js';

/**
 * The objective of issue 11's cpu-gradient report, end to end through AEI-Net and the multi-scale discriminator:
 * - `squared`: mean(Ŷ²) + Σ_k mean((z_att^k(X_t) − z_att^k(Ŷ))²) + Σ_scales mean(D(Ŷ));
 * - `l1-hinge`: the same with mean(|Ŷ|) and Σ_scales mean(relu(1 + D(Ŷ))).
 * Both networks in training mode (batch statistics), batch 2, seeded weights and inputs.
 */
export type ObjectiveVariant = 'squared' | 'l1-hinge';

export interface ObjectiveCaseSpec {
  model: ModelConfigInput;
  /** Seeds of AEI-Net's and D's initialisers, of X_t (uniform in [−1, 1]) and of z_id (normal, then unit length). */
  seeds: { aei: number; discriminator: number; xt: number; zId: number };
  batch: number;
}

export interface ObjectiveCase {
  config: ModelConfig;
  aei: AEINet;
  discriminator: MultiscaleDiscriminator;
  xt: tf.Tensor4D;
  zId: tf.Tensor2D;
  /** Every trainable variable, AEI-Net's then D's, by name. */
  variables: tf.LayerVariable[];
  dispose(): void;
}

export function buildObjectiveCase(spec: ObjectiveCaseSpec): ObjectiveCase {
  const config = resolveModelConfig(spec.model);
  const aei = new AEINet(config, { seed: spec.seeds.aei });
  const discriminator = new MultiscaleDiscriminator(config, { seed: spec.seeds.discriminator });
  const r = config.resolution;
  const xt = tf.randomUniform([spec.batch, r, r, 3], -1, 1, 'float32', spec.seeds.xt) as tf.Tensor4D;
  const zId = tf.tidy(() => {
    const z = tf.randomNormal([spec.batch, config.cId], 0, 1, 'float32', spec.seeds.zId);
    return tf.div(z, tf.norm(z, 'euclidean', 1, true)) as tf.Tensor2D;
  });
  const variables = [...aei.trainableWeights, ...discriminator.trainableWeights];
  return {
    config,
    aei,
    discriminator,
    xt,
    zId,
    variables,
    dispose: () => {
      tf.dispose([xt, zId]);
      aei.dispose();
      discriminator.dispose();
    },
  };
}

/** The scalar objective (see {@link ObjectiveVariant}); call it under tf.variableGrads. */
export function objective(c: ObjectiveCase, variant: ObjectiveVariant): tf.Scalar {
  return tf.tidy(() => {
    const { swap, attributes } = c.aei.forward(c.xt, c.zId, { training: true });
    const zAtt = c.aei.encoder.attributes(swap, { training: true });
    const att = tf.addN(zAtt.map((a, k) => tf.mean(tf.square(tf.sub(attributes[k]!, a)))));
    const judged = c.discriminator.judge(swap, { training: true });
    if (variant === 'squared') {
      const adv = tf.addN(judged.map((o) => tf.mean(o)));
      return tf.addN([tf.mean(tf.square(swap)), att, adv]) as tf.Scalar;
    }
    const adv = tf.addN(judged.map((o) => tf.mean(tf.relu(tf.add(1, o)))));
    return tf.addN([tf.mean(tf.abs(swap)), att, adv]) as tf.Scalar;
  });
}

/** The kernels whose gradient jumps at 0: each call's input decides, per element, which slope backpropagates. */
export const KINK_KERNELS: readonly string[] = ['Relu', 'LeakyRelu', 'Abs'];

/** Elements of one kink call's input to move onto the side of 0 a reference computation put them. */
export interface KinkPin {
  /** Index of the call among the kink-kernel calls `fn` makes, in order. */
  call: number;
  kernel: string;
  shape: number[];
  /** Flat (row-major, NHWC) element indices, and the reference's value for each (its sign is what counts). */
  index: number[];
  value: number[];
}

export interface KinkRun<T> {
  result: T;
  /** Per kink call, in order: kernel, input shape and the input's values as this backend computed them (unpinned). */
  inputs: { kernel: string; shape: number[]; values: Float32Array }[];
}

type RunKernel = (name: string, inputs: Record<string, tf.Tensor>, attrs?: tf.NamedAttrMap) => tf.Tensor | tf.Tensor[];

/**
 * Runs `fn` while watching every Relu, LeakyRelu and Abs kernel call: records each one's input, and where `pins`
 * name elements of a call, replaces its input x by x + c, with c a constant that puts those elements at the
 * reference's values. x + c keeps the tape connected to x (d(x + c)/dx = 1), so the backward pass differentiates the
 * same graph, but every pinned element now takes the reference's branch: the slope 1, α or −1 that its sign picks.
 * A pinned element moves by at most the float32 error of its forward value, so the forward pass is unchanged to
 * rounding. Synchronous readback only (cpu, wasm).
 */
export function withKinks<T>(fn: () => T, pins: readonly KinkPin[] = []): KinkRun<T> {
  const engine = tf.engine() as unknown as { runKernel: RunKernel };
  const original = engine.runKernel.bind(engine);
  const byCall = new Map(pins.map((p) => [p.call, p]));
  const inputs: KinkRun<T>['inputs'] = [];
  engine.runKernel = (name, kernelInputs, attrs) => {
    if (!KINK_KERNELS.includes(name)) return original(name, kernelInputs, attrs);
    const x = kernelInputs['x']!;
    const values = x.dataSync() as Float32Array;
    const call = inputs.length;
    inputs.push({ kernel: name, shape: [...x.shape], values: values.slice() });
    const pin = byCall.get(call);
    if (!pin) return original(name, kernelInputs, attrs);
    if (pin.kernel !== name || pin.shape.join('x') !== x.shape.join('x')) {
      throw new Error(`kink call ${call}: expected ${pin.kernel} [${pin.shape.join(', ')}], got ${name} [${x.shape.join(', ')}]; the objective changed, regenerate the fixture`);
    }
    const shift = new Float32Array(values.length);
    // A reference value of (almost) exactly 0 still needs a side: keep its sign, at least 1e-12 away from 0.
    pin.index.forEach((j, k) => (shift[j] = Math.sign(pin.value[k]!) * Math.max(Math.abs(pin.value[k]!), 1e-12) - values[j]!));
    const c = tf.tensor(shift, x.shape, 'float32');
    const pinned = tf.add(x, c);
    const out = original(name, { ...kernelInputs, x: pinned }, attrs);
    tf.dispose([c, pinned]);
    return out;
  };
  try {
    return { result: fn(), inputs };
  } finally {
    engine.runKernel = original;
  }
}

/**
 * The j-th of {@link PROJECTIONS} fixed ±1 vectors, at element i: a 32-bit integer hash, so that the fixture's
 * generator (Python) draws the very same vectors.
 */
export function projectionSign(i: number, j: number): number {
  let h = (Math.imul(i, 0x9e3779b1) + Math.imul(j + 1, 0x85ebca77)) >>> 0;
  h = (h ^ (h >>> 15)) >>> 0;
  h = Math.imul(h, 0x2c1b3c6d) >>> 0;
  h = (h ^ (h >>> 12)) >>> 0;
  return h & 1 ? 1 : -1;
}

export const PROJECTIONS = 8;

/**
 * A gradient's projections on {@link PROJECTIONS} random ±1 vectors, in float64. For an error vector e,
 * ‖P e‖ / ‖P g‖ estimates ‖e‖ / ‖g‖ (the relative L2 error) without storing g itself.
 */
export function project(values: ArrayLike<number>): number[] {
  const out = new Array<number>(PROJECTIONS).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    for (let j = 0; j < PROJECTIONS; j++) out[j] += projectionSign(i, j) * v;
  }
  return out;
}
