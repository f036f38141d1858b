import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveModelConfig } from '../config/model_config.js';
import { expectBitIdentical, saveAndLoad, seededInput, weightsWithoutGradient } from '../test_utils/layers_round_trip.js';
import { HEARNet } from './hear_net.js';
import { countTrainableParams, namedWeights } from './named_weights.js';

const TINY = resolveModelConfig({ resolution: 32, widthMultiplier: 0.125, cId: 16 });

describe('HEARNet', () => {
  let before: number;
  beforeEach(() => {
    before = tf.memory().numTensors;
  });
  afterEach(() => {
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refines Ŷ given ΔY: B×R×R×3 in [−1, 1]', () => {
    const hear = new HEARNet(resolveModelConfig({ resolution: 64, widthMultiplier: 0.125 }), { seed: 1 });
    const [swap, error] = [seededInput([2, 64, 64, 3], 1) as tf.Tensor4D, seededInput([2, 64, 64, 3], 2) as tf.Tensor4D];
    const y = hear.refine(swap, error);
    expect(y.shape).toEqual([2, 64, 64, 3]);
    expect(tf.tidy(() => tf.max(tf.abs(y)).arraySync())).toBeLessThanOrEqual(1);
    tf.dispose([swap, error, y]);
    hear.dispose();
  });

  it('has exactly 16,663,043 trainable parameters at the paper preset, named and shaped as the reference', () => {
    const hear = new HEARNet(resolveModelConfig({ preset: 'paper' }), { fastInit: true });
    expect(countTrainableParams(hear)).toBe(16_663_043);
    expect(hear.outputs[0]!.shape).toEqual([null, 256, 256, 3]);
    const ours = namedWeights(hear, { stripPrefix: 'hearnet.' }).map((w) => {
      const torch = w.kind === 'vector' ? w.shape : [w.shape[3], w.shape[2], w.shape[0], w.shape[1]];
      return `${w.referenceName}\t${torch.join('x')}`;
    });
    const reference = readFileSync(new URL('../weights/reference/faceshifter_reference_parameters.tsv', import.meta.url), 'utf8')
      .split('\n')
      .map((line) => line.split('\t'))
      .filter((f) => f[0] === 'hearnet' && !f[1]!.endsWith('num_batches_tracked'))
      .map((f) => `${f[1]}\t${f[2]}`);
    expect(ours).toEqual(reference);
    hear.dispose();
  });

  it('back-propagates to every trainable weight (non-zero, finite)', async () => {
    const hear = new HEARNet(TINY, { seed: 2 });
    const [swap, error, target] = [1, 2, 3].map((s) => seededInput([2, 32, 32, 3], s) as tf.Tensor4D);
    const { missing } = await weightsWithoutGradient(hear, () =>
      tf.tidy(() => tf.mean(tf.abs(tf.sub(hear.refine(swap!, error!, { training: true }), target!))) as tf.Scalar),
    );
    expect(missing).toEqual([]);
    tf.dispose([swap!, error!, target!]);
    hear.dispose();
  });

  it('saves and loads (in memory) with bit-identical outputs', async () => {
    const hear = new HEARNet(TINY, { seed: 3 });
    const { loaded } = await saveAndLoad(hear);
    const inputs = [seededInput([1, 32, 32, 3], 4), seededInput([1, 32, 32, 3], 5)];
    const a = hear.predict(inputs) as tf.Tensor;
    const b = loaded.predict(inputs) as tf.Tensor;
    await expectBitIdentical(a, b);
    tf.dispose([a, b, ...inputs]);
    hear.dispose();
    loaded.dispose();
  });
});
