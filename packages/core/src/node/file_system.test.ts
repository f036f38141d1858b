import * as tf from '@tensorflow/tfjs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileSystem, registerFileSystemRouter } from './file_system.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fs-iohandler-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function tinyModel(seed: number): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3] });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', kernelInitializer: tf.initializers.glorotNormal({ seed }) }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization().apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.randomNormal({ seed: seed + 1 }) }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

describe('fileSystem IOHandler', () => {
  it('saves model.json + weights.bin and loads the model back with identical outputs', async () => {
    const model = tinyModel(1);
    const target = path.join(dir, 'g');
    await model.save(fileSystem(target));
    expect((await readdir(target)).sort()).toEqual(['.complete', 'model.json', 'weights.bin']);
    expect((await readdir(dir)).filter((n) => n.includes('.tmp-') || n.includes('.old-'))).toEqual([]);
    const json = JSON.parse(await readFile(path.join(target, 'model.json'), 'utf8'));
    expect(json.weightsManifest[0].paths).toEqual(['./weights.bin']);

    const loaded = await tf.loadLayersModel(fileSystem(target));
    const x = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 3);
    const a = model.predict(x) as tf.Tensor;
    const b = loaded.predict(x) as tf.Tensor;
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    // Loading through the model.json path works too.
    const again = await tf.loadLayersModel(fileSystem(path.join(target, 'model.json')));
    expect(again.countParams()).toBe(model.countParams());
    tf.dispose([x, a, b]);
    model.dispose();
    loaded.dispose();
    again.dispose();
  });

  it('replaces an existing save atomically, leaving no staging directories', async () => {
    const target = path.join(dir, 'replace');
    const first = tinyModel(5);
    const second = tinyModel(9);
    await first.save(fileSystem(target));
    await second.save(fileSystem(target));
    const loaded = await tf.loadLayersModel(fileSystem(target));
    const w2 = second.getWeights()[0]!.dataSync();
    expect(Array.from(loaded.getWeights()[0]!.dataSync())).toEqual(Array.from(w2));
    expect((await readdir(dir)).filter((n) => n.startsWith('replace.'))).toEqual([]);
    first.dispose();
    second.dispose();
    loaded.dispose();
  });

  it('refuses to replace a directory that holds other files', async () => {
    const target = path.join(dir, 'busy');
    await mkdir(target);
    await writeFile(path.join(target, 'notes.txt'), 'keep me');
    const model = tinyModel(2);
    await expect(model.save(fileSystem(target))).rejects.toThrow(/the directory holds other files \(notes\.txt\)/);
    expect(await readFile(path.join(target, 'notes.txt'), 'utf8')).toBe('keep me');
    model.dispose();
  });

  it('names the missing file on load', async () => {
    const target = path.join(dir, 'missing');
    await expect(tf.loadLayersModel(fileSystem(target))).rejects.toThrow(`${path.join(target, 'model.json')}: no such file`);
  });

  it('serves file:// URLs once registered (unless tfjs-node already does)', async () => {
    expect(registerFileSystemRouter()).toBe(true);
    expect(registerFileSystemRouter()).toBe(false);
    const model = tinyModel(4);
    const target = path.join(dir, 'url');
    await model.save(`file://${target}`);
    const loaded = await tf.loadLayersModel(`file://${target}`);
    expect(loaded.countParams()).toBe(model.countParams());
    model.dispose();
    loaded.dispose();
  });
});
