import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { train } from './run.js';

const root = join(import.meta.dirname, '../../../..');
const out = mkdtempSync(join(tmpdir(), 'train-run-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
const quiet = new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream;

describe('train (yarn train)', () => {
  it('runs the embedded default end to end on real faces, writes a run directory, and frees every tensor', async () => {
    const overrides = [
      'train.steps=1', 'train.batchSize=1', 'model.resolution=32', 'model.widthMultiplier=0.0625',
      `data.root=${join(root, 'datasets/embedded')}`, 'identity.encoder=face-api-recognition',
    ];
    const before = tf.memory().numTensors;
    const { runDir, result } = await train({ config: join(root, 'configs/aei-tiny.yaml'), overrides, out, progressStream: quiet });
    expect(tf.memory().numTensors).toBe(before);
    expect(result).toMatchObject({ outcome: 'completed', step: 1 });
    for (const f of ['config.yaml', 'metrics.csv', 'checkpoints/step-00000001/meta.json', 'samples/step-00000001.png']) {
      expect(existsSync(join(runDir, f)), f).toBe(true);
    }
    await expect(train({ config: join(root, 'configs/aei-tiny.yaml'), overrides, out, progressStream: quiet })).rejects.toThrow(
      /already holds a run; continue it with --resume/,
    );
    // HEAR-Net on top of it must use the z_id AEI-Net was trained on: another encoder is refused, naming both.
    const hear = ['train.steps=1', 'train.batchSize=1', `data.root=${join(root, 'datasets/embedded')}`, `hear.aeiCheckpoint=${runDir}`];
    await expect(
      train({ config: join(root, 'configs/hear-tiny.yaml'), overrides: [...hear, 'identity.encoder=face-api-recognition-centred'], out, progressStream: quiet }),
    ).rejects.toThrow(/identity\.encoder: is 'face-api-recognition-centred' but the AEI-Net run .* was trained with 'face-api-recognition'.*set identity\.encoder: face-api-recognition/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('trains with a seeded random IR-SE at small width through identity.weights (a .pth read as torch.save wrote it)', async () => {
    const weights = join(root, 'packages/core/src/identity/test_fixtures/ir_se_small.pth');
    const overrides = [
      'name=arcface-tiny', 'train.steps=1', 'train.batchSize=1', 'train.logEvery=1', 'model.resolution=32', 'model.widthMultiplier=0.0625', 'model.cId=32',
      `data.root=${join(root, 'datasets/embedded')}`, 'identity.encoder=arcface-ir-se', `identity.weights=${weights}`,
    ];
    const before = tf.memory().numTensors;
    const { runDir, result } = await train({ config: join(root, 'configs/aei-tiny.yaml'), overrides, out, progressStream: quiet });
    expect(result).toMatchObject({ outcome: 'completed', step: 1 });
    expect(tf.memory().numTensors).toBe(before);
    const csv = readFileSync(join(runDir, 'metrics.csv'), 'utf8').trim().split('\n');
    const header = csv[0]!.split(',');
    const id = header.indexOf('loss/id');
    expect(id).toBeGreaterThan(0);
    for (const line of csv.slice(1)) {
      const v = Number(line.split(',')[id]);
      expect(v).toBeGreaterThan(0); // 1 − cos of two different 32-d embeddings
      expect(v).toBeLessThan(2);
    }
    // The run's config.yaml records the weights, so swap, eval and HEAR-Net load the same z_id network.
    expect(readFileSync(join(runDir, 'config.yaml'), 'utf8')).toContain(`weights: ${weights}`);
    // A missing weights file or a wrong c_id fails before anything is written.
    const missing = [...overrides.filter((o) => !o.startsWith('identity.weights') && !o.startsWith('name=')), 'name=arcface-missing', 'identity.weights=/no/model_ir_se50.pth'];
    await expect(train({ config: join(root, 'configs/aei-tiny.yaml'), overrides: missing, out, progressStream: quiet })).rejects.toThrow(
      /identity\.weights: \/no\/model_ir_se50\.pth: no such file \(weights of identity encoder arcface-ir-se\)/,
    );
    const wrongDim = [...overrides.filter((o) => !o.startsWith('model.cId') && !o.startsWith('name=')), 'name=arcface-dim', 'model.cId=512'];
    await expect(train({ config: join(root, 'configs/aei-tiny.yaml'), overrides: wrongDim, out, progressStream: quiet })).rejects.toThrow(
      /model\.cId: is 512 but identity encoder arcface-ir-se .* gives 32-d embeddings; set model\.cId: 32/,
    );
    expect(existsSync(join(out, 'arcface-missing'))).toBe(false);
    expect(existsSync(join(out, 'arcface-dim'))).toBe(false);
    expect(tf.memory().numTensors).toBe(before);
  });
});
