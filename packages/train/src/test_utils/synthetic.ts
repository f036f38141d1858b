import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import type { IdentityEncoder } from '@faceshifter/core/node';
import type { PairBatch, PairBatchSource } from '../models/pair_batch.js';

/**
 * Stand-ins for tests that exercise the trainers, not the face models: a deterministic random-image pair source
 * and a frozen, differentiable "identity encoder" (a fixed random projection of a pooled image).
 */
export class SyntheticPairs implements PairBatchSource {
  private rng: seedrandom.prng;
  constructor(
    private readonly batchSize: number,
    private readonly resolution: number,
    seed: number,
    private readonly sameProbability = 0.5,
  ) {
    this.rng = seedrandom(String(seed), { state: true });
  }
  async next(): Promise<PairBatch> {
    const n = this.batchSize * this.resolution * this.resolution * 3;
    const src = Float32Array.from({ length: n }, () => this.rng() * 2 - 1);
    const tgt = Float32Array.from({ length: n }, () => this.rng() * 2 - 1);
    const same = Float32Array.from({ length: this.batchSize }, () => (this.rng() < this.sameProbability ? 1 : 0));
    const shape: [number, number, number, number] = [this.batchSize, this.resolution, this.resolution, 3];
    const per = n / this.batchSize;
    same.forEach((s, i) => s && tgt.set(src.subarray(i * per, (i + 1) * per), i * per));
    return { source: tf.tensor4d(src, shape), target: tf.tensor4d(tgt, shape), same: tf.tensor1d(same) };
  }
  state(): unknown {
    return this.rng.state();
  }
  restore(state: unknown): void {
    this.rng = seedrandom('', { state: state as object });
  }
  dispose(): void {}
}

export function projectionIdentity(dim: number, seed = 7): IdentityEncoder {
  const projection = tf.randomNormal([8 * 8 * 3, dim], 0, 1, 'float32', seed) as tf.Tensor2D;
  return {
    name: 'face-api-recognition',
    dim,
    cropBox: { x: 0, y: 0, size: 1 },
    inputSize: 8,
    embed: (images) =>
      tf.tidy(() => {
        const z = tf.matMul(tf.reshape(tf.image.resizeBilinear(images, [8, 8]), [images.shape[0], -1]) as tf.Tensor2D, projection);
        return tf.div(z, tf.norm(z, 'euclidean', -1, true)) as tf.Tensor2D;
      }),
    dispose: () => projection.dispose(),
  };
}
