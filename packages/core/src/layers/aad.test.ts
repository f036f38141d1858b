import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectBitIdentical, saveAndLoad, seededInput } from '../test_utils/layers_round_trip.js';
import { AADLayer } from './aad.js';

// A 1×2×2 map with C_h = 2, C_att = 1, c_id = 2, and weights chosen by hand.
const h = (): tf.Tensor4D => tf.tensor4d([1, 2, 3, -1, 0, 4, -2, 1], [1, 2, 2, 2]);
const zAtt = (): tf.Tensor4D => tf.tensor4d([0.5, -1, 2, 0], [1, 2, 2, 1]);
const zId = (): tf.Tensor2D => tf.tensor2d([[1, -2]]);
const WEIGHTS = {
  conv1: [[0.3, -0.2], [0.1, 0.2]], // γ_att: 1×1×1×2 kernel, bias
  conv2: [[-0.5, 0.4], [0.0, -0.1]], // β_att
  fc1: [[0.2, -0.1, 0.05, 0.3], [0.5, -0.5]], // γ_id: 2×2 kernel [in, out] row-major, bias
  fc2: [[0.1, 0.1, -0.2, 0.0], [0.0, 0.25]], // β_id
  convH: [[0.7, -0.3], [0.05]], // mask conv: 1×1×2×1, bias
};

// Expected outputs (NHWC, flattened, rounded to 7 decimals) from an independent float64 NumPy computation of the
// paper's equations with the weights above:
//   hb = (h - h.mean(axis=(1,2), keepdims=True)) / np.sqrt(h.var(axis=(1,2), keepdims=True) + 1e-5)
//   A = (zatt @ k1 + b1) * hb + (zatt @ k2 + b2)
//   I = (zid @ W1 + c1).reshape(1,1,1,2) * hb + (zid @ W2 + c2).reshape(1,1,1,2)
//   M = 1 / (1 + np.exp(-(hb @ kh + bh)))
//   learned = (1 - M) * A + M * I;  constant = 0.5 * (A + I);  sum = A + I;  none = A
const EXPECTED = {
  learned: [0.2768822, 0.0680191, 1.1189897, 1.4247374, -0.6388004, -0.2086721, -0.197085, 0.0977418],
  constant: [0.2428736, 0.0724577, 0.7773497, 0.4796993, -0.4302773, -0.4457238, -0.2353619, 0.2636748],
  sum: [0.4857472, 0.1449154, 1.5546993, 0.9593987, -0.8605546, -0.8914477, -0.4707238, 0.5273497],
  none: [-0.1806626, 0.127735, 0.2226503, -1.0546993, -1.1941448, 0.4226503, -0.1386748, -0.1554699],
};

function handWeights(mask: AADLayer['mask']): tf.Tensor[] {
  const w: tf.Tensor[] = [
    tf.tensor4d(WEIGHTS.conv1[0]!, [1, 1, 1, 2]),
    tf.tensor1d(WEIGHTS.conv1[1]!),
    tf.tensor4d(WEIGHTS.conv2[0]!, [1, 1, 1, 2]),
    tf.tensor1d(WEIGHTS.conv2[1]!),
  ];
  if (mask !== 'none') {
    w.push(tf.tensor2d(WEIGHTS.fc1[0]!, [2, 2]), tf.tensor1d(WEIGHTS.fc1[1]!), tf.tensor2d(WEIGHTS.fc2[0]!, [2, 2]), tf.tensor1d(WEIGHTS.fc2[1]!));
  }
  if (mask === 'learned') w.push(tf.tensor4d(WEIGHTS.convH[0]!, [1, 1, 2, 1]), tf.tensor1d(WEIGHTS.convH[1]!));
  return w;
}

