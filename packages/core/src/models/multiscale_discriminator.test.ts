import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveModelConfig } from '../config/model_config.js';
import { expectBitIdentical, saveAndLoad, seededInput, weightsWithoutGradient } from '../test_utils/layers_round_trip.js';
import { MultiscaleDiscriminator } from './multiscale_discriminator.js';
import { countTrainableParams, namedWeights } from './named_weights.js';
import { NLayerDiscriminator } from './nlayer_discriminator.js';

const TINY = resolveModelConfig({ resolution: 32, discriminator: { numD: 3, nLayers: 2, baseChannels: 4, norm: 'instance' } });

describe('MultiscaleDiscriminator', () => {
  let before: number;
  beforeEach(() => {
    before = tf.memory().numTensors;
  });
  afterEach(() => {
    expect(tf.memory().numTensors).toBe(before);
  });

  it('has the reference parameter counts at 256²: 46,047,555 (n_layers 6) and 8,294,211 (n_layers 3)', () => {
    for (const [nLayers, params] of [
      [6, 46_047_555],
      [3, 8_294_211],
    ] as const) {
      const d = new MultiscaleDiscriminator(resolveModelConfig({ preset: 'paper', discriminator: { nLayers } }), { fastInit: true });
      expect(countTrainableParams(d)).toBe(params);
      d.dispose();
    }
  });

  it('pads every 4×4 conv by 2 and pools 3×3/2 between scales: the reference output sizes', () => {
    const d = new MultiscaleDiscriminator(resolveModelConfig({ preset: 'paper' }), { fastInit: true });
    // 256 → 129 → 65 → 33 → 17 → 9 → 5 (six stride-2 convs) → 6 → 7 (two stride-1 convs); scales see 256, 128, 64.
    expect(d.outputs.map((o) => o.shape)).toEqual([
      [null, 7, 7, 1],
      [null, 5, 5, 1],
      [null, 4, 4, 1],
    ]);
    expect(d.scales.map((s) => s.name)).toEqual(['discriminator.layer2', 'discriminator.layer1', 'discriminator.layer0']);
    const ours = namedWeights(d, { stripPrefix: 'discriminator.' })
      .map((w) => `${w.referenceName}\t${(w.kind === 'vector' ? w.shape : [w.shape[3], w.shape[2], w.shape[0], w.shape[1]]).join('x')}`)
      .sort();
    const reference = readFileSync(new URL('../weights/reference/faceshifter_reference_parameters.tsv', import.meta.url), 'utf8')
      .split('\n')
      .map((line) => line.split('\t'))
      .filter((f) => f[0] === 'discriminator')
      .map((f) => `${f[1]}\t${f[2]}`)
      .sort();
    expect(ours).toEqual(reference);
    d.dispose();
  });

  it('returns one logit map per scale, full resolution first', () => {
    const d = new MultiscaleDiscriminator(TINY, { seed: 1 });
    const x = seededInput([2, 32, 32, 3], 1) as tf.Tensor4D;
    const out = d.judge(x);
    // 32 → 17 → 9 (two stride-2 convs) → 10 → 11; then 16 → 11, 8 → 7.
    expect(out.map((o) => o.shape)).toEqual([
      [2, 11, 11, 1],
      [2, 7, 7, 1],
      [2, 5, 5, 1],
    ]);
    tf.dispose([x, ...out]);
    d.dispose();
  });

  for (const norm of ['instance', 'batch', 'none'] as const) {
    it(`back-propagates to every trainable weight with norm '${norm}' (hinge-style loss over all scales)`, async () => {
      const config = resolveModelConfig({ ...TINY, discriminator: { ...TINY.discriminator, norm } });
      const d = new MultiscaleDiscriminator(config, { seed: 2 });
      const x = seededInput([2, 32, 32, 3], 3) as tf.Tensor4D;
      const { missing, count } = await weightsWithoutGradient(d, () =>
        tf.tidy(() => tf.addN(d.judge(x, { training: true }).map((o) => tf.mean(tf.relu(tf.sub(1, o))))) as tf.Scalar),
      );
      // Per scale: 4 convs (first, one stride-2, one stride-1, last) with kernel and bias, plus γ and β of 2 BatchNorms.
      expect(count).toBe(3 * (4 * 2 + (norm === 'batch' ? 2 * 2 : 0)));
      expect(missing).toEqual([]);
      tf.dispose(x);
      d.dispose();
    });
  }

  it('saves and loads (in memory) with bit-identical outputs', async () => {
    const d = new MultiscaleDiscriminator(TINY, { seed: 4 });
    const { loaded } = await saveAndLoad(d);
    const x = seededInput([1, 32, 32, 3], 5);
    const a = d.predict(x) as tf.Tensor[];
    const b = loaded.predict(x) as tf.Tensor[];
    await expectBitIdentical(a, b);
    tf.dispose([x, ...a, ...b]);
    d.dispose();
    loaded.dispose();
  });

  it('NLayerDiscriminator alone accepts any input size when built with inputSize null', () => {
    const d = new NLayerDiscriminator(TINY.discriminator, null, { seed: 1 });
    const x = seededInput([1, 40, 24, 3], 1);
    const y = d.predict(x) as tf.Tensor;
    // 40 → 21 → 11 → 12 → 13 and 24 → 13 → 7 → 8 → 9.
    expect(y.shape).toEqual([1, 13, 9, 1]);
    tf.dispose([x, y]);
    d.dispose();
  });
});
