/**
 * Training-step figures: one full AEI step of configs/aei-tiny.yaml (64², width ¼, batch 4): the G step (forward,
 * identity embedding of Ŷ and its gradient, L_adv + L_att + L_id + L_rec, backward, Adam) and the D step (hinge,
 * backward, Adam). Batches come from a synthetic source, so image decoding (off the step's path in real runs) is
 * not in the figure. Reference point: PyTorch (OpenBLAS, 1 core) does the same step in about 170 ms.
 */
import { fileURLToPath } from 'node:url';
import { loadIdentityEncoder } from '@faceshifter/core';
import { AEITrainer, loadTrainConfig } from '@faceshifter/train';
import { SyntheticPairs } from '../packages/train/src/test_utils/synthetic.js';
import { medianAsyncMs, type TimingOptions } from './timing.js';

export async function benchAeiTinyTrainStep(timing: TimingOptions = { warmup: 2, runs: 5 }): Promise<number> {
  const config = loadTrainConfig(fileURLToPath(new URL('../configs/aei-tiny.yaml', import.meta.url)));
  const identity = await loadIdentityEncoder(config.identity.encoder);
  const trainer = new AEITrainer(config, identity, new SyntheticPairs(config.train.batchSize, config.model.resolution, 1, config.data.sameProbability));
  try {
    return Math.round(await medianAsyncMs(async () => void (await trainer.trainStep()), timing));
  } finally {
    trainer.dispose();
    identity.dispose();
  }
}
