import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveModelConfig, type ModelConfigInput } from '../config/model_config.js';
import { expectBitIdentical, saveAndLoad, seededInput, weightsWithoutGradient } from '../test_utils/layers_round_trip.js';
import { AEINet } from './aei_net.js';
import { planAEI } from './builder.js';
import { countTrainableParams, namedWeights } from './named_weights.js';

/** The smallest useful AEI-Net: 32², width 1/8, c_id 16. */
const TINY: ModelConfigInput = { resolution: 32, widthMultiplier: 0.125, cId: 16 };

function tinyInputs(config: ReturnType<typeof resolveModelConfig>, batch = 2): [tf.Tensor4D, tf.Tensor2D] {
  const xt = seededInput([batch, config.resolution, config.resolution, 3], 1) as tf.Tensor4D;
  const zId = tf.tidy(() => {
    const z = seededInput([batch, config.cId], 2);
    return tf.div(z, tf.norm(z, 'euclidean', 1, true)) as tf.Tensor2D;
  });
  return [xt, zId];
}

describe('AEINet', () => {
  let before: number;
  beforeEach(() => {
    before = tf.memory().numTensors;
  });
  afterEach(() => {
    expect(tf.memory().numTensors).toBe(before);
  });

  for (const [resolution, widthMultiplier] of [
    [32, 0.125],
    [64, 0.25],
  ] as const) {
    it(`swaps at ${resolution}² (width ${widthMultiplier}): Ŷ in [−1, 1] and z_att^1..z_att^n as planned`, async () => {
      const config = resolveModelConfig({ resolution, widthMultiplier, cId: 16 });
      const aei = new AEINet(config, { seed: 1 });
      const [xt, zId] = tinyInputs(config);
      const { swap, attributes } = aei.forward(xt, zId);
      expect(swap.shape).toEqual([2, resolution, resolution, 3]);
      const n = Math.log2(resolution);
      expect(attributes.map((a) => a.shape)).toEqual(
        Array.from({ length: n }, (_, k) => [2, 2 ** (k + 1), 2 ** (k + 1), aei.plan.attributeChannels[k]]),
      );
      const [min, max] = tf.tidy(() => [tf.min(swap).arraySync(), tf.max(swap).arraySync()] as number[]);
      expect(min).toBeGreaterThanOrEqual(-1);
      expect(max).toBeLessThanOrEqual(1);
      tf.dispose([xt, zId, swap, ...attributes]);
      aei.dispose();
    });
  }

  it('builds the paper preset at 256² with exactly the reference parameter counts (c_id 512 and 128)', () => {
    for (const [cId, generator] of [
      [512, 117_255_637],
      [128, 106_393_045],
    ] as const) {
      const aei = new AEINet(resolveModelConfig({ preset: 'paper', cId }), { fastInit: true });
      expect(countTrainableParams(aei.encoder)).toBe(67_087_744);
      expect(countTrainableParams(aei.generator)).toBe(generator);
      expect(countTrainableParams(aei)).toBe(67_087_744 + generator);
      expect(aei.outputs.map((o) => o.shape)).toEqual([
        [null, 256, 256, 3],
        [null, 2, 2, 1024],
        [null, 4, 4, 2048],
        [null, 8, 8, 1024],
        [null, 16, 16, 512],
        [null, 32, 32, 256],
        [null, 64, 64, 128],
        [null, 128, 128, 64],
        [null, 256, 256, 64],
      ]);
      aei.dispose();
    }
  });

  it('names and shapes every weight of the paper preset as the PyTorch reference does', () => {
    const aei = new AEINet(resolveModelConfig({ preset: 'paper' }), { fastInit: true });
    const ours = namedWeights(aei).map((w) => {
      const torch = w.kind === 'dense' ? [w.shape[1], w.shape[0]] : w.kind === 'vector' ? w.shape : [w.shape[3], w.shape[2], w.shape[0], w.shape[1]];
      return `${w.referenceName}\t${torch.join('x')}`;
    });
    const reference = readFileSync(new URL('../weights/reference/faceshifter_reference_parameters.tsv', import.meta.url), 'utf8')
      .split('\n')
      .map((line) => line.split('\t'))
      .filter((f) => f[0] === 'aei' && !f[1]!.endsWith('num_batches_tracked'))
      .map((f) => `${f[1]}\t${f[2]}`);
    expect(reference).toHaveLength(298);
    expect(ours).toEqual(reference);
    aei.dispose();
  });

  it('builds at every resolution 32..1024 with the encoder levels matching the generator blocks', () => {
    for (let resolution = 32; resolution <= 1024; resolution *= 2) {
      const config = resolveModelConfig({ resolution, widthMultiplier: 1 / 16, cId: 8 });
      const plan = planAEI(config);
      expect(plan.down).toHaveLength(Math.log2(resolution) - 1);
      expect(plan.down.at(-1)!.size).toBe(2);
      expect(plan.blocks.map((b) => b.cAtt)).toEqual(plan.attributeChannels);
      expect(plan.blocks.map((b) => b.size)).toEqual(plan.attributeSizes);
      const aei = new AEINet(config, { fastInit: true });
      expect(aei.outputs[0]!.shape).toEqual([null, resolution, resolution, 3]);
      expect(aei.outputs).toHaveLength(1 + Math.log2(resolution));
      aei.dispose();
    }
  });

  it('back-propagates to every trainable weight of the encoder and the generator (non-zero, finite)', async () => {
    const config = resolveModelConfig(TINY);
    const aei = new AEINet(config, { seed: 2 });
    const [xt, zId] = tinyInputs(config);
    const target = seededInput([2, 32, 32, 3], 9);
    // L_rec-like plus an L_att-like term through the encoder applied to Ŷ, in training mode (batch statistics).
    const { missing, count } = await weightsWithoutGradient(aei, () =>
      tf.tidy(() => {
        const { swap, attributes } = aei.forward(xt, zId, { training: true });
        const again = aei.encoder.attributes(swap, { training: true });
        const att = tf.addN(attributes.map((a, k) => tf.mean(tf.squaredDifference(a, again[k]!))));
        return tf.add(tf.mean(tf.squaredDifference(swap, target)), att) as tf.Scalar;
      }),
    );
    expect(count).toBe(aei.trainableWeights.length);
    expect(missing).toEqual([]);
    tf.dispose([xt, zId, target]);
    aei.dispose();
  });

  it('saves and loads (in memory) with bit-identical outputs and the same weight names', async () => {
    const config = resolveModelConfig({ ...TINY, resolution: 64 });
    const aei = new AEINet(config, { seed: 3 });
    const { loaded, artifacts } = await saveAndLoad(aei);
    // model.save writes trainable weights first, then the BatchNorm statistics: compare as sets.
    expect(artifacts.weightSpecs!.map((s) => s.name).sort()).toEqual(namedWeights(aei).map((w) => w.name).sort());
    expect(loaded.getLayer('generator.AADBlk3').getClassName()).toBe('AADResBlk');
    const inputs = tinyInputs(config);
    const a = aei.predict(inputs) as tf.Tensor[];
    const b = loaded.predict(inputs) as tf.Tensor[];
    expect(a).toHaveLength(1 + 6);
    await expectBitIdentical(a, b);
    // The saved weights also load by name into a fresh AEINet (how a trainer resumes), encoder and generator included.
    const fresh = new AEINet(config, { fastInit: true });
    fresh.loadWeights(Object.fromEntries(namedWeights(loaded).map((w) => [w.name, w.variable.read()])));
    const c = fresh.predict(inputs) as tf.Tensor[];
    await expectBitIdentical(a, c);
    const zAtt = fresh.encoder.predict(inputs[0]) as tf.Tensor[];
    await expectBitIdentical(a.slice(1), zAtt);
    tf.dispose([...a, ...b, ...c, ...zAtt, ...inputs]);
    aei.dispose();
    loaded.dispose();
    fresh.dispose();
  });

  it('runs the encoder once per pass: BatchNorm statistics move as after one encoder call', async () => {
    const config = resolveModelConfig(TINY);
    const a = new AEINet(config, { seed: 6 });
    const b = new AEINet(config, { seed: 6 });
    const [xt, zId] = tinyInputs(config);
    const out = a.forward(xt, zId, { training: true });
    tf.dispose(b.encoder.attributes(xt, { training: true }));
    const stats = (m: AEINet): tf.Tensor[] => m.encoder.nonTrainableWeights.map((w) => w.read());
    await expectBitIdentical(stats(a), stats(b));
    tf.dispose([xt, zId, out.swap, ...out.attributes]);
    a.dispose();
    b.dispose();
  });

  it('is deterministic: the same seed gives identical weights, another seed different ones', async () => {
    const config = resolveModelConfig(TINY);
    const a = new AEINet(config, { seed: 7 });
    const b = new AEINet(config, { seed: 7 });
    const c = new AEINet(config, { seed: 8 });
    await expectBitIdentical(a.getWeights(), b.getWeights());
    const firstKernel = (m: AEINet): tf.Tensor => m.getWeights()[0]!;
    expect(tf.tidy(() => tf.any(tf.notEqual(firstKernel(a), firstKernel(c))).arraySync())).toBe(1);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('initialises as the reference: Xavier-normal convs, N(0, 0.001²) linears with zero bias', async () => {
    const aei = new AEINet(resolveModelConfig({ resolution: 64, widthMultiplier: 0.5, cId: 64 }), { seed: 4 });
    const byName = new Map(namedWeights(aei).map((w) => [w.name, w.variable]));
    const std = (name: string): number => tf.tidy(() => Math.sqrt(tf.moments(byName.get(name)!.read()).variance.arraySync() as number));
    // encoder.conv2.0: 4×4, 16 → 32 channels: σ = √(2 / (16·16 + 32·16)) = 0.0510.
    expect(std('encoder.conv2.0/kernel')).toBeCloseTo(Math.sqrt(2 / (16 * 16 + 32 * 16)), 2);
    expect(std('generator.AADBlk3/AAD1/fc1/kernel')).toBeCloseTo(0.001, 4);
    expect(tf.tidy(() => tf.max(tf.abs(byName.get('generator.AADBlk3/AAD1/fc1/bias')!.read())).arraySync())).toBe(0);
    aei.dispose();
  });

  for (const variant of [
    { name: "single-level attributes ('single')", config: { attributes: 'single' } },
    { name: 'IPGAN-style concatenation', config: { generator: { integration: 'concat' } } },
    { name: "no identity injection (mask 'none')", config: { aad: { mask: 'none' } } },
    { name: "constant mask, 3×3 γ/β, BatchNorm in AAD", config: { aad: { mask: 'constant', gammaBetaKernel: 3, norm: 'batch' } } },
  ] as const) {
    it(`runs the ablation variant: ${variant.name}`, async () => {
      const config = resolveModelConfig({ ...TINY, ...variant.config } as ModelConfigInput);
      const aei = new AEINet(config, { seed: 5 });
      const [xt, zId] = tinyInputs(config);
      const { swap, attributes } = aei.forward(xt, zId, { training: true });
      expect(swap.shape).toEqual([2, 32, 32, 3]);
      expect(attributes).toHaveLength(config.attributes === 'single' ? 1 : 5);
      if (config.attributes === 'single') {
        expect(attributes[0]!.shape).toEqual([2, 2, 2, aei.plan.down.at(-1)!.channels]);
        expect(aei.encoder.layers.some((l) => l.name.includes('deconv'))).toBe(false);
      }
      tf.dispose([xt, zId, swap, ...attributes]);
      aei.dispose();
    });
  }

  it("drops γ_id, β_id and the mask for mask 'none' (fewer parameters than the paper's AAD)", () => {
    const withId = new AEINet(resolveModelConfig(TINY), { fastInit: true });
    const withoutId = new AEINet(resolveModelConfig({ ...TINY, aad: { mask: 'none' } }), { fastInit: true });
    const names = namedWeights(withoutId.generator).map((w) => w.name);
    expect(names.some((n) => /\/(fc1|fc2|conv_h)\//.test(n))).toBe(false);
    expect(countTrainableParams(withoutId.generator)).toBeLessThan(countTrainableParams(withId.generator));
    withId.dispose();
    withoutId.dispose();
  });
});
