import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { hingeDiscriminatorLoss, hingeGeneratorLoss } from './adversarial.js';
import { attributeLoss } from './attribute.js';
import { changeLoss } from './change.js';
import { identityLoss } from './identity.js';
import { reconstructionLoss } from './reconstruction.js';

// Expected values are worked out by hand in the comments, from the definitions in faceshifter.md §9.
const value = (t: tf.Scalar): number => {
  const v = t.dataSync()[0]!;
  t.dispose();
  return v;
};

describe('hinge adversarial losses', () => {
  it('G: −mean(D(Ŷ)) averaged over scales', () => {
    // scale 1: mean(1, −3) = −1 → 1; scale 2: mean(2) = 2 → −2; average (1 − 2) / 2 = −0.5
    const d = [tf.tensor4d([1, -3], [1, 1, 2, 1]), tf.tensor4d([2], [1, 1, 1, 1])];
    expect(value(hingeGeneratorLoss(d))).toBeCloseTo(-0.5, 6);
    tf.dispose(d);
  });

  it('D: mean(relu(1 − real)) + mean(relu(1 + fake)) averaged over scales', () => {
    // scale 1: real (0.5, 2) → relu(0.5), relu(−1) → mean 0.25; fake (−2, 0) → relu(−1), relu(1) → mean 0.5; sum 0.75
    // scale 2: real (−1) → 2; fake (3) → 4; sum 6.   average (0.75 + 6) / 2 = 3.375
    const real = [tf.tensor4d([0.5, 2], [1, 1, 2, 1]), tf.tensor4d([-1], [1, 1, 1, 1])];
    const fake = [tf.tensor4d([-2, 0], [1, 1, 2, 1]), tf.tensor4d([3], [1, 1, 1, 1])];
    expect(value(hingeDiscriminatorLoss(real, fake))).toBeCloseTo(3.375, 6);
    tf.dispose([...real, ...fake]);
  });

  it('rejects mismatched or empty scale lists', () => {
    const a = tf.zeros([1, 1, 1, 1]);
    expect(() => hingeDiscriminatorLoss([a], [])).toThrow(/no discriminator outputs/);
    expect(() => hingeDiscriminatorLoss([a, a], [a])).toThrow(/2 real scales but 1 fake/);
    a.dispose();
  });
});

describe('identity loss', () => {
  it('is 1 − cos, averaged over the batch, and ignores embedding norms', () => {
    // sample 1: (3,4) vs (6,8): cos 1 → 0.  sample 2: (1,0) vs (0,2): cos 0 → 1.  mean 0.5
    const a = tf.tensor2d([[3, 4], [1, 0]]);
    const b = tf.tensor2d([[6, 8], [0, 2]]);
    expect(value(identityLoss(a, b))).toBeCloseTo(0.5, 6);
    // opposite vectors: cos −1 → 2
    const c = tf.tensor2d([[1, 1]]);
    const d = tf.tensor2d([[-2, -2]]);
    expect(value(identityLoss(c, d))).toBeCloseTo(2, 6);
    tf.dispose([a, b, c, d]);
  });
});

describe('attribute loss', () => {
  it('is ½ Σ_k mean squared difference over the levels', () => {
    // level 1: diffs (1, 1, 1, 1) → mean 1;  level 2: diffs (2, 0) → mean 2.   ½ (1 + 2) = 1.5
    const swap = [tf.ones([1, 2, 2, 1]), tf.tensor4d([2, 5], [1, 1, 1, 2])];
    const target = [tf.zeros([1, 2, 2, 1]), tf.tensor4d([0, 5], [1, 1, 1, 2])];
    expect(value(attributeLoss(swap, target))).toBeCloseTo(1.5, 6);
    tf.dispose([...swap, ...target]);
  });

  it('names the level whose shapes differ', () => {
    const a = [tf.zeros([1, 2, 2, 1])];
    const b = [tf.zeros([1, 2, 2, 2])];
    expect(() => attributeLoss(a, b)).toThrow(/level 1 differs in shape/);
    tf.dispose([...a, ...b]);
  });
});

describe('reconstruction loss', () => {
  it('is ½ mean squared error over same-image samples only', () => {
    // sample 1 (same): error 2 everywhere → ½·4 = 2.  sample 2 (different): ignored.
    // sample 3 (same): error 1 on half the pixels → mean 0.5 → ½·0.5 = 0.25.   (2 + 0.25) / 2 = 1.125
    const out = tf.tensor4d([2, 2, 2, 2, 9, 9, 9, 9, 1, 1, 0, 0], [3, 2, 2, 1]);
    const target = tf.zeros([3, 2, 2, 1]) as tf.Tensor4D;
    const same = tf.tensor1d([1, 0, 1]);
    expect(value(reconstructionLoss(out, target, same))).toBeCloseTo(1.125, 6);
    tf.dispose([out, target, same]);
  });

  it('is 0 with a zero gradient when no pair is the same image', () => {
    const out = tf.ones([2, 2, 2, 3]) as tf.Tensor4D;
    const target = tf.zeros([2, 2, 2, 3]) as tf.Tensor4D;
    const same = tf.tensor1d([0, 0]);
    const grad = tf.grad((y: tf.Tensor) => reconstructionLoss(y as tf.Tensor4D, target, same))(out);
    expect(value(reconstructionLoss(out, target, same))).toBe(0);
    expect(tf.max(tf.abs(grad)).dataSync()[0]).toBe(0);
    tf.dispose([out, target, same, grad]);
  });
});

describe('change loss', () => {
  it('is the mean absolute difference', () => {
    // |1 − 0|, |−2 − 1|, |0.5 − 0.5|, |3 − 1| → 1, 3, 0, 2 → mean 1.5
    const y = tf.tensor4d([1, -2, 0.5, 3], [1, 2, 2, 1]);
    const s = tf.tensor4d([0, 1, 0.5, 1], [1, 2, 2, 1]);
    expect(value(changeLoss(y, s))).toBeCloseTo(1.5, 6);
    tf.dispose([y, s]);
  });
});

describe('memory', () => {
  it('every loss frees its intermediates', () => {
    const a = tf.randomNormal([2, 4, 4, 3]) as tf.Tensor4D;
    const b = tf.randomNormal([2, 4, 4, 3]) as tf.Tensor4D;
    const z = tf.randomNormal([2, 8]) as tf.Tensor2D;
    const same = tf.tensor1d([1, 0]);
    const before = tf.memory().numTensors;
    tf.dispose([
      hingeGeneratorLoss([a, b]),
      hingeDiscriminatorLoss([a], [b]),
      identityLoss(z, z),
      attributeLoss([a], [b]),
      reconstructionLoss(a, b, same),
      changeLoss(a, b),
    ]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b, z, same]);
  });
});
