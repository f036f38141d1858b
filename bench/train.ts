/**
 * Training-step figures: one full AEI step of configs/aei-tiny.yaml (64², width ¼, batch 4): the G step (forward,
 * identity embedding of Ŷ and its gradient, L_adv + L_att + L_id + L_rec, backward, Adam) and the D step (hinge,
 * backward, Adam). Batches come from a synthetic source, so image decoding (off the step's path in real runs) is
 * not in the figure. Reference point: PyTorch (OpenBLAS, 1 core) does the same step in about 170 ms.
 * {@link benchAei256TrainStep} is the same step at the paper preset (configs/aei.yaml: 256², batch 2), the job a GPU
 * is for.
 */
import { fileURLToPath } from 'node:url';
import { loadIdentityEncoder } from '@faceshifter/core/node';
import { AEITrainer, loadTrainConfig } from '@faceshifter/train';
import { SyntheticPairs } from '../packages/train/src/test_utils/synthetic.js';
import { medianAsyncMs, type TimingOptions } from './timing.js';

export async function benchAeiTinyTrainStep(timing: TimingOptions = { warmup: 2, runs: 5 }): Promise<number> {
  return benchTrainStep('aei-tiny.yaml', undefined, timing);
}

/** One AEI step of the paper preset (configs/aei.yaml, 256²) at batch 2: G + D + identity. */
export async function benchAei256TrainStep(timing: TimingOptions = { warmup: 1, runs: 3 }): Promise<number> {
  return benchTrainStep('aei.yaml', 2, timing);
}

async function benchTrainStep(file: string, batchSize: number | undefined, timing: TimingOptions): Promise<number> {
  const loaded = loadTrainConfig(fileURLToPath(new URL(`../configs/${file}`, import.meta.url)));
  const config = batchSize === undefined ? loaded : { ...loaded, train: { ...loaded.train, batchSize } };
  const identity = await loadIdentityEncoder(config.identity.encoder);
  const trainer = new AEITrainer(config, identity, new SyntheticPairs(config.train.batchSize, config.model.resolution, 1, config.data.sameProbability));
  try {
    return Math.round(await medianAsyncMs(async () => void (await trainer.trainStep()), timing));
  } finally {
    trainer.dispose();
    identity.dispose();
  }
}
