/**
 * `yarn hear-select --checkpoint <aei run> --dataset <dir> [--top 0.1] [--out manifest.csv]`: writes the manifest
 * of the images with the highest heuristic error mean|X − AEI(X, X)|, HEAR-Net's training set.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BACKEND_CHOICES, THREADS_OPTION, checkpointFaceInput, IDENTITY_ENCODERS, loadCheckpointNetworks, loadIdentityEncoder, runCli, usageFailure, selectBackend, type AEINet, type BackendRequest } from '@faceshifter/core/node';
import { selectHearImages } from '../data/hear_select.js';
import { existsSync, promises as fs, rmSync } from 'node:fs';
import * as path from 'node:path';
import { acquireRunLock } from '../trainers/run_lock.js';
import { findCheckpoint } from '../trainers/training_loop.js';
import { trainedIdentityEncoder } from '../config/train_config.js';

runCli(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn hear-select')
    .usage('$0 --checkpoint <aei run> --dataset <dir> [--top 0.1]\n\nRanks a dataset by AEI-Net\'s heuristic error and writes a manifest of the top fraction, for HEAR-Net training.')
    .option('checkpoint', { type: 'string', demandOption: true, describe: 'AEI-Net run directory or checkpoint' })
    .option('dataset', { type: 'string', demandOption: true, describe: 'prepared dataset (manifest.csv) to rank' })
    .option('top', { type: 'number', default: 0.1, describe: 'fraction to keep, highest error first' })
    .option('out', { type: 'string', describe: 'manifest to write (default <dataset>/manifest-hear.csv)' })
    .option('identity', { choices: IDENTITY_ENCODERS, describe: "identity encoder AEI-Net was trained with (default: the run's config.yaml, else face-api-recognition-centred)" })
    .option('identity-weights', { type: 'string', describe: "weights (.pth/safetensors) of an InsightFace --identity encoder (default: the run's identity.weights)" })
    .option('batch-size', { type: 'number', default: 8 })
    .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendRequest, describe: 'tfjs backend' })
    .option('threads', THREADS_OPTION)
    .strict()
    .fail(usageFailure)
    .parse();
  if (!existsSync(argv.dataset)) throw new Error(`Dataset ${argv.dataset} does not exist; build one with \`yarn prepare-data --input <photos> --output ${argv.dataset}\`.`);
  // The manifest's folder has one writer at a time (two rankings into one manifest would interleave). A folder made
  // for it goes again if the command fails, so that a bad input leaves nothing behind.
  const outDir = path.dirname(path.resolve(argv.out ?? path.join(argv.dataset, 'manifest-hear.csv')));
  let created: string | null = null;
  for (let d = outDir; !existsSync(d); d = path.dirname(d)) created = d;
  await fs.mkdir(outDir, { recursive: true });
  const lock = await acquireRunLock(outDir, { command: `yarn hear-select --dataset ${argv.dataset}` });
  process.once('exit', (code) => {
    if (code !== 0 && created) rmSync(created, { recursive: true, force: true });
  });
  await selectBackend(argv.backend, { threads: argv.threads });
  const checkpoint = await findCheckpoint(argv.checkpoint);
  const { networks, dispose, meta } = await loadCheckpointNetworks(checkpoint, { only: ['aei'] });
  const faces = checkpointFaceInput(meta);
  const trained = trainedIdentityEncoder(argv.checkpoint, checkpoint);
  const identity = await loadIdentityEncoder(argv.identity ?? trained.name, {
    weights: argv.identityWeights ?? (argv.identity ? undefined : trained.weights),
    weightsOption: "--identity-weights <file> (or identity.weights in the run's config.yaml)",
    input: faces.align,
  });
  try {
    const r = await selectHearImages(networks.aei as AEINet, identity, { dataset: argv.dataset, top: argv.top, out: argv.out, batchSize: argv.batchSize, channels: faces.channels });
    process.stdout.write(`kept ${r.kept} of ${r.total} images (heuristic error ${r.ranked[r.kept - 1]!.error.toFixed(4)} and above); manifest: ${r.out}\n`);
  } finally {
    dispose();
    identity.dispose();
    await lock.release();
  }
});
