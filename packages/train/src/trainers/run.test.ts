import { existsSync, mkdtempSync, rmSync } from 'node:fs';
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
});
