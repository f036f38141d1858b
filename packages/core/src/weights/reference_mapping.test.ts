import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveModelConfig, type ModelConfigInput } from '../config/model_config.js';
import { AEINet } from '../models/aei_net.js';
import { HEARNet } from '../models/hear_net.js';
import { MultiscaleDiscriminator } from '../models/multiscale_discriminator.js';
import { exportReferenceTensors, importReferenceTensors, referenceTensors, type NetworkName } from './reference_mapping.js';
import { concatChunks, encodeSafetensors, parseSafetensors, type SafetensorsTensor } from './safetensors.js';
import { referenceAEI, referenceDiscriminator, referenceHEAR, stateDict } from './test_utils/reference_forward.js';
import { expectSameBits, maxAbsDiff, randomizeWeights, weightValues } from './test_utils/weights_fixtures.js';

/** The reference's parameter list (a spec copied from the design folder: network, name, shape, kind). */
function referenceTsv(): { network: string; name: string; shape: string; kind: string }[] {
  const text = readFileSync(new URL('./reference/faceshifter_reference_parameters.tsv', import.meta.url), 'utf8');
  const rows = text.split('\n').filter((l) => l.trim() && !l.startsWith('#'));
  expect(rows[0]).toBe('network\tname\tshape\tkind');
  return rows.slice(1).map((l) => {
    const [network, name, shape, kind] = l.split('\t') as [string, string, string, string];
    return { network, name, shape, kind };
  });
}

function toFile(tensors: [string, SafetensorsTensor][], source = 'ref.safetensors') {
  return parseSafetensors(concatChunks(encodeSafetensors(tensors)), source);
}

describe('reference mapping at the paper preset', () => {
  const tsv = referenceTsv();
  let ours: { network: string; name: string; shape: string; kind: string }[];

  beforeAll(() => {
    // Zero-initialised (fastInit): the names and shapes are all this needs; ~1 GB, built once and disposed.
    const config = resolveModelConfig({ preset: 'paper' });
    const nets: [NetworkName, tf.LayersModel][] = [
      ['aei', new AEINet(config, { fastInit: true })],
      ['hearnet', new HEARNet(config, { fastInit: true })],
      ['discriminator', new MultiscaleDiscriminator(config, { fastInit: true })],
    ];
    ours = nets.flatMap(([network, model]) =>
      referenceTensors(network, model).map((t) => ({ network, name: t.name, shape: t.shape.length ? t.shape.join('x') : 'scalar', kind: t.role })),
    );
    for (const [, model] of nets) model.dispose();
  });

  it('lists exactly the reference parameters and buffers, names, shapes and order', () => {
    expect(tsv.length).toBe(424);
    expect(ours.length).toBe(tsv.length);
    const diff = ours.map((r, i) => [r, tsv[i]!]).filter(([a, b]) => JSON.stringify(a) !== JSON.stringify(b));
    expect(diff.slice(0, 5)).toEqual([]);
  });
});

/** Small configs covering the architecture switches; the mapping must be systematic across all of them. */
const CONFIGS: [string, ModelConfigInput][] = [
  ['tiny', { preset: 'tiny' }],
  ['tiny, 32 px, BatchNorm D and AAD, no mask, single-level attributes', {
    preset: 'tiny',
    resolution: 32,
    attributes: 'single',
    aad: { norm: 'batch', mask: 'none' },
    discriminator: { norm: 'batch', numD: 3, nLayers: 2 },
  }],
  ['tiny, concat integration, 3×3 γ/β', { preset: 'tiny', resolution: 32, generator: { integration: 'concat' }, aad: { gammaBetaKernel: 3 } }],
];

