import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { AEINet, HEARNet, resolveModelConfig, saveCheckpoint } from '@faceshifter/core/node';
import { REPO_ROOT } from './harness.js';

/** Checkpoints, relative to the runs folder {@link makeTinyRuns} fills. */
export const AEI_CHECKPOINT = 'aei-tiny/checkpoints/step-00000001';
export const HEAR_CHECKPOINT = 'hear-tiny/checkpoints/step-00000001';

/**
 * Two runs as `yarn train` lays them out, with randomly initialised (seeded) tiny networks at 64 px: an AEI-Net run
 * whose config.yaml (configs/aei-tiny.yaml) names the identity encoder, and a HEAR-Net run. For the plumbing, not
 * for the quality of a swap.
 */
export async function makeTinyRuns(runs: string): Promise<void> {
  const config = resolveModelConfig({ preset: 'tiny', resolution: 64 });
  await mkdir(path.join(runs, 'aei-tiny'), { recursive: true });
  await copyFile(path.join(REPO_ROOT, 'configs', 'aei-tiny.yaml'), path.join(runs, 'aei-tiny', 'config.yaml'));
  const aei = new AEINet(config, { seed: 1 });
  const hear = new HEARNet(config, { seed: 2 });
  try {
    await saveCheckpoint(path.join(runs, AEI_CHECKPOINT), { config, networks: { aei }, step: 1 });
    await saveCheckpoint(path.join(runs, HEAR_CHECKPOINT), { config, networks: { hearnet: hear }, step: 1 });
  } finally {
    aei.dispose();
    hear.dispose();
  }
}