describe('AADLayer', () => {
  let before: number;
  beforeEach(() => {
    before = tf.memory().numTensors;
  });
  afterEach(() => {
    expect(tf.memory().numTensors).toBe(before);
  });

  for (const mask of ['learned', 'constant', 'sum', 'none'] as const) {
    it(`blends A and I as the paper's equations say (mask '${mask}')`, async () => {
      const layer = new AADLayer({ mask });
      const inputs = [h(), zAtt(), zId()];
      tf.dispose(layer.apply(inputs) as tf.Tensor); // builds the weights
      const weights = handWeights(mask);
      layer.setWeights(weights);
      const out = layer.apply(inputs) as tf.Tensor;
      expect(out.shape).toEqual([1, 2, 2, 2]);
      const values = Array.from(await out.data());
      values.forEach((v, i) => expect(v).toBeCloseTo(EXPECTED[mask][i]!, 5));
      tf.dispose([out, ...inputs, ...weights]);
      layer.dispose();
    });
  }

  it('creates exactly the weights of its variant, named as the reference', () => {
    const names = (args: ConstructorParameters<typeof AADLayer>[0]): string[] => {
      const layer = new AADLayer({ name: 'aad', ...args });
      layer.apply([tf.input({ shape: [4, 4, 8] }), tf.input({ shape: [4, 4, 6] }), tf.input({ shape: [16] })]);
      const out = layer.weights.map((w) => `${w.originalName.replace(/^.*?aad\//, '')}:${w.shape.join('x')}:${w.trainable ? 't' : 'n'}`);
      layer.dispose();
      return out;
    };
    expect(names({})).toEqual([
      'conv1/kernel:1x1x6x8:t', 'conv1/bias:8:t', 'conv2/kernel:1x1x6x8:t', 'conv2/bias:8:t',
      'fc1/kernel:16x8:t', 'fc1/bias:8:t', 'fc2/kernel:16x8:t', 'fc2/bias:8:t',
      'conv_h/kernel:1x1x8x1:t', 'conv_h/bias:1:t',
    ]);
    expect(names({ mask: 'constant' })).toHaveLength(8);
    expect(names({ mask: 'none' })).toEqual(['conv1/kernel:1x1x6x8:t', 'conv1/bias:8:t', 'conv2/kernel:1x1x6x8:t', 'conv2/bias:8:t']);
    expect(names({ gammaBetaKernel: 3 }).slice(0, 1)).toEqual(['conv1/kernel:3x3x6x8:t']);
    expect(names({ norm: 'batch' }).slice(-2)).toEqual(['moving_mean:8:n', 'moving_variance:8:n']);
  });

  it('normalises per sample with instance norm: scaling h_in does not change the output', async () => {
    const layer = new AADLayer({ seed: 3 });
    const x = seededInput([2, 4, 4, 8], 1) as tf.Tensor4D;
    const att = seededInput([2, 4, 4, 5], 2);
    const id = seededInput([2, 16], 3);
    const a = layer.apply([x, att, id]) as tf.Tensor;
    const scaledX = tf.tidy(() => tf.add(tf.mul(x, 7), 3));
    const b = layer.apply([scaledX, att, id]) as tf.Tensor;
    expect(tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).arraySync())).toBeLessThan(1e-4);
    tf.dispose([x, att, id, a, b, scaledX]);
    layer.dispose();
  });

  it("with norm 'batch' uses batch statistics when training and updates the moving ones (PyTorch momentum 0.1)", async () => {
    const layer = new AADLayer({ norm: 'batch', mask: 'constant' });
    const x = tf.tensor4d([1, 3, 5, 7], [1, 2, 2, 1]);
    const att = tf.zeros([1, 2, 2, 1]);
    const id = tf.zeros([1, 2]);
    tf.dispose(layer.apply([x, att, id], { training: true }) as tf.Tensor);
    const [mean, variance] = layer.nonTrainableWeights.map((w) => w.read().arraySync() as number[]);
    // batch mean 4, unbiased variance 20/3: moving = 0.9·init + 0.1·batch.
    expect(mean![0]).toBeCloseTo(0.4, 6);
    expect(variance![0]).toBeCloseTo(0.9 + 0.1 * (20 / 3), 5);
    tf.dispose([x, att, id]);
    layer.dispose();
  });

  it('works inside a user-built tf.model, which saves and loads with bit-identical outputs', async () => {
    const hIn = tf.input({ shape: [8, 8, 4], name: 'h' });
    const attIn = tf.input({ shape: [8, 8, 3], name: 'att' });
    const idIn = tf.input({ shape: [10], name: 'id' });
    const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'pre' }).apply(hIn) as tf.SymbolicTensor;
    const aad = new AADLayer({ name: 'my_aad', gammaBetaKernel: 3, seed: 11 }).apply([conv, attIn, idIn]) as tf.SymbolicTensor;
    const model = tf.model({ inputs: [hIn, attIn, idIn], outputs: aad });
    const inputs = [seededInput([2, 8, 8, 4], 4), seededInput([2, 8, 8, 3], 5), seededInput([2, 10], 6)];
    const { loaded, artifacts } = await saveAndLoad(model);
    expect(loaded.layers.find((l) => l.name === 'my_aad')!.getClassName()).toBe('AADLayer');
    expect(artifacts.weightSpecs!.map((s) => s.name)).toContain('my_aad/conv_h/kernel');
    const a = model.predict(inputs) as tf.Tensor;
    const b = loaded.predict(inputs) as tf.Tensor;
    await expectBitIdentical(a, b);
    tf.dispose([a, b, ...inputs]);
    model.dispose();
    loaded.dispose();
  });

  it('rejects an unknown mask with a message naming it', () => {
    expect(() => new AADLayer({ mask: 'soft' as never })).toThrow(/mask must be .* got "soft"/);
  });
});
