import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectBitIdentical, saveAndLoad, seededInput } from '../test_utils/layers_round_trip.js';
import { AADResBlk } from './aad_resblk.js';

function blockModel(cIn: number, cOut: number, args: Partial<ConstructorParameters<typeof AADResBlk>[0]> = {}): { model: tf.LayersModel; block: AADResBlk } {
  const h = tf.input({ shape: [4, 4, cIn], name: 'h' });
  const att = tf.input({ shape: [4, 4, 6], name: 'z_att' });
  const id = tf.input({ shape: [16], name: 'z_id' });
  const block = new AADResBlk({ name: 'blk', cOut, seed: 5, ...args });
  const out = block.apply([h, att, id]) as tf.SymbolicTensor;
  return { model: tf.model({ inputs: [h, att, id], outputs: out }), block };
}

const inputs = (cIn: number): tf.Tensor[] => [seededInput([2, 4, 4, cIn], 1), seededInput([2, 4, 4, 6], 2), seededInput([2, 16], 3)];

describe('AADResBlk', () => {
  let before: number;
  beforeEach(() => {
    before = tf.memory().numTensors;
  });
  afterEach(() => {
    expect(tf.memory().numTensors).toBe(before);
  });

  it('has the learned shortcut (AAD3, conv3) only when C_in != C_out, with the reference weight names and order', () => {
    const same = blockModel(8, 8);
    expect(same.block.hasShortcut).toBe(false);
    expect(same.block.layers.map((l) => l.name)).toEqual(['AAD1', 'conv1', 'AAD2', 'conv2']);
    const diff = blockModel(8, 4);
    expect(diff.block.hasShortcut).toBe(true);
    const names = diff.block.weights.map((w) => `${w.originalName}:${w.shape.join('x')}`);
    expect(names.filter((n) => !n.includes('/AAD'))).toEqual(['blk/conv1/kernel:3x3x8x8', 'blk/conv2/kernel:3x3x8x4', 'blk/conv3/kernel:3x3x8x4']);
    expect(names.slice(0, 2)).toEqual(['blk/AAD1/conv1/kernel:1x1x6x8', 'blk/AAD1/conv1/bias:8']);
    expect(names[10]).toBe('blk/conv1/kernel:3x3x8x8');
    // Each AAD (C_h = C_in = 8, C_att = 6, c_id = 16): 2·(6·8 + 8) + 2·(16·8 + 8) + (8 + 1) = 393;
    // convs 3·3·8·8 + 2·(3·3·8·4) = 1152; no biases.
    expect(diff.block.countParams()).toBe(3 * 393 + 1152);
    same.model.dispose();
    diff.model.dispose();
  });

  it('adds the identity shortcut: with conv2 zeroed the block returns h exactly', async () => {
    const { model, block } = blockModel(8, 8);
    const conv2 = block.layers[3]!;
    const zeros = conv2.getWeights().map((w) => tf.zerosLike(w));
    conv2.setWeights(zeros);
    tf.dispose(zeros);
    const x = inputs(8);
    const out = model.predict(x) as tf.Tensor;
    await expectBitIdentical(out, x[0]!);
    tf.dispose([out, ...x]);
    model.dispose();
  });

  it('saves and loads inside a tf.model with bit-identical outputs (both integrations)', async () => {
    for (const integration of ['aad', 'concat'] as const) {
      const { model } = blockModel(8, 4, { integration, gammaBetaKernel: 3 });
      const { loaded, artifacts } = await saveAndLoad(model);
      expect(artifacts.weightSpecs!.length).toBe(model.weights.length);
      const x = inputs(8);
      const a = model.predict(x) as tf.Tensor;
      const b = loaded.predict(x) as tf.Tensor;
      expect(a.shape).toEqual([2, 4, 4, 4]);
      await expectBitIdentical(a, b);
      tf.dispose([a, b, ...x]);
      model.dispose();
      loaded.dispose();
    }
  });

  it('freezes all its sublayers when trainable is false', () => {
    const { model, block } = blockModel(8, 4);
    const total = block.weights.length;
    block.trainable = false;
    expect(block.trainableWeights).toHaveLength(0);
    expect(block.nonTrainableWeights).toHaveLength(total);
    block.trainable = true;
    expect(block.trainableWeights).toHaveLength(total);
    model.dispose();
  });

  it('derives every weight from its seed: same seed, same weights; another seed, other weights', async () => {
    const a = blockModel(8, 4);
    const b = blockModel(8, 4);
    const c = blockModel(8, 4, { seed: 6 });
    await expectBitIdentical(a.block.getWeights(), b.block.getWeights());
    const differs = tf.tidy(() => tf.any(tf.notEqual(a.block.getWeights()[0]!, c.block.getWeights()[0]!)).arraySync());
    expect(differs).toBe(1);
    [a, b, c].forEach((m) => m.model.dispose());
  });
});