describe.each(CONFIGS)('reference export → import round trip (%s)', (_, input) => {
  const config = resolveModelConfig(input);
  const R = config.resolution;

  it('reproduces AEI-Net, HEAR-Net and D outputs bit for bit', async () => {
    const before = tf.memory().numTensors;
    const xt = tf.randomUniform([2, R, R, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
    const zId = tf.randomNormal([2, config.cId], 0, 1, 'float32', 2) as tf.Tensor2D;
    const error = tf.randomUniform([2, R, R, 3], -0.2, 0.2, 'float32', 3);
    const pairs: [NetworkName, tf.LayersModel, tf.LayersModel][] = [];
    const aeiA = new AEINet(config, { seed: 1 });
    const aeiB = new AEINet(config, { seed: 2 });
    pairs.push(['aei', aeiA, aeiB]);
    const hearA = new HEARNet(config, { seed: 1 });
    const hearB = new HEARNet(config, { seed: 2 });
    pairs.push(['hearnet', hearA, hearB]);
    const dA = new MultiscaleDiscriminator(config, { seed: 1 });
    const dB = new MultiscaleDiscriminator(config, { seed: 2 });
    pairs.push(['discriminator', dA, dB]);

    for (const [network, a, b] of pairs) {
      randomizeWeights(a, 7);
      const tensors = await exportReferenceTensors(network, a);
      const names = tensors.map(([n]) => n);
      expect(new Set(names).size).toBe(names.length);
      if (network !== 'aei') expect(names.every((n) => !n.startsWith(`${a.name}.`))).toBe(true);
      importReferenceTensors(network, b, toFile(tensors));
      const wa = weightValues(a);
      const wb = weightValues(b);
      for (const [name, v] of wa) expect(Buffer.from(wb.get(name)!.buffer).equals(Buffer.from(v.buffer)), name).toBe(true);
    }
    const run = (aei: tf.LayersModel, hear: tf.LayersModel, d: tf.LayersModel): tf.Tensor[] => [
      ...(aei.predict([xt, zId]) as tf.Tensor[]),
      hear.predict([xt, error]) as tf.Tensor,
      ...[d.predict(xt) as tf.Tensor | tf.Tensor[]].flat(),
    ];
    const outA = run(aeiA, hearA, dA);
    const outB = run(aeiB, hearB, dB);
    expectSameBits(outB, outA);
    tf.dispose([...outA, ...outB, xt, zId, error]);
    for (const [, a, b] of pairs) {
      a.dispose();
      b.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('exported weights compute the reference function (PyTorch semantics, tiny config)', () => {
  const config = resolveModelConfig({ preset: 'tiny', discriminator: { numD: 3, nLayers: 3 } });
  const R = config.resolution;
  let xt: tf.Tensor4D;
  beforeAll(() => {
    xt = tf.randomUniform([2, R, R, 3], -1, 1, 'float32', 11) as tf.Tensor4D;
  });
  afterAll(() => xt.dispose());

  it('AEI-Net: Ŷ and every z_att^k', async () => {
    const aei = new AEINet(config, { seed: 3 });
    randomizeWeights(aei, 5);
    const zId = tf.randomNormal([2, config.cId], 0, 1, 'float32', 12) as tf.Tensor2D;
    const sd = stateDict(toFile((await exportReferenceTensors('aei', aei))));
    const expected = referenceAEI(sd, xt, zId);
    const got = aei.predict([xt, zId]) as tf.Tensor[];
    expect(got.length).toBe(expected.length);
    got.forEach((g, i) => expect(maxAbsDiff(g, expected[i]!), `output ${i}`).toBeLessThan(1e-4));
    // The swap is not trivially saturated: the check above compares real values.
    expect(tf.tidy(() => tf.moments(got[0]!).variance.dataSync()[0]!)).toBeGreaterThan(1e-3);
    tf.dispose([...got, ...expected, ...sd.values(), zId]);
    aei.dispose();
  });

  it('HEAR-Net (skip ‖ up, as the reference concatenates)', async () => {
    const hear = new HEARNet(config, { seed: 3 });
    randomizeWeights(hear, 6);
    const error = tf.randomUniform([2, R, R, 3], -0.2, 0.2, 'float32', 13) as tf.Tensor4D;
    const sd = stateDict(toFile((await exportReferenceTensors('hearnet', hear))));
    const expected = referenceHEAR(sd, xt, error);
    const got = hear.predict([xt, error]) as tf.Tensor;
    expect(maxAbsDiff(got, expected)).toBeLessThan(1e-4);
    tf.dispose([got, expected, ...sd.values(), error]);
    hear.dispose();
  });

  it('multi-scale discriminator, each reference layer{i} on its own scale', async () => {
    const d = new MultiscaleDiscriminator(config, { seed: 3 });
    randomizeWeights(d, 8);
    const sd = stateDict(toFile((await exportReferenceTensors('discriminator', d))));
    const expected = referenceDiscriminator(sd, xt, 3, 3);
    const got = d.predict(xt) as tf.Tensor[];
    expect(got.length).toBe(3);
    got.forEach((g, i) => expect(maxAbsDiff(g, expected[i]!), `scale ${i}`).toBeLessThan(1e-4));
    tf.dispose([...got, ...expected, ...sd.values()]);
    d.dispose();
  });
});

describe('import errors', () => {
  const tiny = resolveModelConfig({ preset: 'tiny' });

  it('a wrong shape names the tensor, both shapes and the layout, and changes nothing', async () => {
    const wide = new AEINet(resolveModelConfig({ preset: 'tiny', widthMultiplier: 0.5 }), { seed: 1 });
    const narrow = new AEINet(tiny, { seed: 2 });
    const before = weightValues(narrow);
    const file = toFile((await exportReferenceTensors('aei', wide)), 'wide.safetensors');
    expect(() => importReferenceTensors('aei', narrow, file)).toThrow(
      /^wide\.safetensors: encoder\.conv1\.0\.weight: expected \[8,3,4,4\] \(PyTorch OIHW\), got \[16,3,4,4\]; was the file made for another model config\?/,
    );
    for (const [name, v] of weightValues(narrow)) expect(Buffer.from(v.buffer).equals(Buffer.from(before.get(name)!.buffer)), name).toBe(true);
    wide.dispose();
    narrow.dispose();
  });

  it('a wrong shape deep in the generator names that tensor', async () => {
    const a = new AEINet(tiny, { seed: 1 });
    const tensors = (await exportReferenceTensors('aei', a)).map(([n, t]): [string, SafetensorsTensor] =>
      n === 'generator.AADBlk3.AAD1.conv1.weight' ? [n, { dtype: 'F32', shape: [t.shape[0]! / 2, ...t.shape.slice(1)], data: (t.data as Float32Array).slice(0, t.data.length / 2) }] : [n, t],
    );
    const [c0, c1] = tensors.find(([n]) => n === 'generator.AADBlk3.AAD1.conv1.weight')![1].shape;
    expect(() => importReferenceTensors('aei', a, toFile(tensors, 'g.safetensors'))).toThrow(
      `g.safetensors: generator.AADBlk3.AAD1.conv1.weight: expected [${c0! * 2},${c1},1,1] (PyTorch OIHW), got [${c0},${c1},1,1]`,
    );
    a.dispose();
  });

  it('missing and unexpected tensors are listed with counts', async () => {
    const hear = new HEARNet(tiny, { seed: 1 });
    const tensors = (await exportReferenceTensors('hearnet', hear))
      .filter(([n]) => !n.startsWith('up4.'))
      .map(([n, t]): [string, SafetensorsTensor] => [n === 'up5.weight' ? 'up5.kernel' : n, t]);
    expect(() => importReferenceTensors('hearnet', hear, toFile(tensors, 'h.safetensors'))).toThrow(
      'h.safetensors: missing 7 tensor(s) the hearnet network (PyTorch reference layout) needs: up4.0.weight, up4.0.bias, up4.1.weight, up4.1.bias, up4.1.running_mean (+2 more); 1 unexpected tensor(s): up5.kernel; was the file made for another model config?',
    );
    hear.dispose();
  });

  it('num_batches_tracked is optional on import and written as an I64 scalar on export', async () => {
    const hear = new HEARNet(tiny, { seed: 1 });
    const tensors = await exportReferenceTensors('hearnet', hear, { numBatchesTracked: 42 });
    const counter = tensors.find(([n]) => n === 'down1.1.num_batches_tracked')![1];
    expect(counter).toEqual({ dtype: 'I64', shape: [], data: new BigInt64Array([42n]) });
    const without = tensors.filter(([n]) => !n.endsWith('num_batches_tracked'));
    expect(() => importReferenceTensors('hearnet', hear, toFile(without))).not.toThrow();
    hear.dispose();
  });

  it('accepts F16 weights (converted to float32)', async () => {
    const d = new MultiscaleDiscriminator(tiny, { seed: 1 });
    const tensors = (await exportReferenceTensors('discriminator', d)).map(([n, t]): [string, SafetensorsTensor] => {
      const ones = new Uint16Array(t.data.length).fill(0x3c00); // 1.0 in half precision
      return [n, { dtype: 'F16', shape: t.shape, data: ones }];
    });
    importReferenceTensors('discriminator', d, toFile(tensors));
    for (const v of weightValues(d).values()) expect(v.every((x) => x === 1)).toBe(true);
    d.dispose();
  });
});

