import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { applyOverrides, resolveTrainConfig } from '../config/train_config.js';
import { projectionIdentity, SyntheticPairs } from '../test_utils/synthetic.js';
import { AEITrainer } from './aei_trainer.js';
import { runTrainingLoop } from './training_loop.js';

const config = resolveTrainConfig(
  applyOverrides(
    { name: 'unit', seed: 3, model: { preset: 'tiny' }, data: { root: 'unused' }, train: { steps: 4, batchSize: 2 } },
    ['model.resolution=32', 'model.widthMultiplier=0.0625', 'model.discriminator.baseChannels=8', 'model.discriminator.nLayers=2'],
  ),
);
const makeTrainer = (): AEITrainer => new AEITrainer(config, projectionIdentity(128), new SyntheticPairs(2, 32, 11));
const quiet = new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('AEITrainer', () => {
  it('runs G and D steps with finite losses, and does not leak tensors across steps', async () => {
    const trainer = makeTrainer();
    const first = await trainer.trainStep();
    for (const tag of ['loss/adv_g', 'loss/adv_d', 'loss/id', 'loss/att', 'loss/rec', 'loss/g_total']) expect(Number.isFinite(first[tag])).toBe(true);
    await trainer.trainStep();
    const live = tf.memory().numTensors;
    await trainer.trainStep();
    await trainer.trainStep();
    expect(tf.memory().numTensors).toBe(live);
    const grid = await trainer.sampleGrid();
    expect([grid.width, grid.height]).toEqual([3 * 32 + 4, 2 * 32 + 2]);
    trainer.dispose();
  });

  it('an interrupted and resumed run reproduces the losses of an uninterrupted one exactly', async () => {
    const run = async (stops: number[]): Promise<string[]> => {
      const runDir = mkdtempSync(join(tmpdir(), 'aei-'));
      dirs.push(runDir);
      let resume = false;
      for (const stopAfter of stops) {
        const trainer = makeTrainer();
        await runTrainingLoop(trainer, { runDir, steps: 4, logEvery: 1, sampleEvery: 100, checkpointEvery: 100, keepLast: 2, monitor: 'loss/g_total', resume, stopAfter, progressStream: quiet });
        trainer.dispose();
        resume = true;
      }
      return readFileSync(join(runDir, 'metrics.csv'), 'utf8').trim().split('\n').map((r) => r.split(',').slice(0, 7).join(','));
    };
    const straight = await run([4]);
    const resumed = await run([2, 2]);
    expect(straight).toHaveLength(5);
    expect(resumed).toEqual(straight);
  });
});
