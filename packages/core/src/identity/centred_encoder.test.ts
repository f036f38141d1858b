import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { CentredIdentityEncoder, identityMean } from './centred_encoder.js';
import type { IdentityEncoder } from './identity_encoder.js';

/** A stand-in encoder: the first `dim` pixel values of each image, as they are. */
function fakeEncoder(dim: number): IdentityEncoder & { disposed: boolean } {
  return {
    name: 'face-api-recognition',
    dim,
    cropBox: { x: 0, y: 0, size: 1 },
    inputSize: 8,
    disposed: false,
    embed: (images) => tf.tidy(() => tf.reshape(images, [images.shape[0], -1]).slice([0, 0], [-1, dim]) as tf.Tensor2D),
    dispose() {
      this.disposed = true;
    },
  };
}

describe('identityMean', () => {
  it('averages the per-identity means, so an identity with many faces weighs as much as one with a single face', async () => {
    const z = tf.tensor2d([[1, 0], [1, 0], [1, 0], [0, 1]]);
    const mean = await identityMean(z, ['a', 'a', 'a', 'b']);
    expect(Array.from(mean)).toEqual([0.5, 0.5]);
    z.dispose();
  });

  it('rejects labels that do not match the rows', async () => {
    const z = tf.zeros([3, 2]) as tf.Tensor2D;
    await expect(identityMean(z, ['a', 'b'])).rejects.toThrow(/3 embeddings but 2 identity labels/);
    z.dispose();
  });
});

describe('CentredIdentityEncoder', () => {
  it('gives normalise(z − μ): unit vectors measured from the mean, with no tensors left behind', () => {
    const inner = fakeEncoder(3);
    const encoder = new CentredIdentityEncoder('face-api-recognition-centred', inner, [1, 1, 0]);
    const images = tf.tensor4d([4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], [1, 3, 3, 3]);
    const before = tf.memory().numTensors;
    const z = encoder.embed(images);
    expect(tf.memory().numTensors).toBe(before + 1);
    // (4, 1, 1) − (1, 1, 0) = (3, 0, 1), normalised.
    const expected = [3 / Math.sqrt(10), 0, 1 / Math.sqrt(10)];
    Array.from(z.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
    expect(encoder.dim).toBe(3);
    expect(encoder.inputSize).toBe(8);
    tf.dispose([z, images]);
    encoder.dispose();
    expect(inner.disposed).toBe(true);
    expect(() => encoder.embed(tf.zeros([1, 3, 3, 3]) as tf.Tensor4D)).toThrow(/disposed; load it again/);
  });

  it('names the encoder and both sizes when the mean does not fit the embedding', () => {
    expect(() => new CentredIdentityEncoder('face-api-recognition-centred', fakeEncoder(4), [0, 0])).toThrow(/mean has 2 values but face-api-recognition gives 4-d/);
  });
});
