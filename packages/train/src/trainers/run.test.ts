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
      `data.root=${join(root, 'datasets/embedded')}`,
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
  });
});
