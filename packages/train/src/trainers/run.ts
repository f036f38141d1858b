import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { checkpointFaceInput, ConfigError, decodePng, describeFaceInput, loadCheckpointNetworks, loadIdentityEncoder, writeFileAtomic, type AEINet, type IdentityEncoder, type RawImage } from '@faceshifter/core/node';
import { loadTrainConfig, trainedIdentityEncoder, type TrainConfig } from '../config/train_config.js';
import { FacePairLoader } from '../data/loader.js';
import { OcclusionAugmenter } from '../data/occlusion.js';
import { datasetAlignment } from '../data/prepare.js';
import { AEITrainer } from './aei_trainer.js';
import { HEARTrainer } from './hear_trainer.js';
import { acquireRunLock } from './run_lock.js';
import { findCheckpoint, runTrainingLoop, type TrainingResult, type TrainingTask } from './training_loop.js';

export const RESOLVED_CONFIG = 'config.yaml';

export interface TrainRunOptions {
  /** A config file; with `resume` it defaults to the run's own resolved config.yaml. */
  config?: string;
  /** `--set key=value` overrides, applied on top of the config file. */
  overrides?: readonly string[];
  /** Parent folder of run directories (a run is `<out>/<name>`). */
  out?: string;
  /** An existing run directory to continue. */
  resume?: string;
  progressStream?: NodeJS.WriteStream;
}

/** `yarn train`: resolves the config and the run directory, builds the trainer, runs the loop. */
export async function train(options: TrainRunOptions): Promise<{ config: TrainConfig; runDir: string; result: TrainingResult }> {
  const configFile = options.config ?? (options.resume ? path.join(options.resume, RESOLVED_CONFIG) : undefined);
  if (!configFile) throw new Error('Missing --config <yaml> (e.g. --config configs/aei-tiny.yaml), or --resume <run dir>.');
  if (!existsSync(configFile)) throw new Error(`Config file ${configFile} does not exist${options.resume ? '; is this a run directory made by `yarn train`?' : '.'}`);
  const config = loadTrainConfig(configFile, options.overrides ?? []);
  // The run's config.yaml is read later from other folders (swap, eval, HEAR-Net): keep the weights path absolute.
  if (config.identity.weights !== undefined) config.identity.weights = path.resolve(config.identity.weights);
  const runDir = options.resume ?? path.join(options.out ?? 'runs', config.name);
  // The outermost folder this call creates (the run directory, or an --out folder above it): removed again if
  // the run fails before training, so that a bad input leaves nothing behind.
  const created = outermostMissing(runDir);
  await fs.mkdir(runDir, { recursive: true });
  // Held from before anything is written into the run until the last checkpoint: one writer per run directory.
  const lock = await acquireRunLock(runDir, { command: options.resume ? `yarn train --resume ${runDir}` : `yarn train --config ${configFile}` });
  try {
    if (!options.resume && existsSync(path.join(runDir, 'checkpoints'))) {
      throw new Error(`Run directory ${runDir} already holds a run; continue it with --resume ${runDir}, or pick another --out or --set name=<new name>.`);
    }
    let identity: IdentityEncoder | undefined;
    let task: TrainingTask & { dispose(): void };
    try {
      // The identity encoder first: a missing or wrong weights file fails before the data is opened.
      identity = await loadIdentityEncoder(config.identity.encoder, { weights: config.identity.weights, input: config.faces.align }).catch((e: unknown) => {
        if (config.identity.weights !== undefined && e instanceof Error && !(e instanceof ConfigError)) throw new ConfigError('identity.weights', e.message);
        throw e;
      });
      if (identity.dim !== config.model.cId) {
        throw new ConfigError('model.cId', `is ${config.model.cId} but identity encoder ${config.identity.encoder} (${config.identity.weights}) gives ${identity.dim}-d embeddings; set model.cId: ${identity.dim}`);
      }
      task = await createTask(config, identity);
    } catch (e) {
      identity?.dispose();
      // Nothing trained yet: a new run directory goes again, so that a fixed config can start under the same name.
      if (created) {
        await lock.release();
        await fs.rm(created, { recursive: true, force: true });
      }
      throw e;
    }
    try {
      // Only now, when the config has proved usable: a --resume with a bad --set leaves the run's config.yaml as it was.
      await writeFileAtomic(path.join(runDir, RESOLVED_CONFIG), stringifyYaml(config));
      const result = await runTrainingLoop(task, {
        runDir,
        steps: config.train.steps,
        logEvery: config.train.logEvery,
        sampleEvery: config.train.sampleEvery,
        checkpointEvery: config.train.checkpointEvery,
        keepLast: config.train.keepLast,
        monitor: config.train.monitor,
        resume: options.resume !== undefined,
        label: config.name,
        progressStream: options.progressStream,
        // The resolved config as a TensorBoard text, so a run's settings sit beside its curves.
        texts: { config: '```yaml\n' + stringifyYaml(config) + '```' },
      });
      return { config, runDir, result };
    } finally {
      task.dispose();
      identity.dispose();
    }
  } finally {
    await lock.release();
  }
}

function outermostMissing(dir: string): string | null {
  let missing: string | null = null;
  for (let d = path.resolve(dir); !existsSync(d); d = path.dirname(d)) missing = d;
  return missing;
}

/** The trainer of the config's stage; it owns everything it is given but the identity encoder. */
async function createTask(config: TrainConfig, identity: IdentityEncoder): Promise<TrainingTask & { dispose(): void }> {
  const loader = await FacePairLoader.open({
    source: config.data.root,
    batchSize: config.train.batchSize,
    resolution: config.model.resolution,
    sameProbability: config.data.sameProbability,
    seed: config.seed,
    jitter: config.data.colorJitter,
    flip: config.data.flip,
    prefetch: config.data.prefetch,
    maxSkipFraction: config.data.maxSkipFraction,
    checkFiles: config.data.checkFiles,
    channels: config.faces.channels,
  });
  const prepared = await datasetAlignment(config.data.root);
  if (prepared !== null && prepared !== config.faces.align) {
    process.stderr.write(`[train] warning: ${config.data.root} was prepared with --align ${prepared} but faces.align is ${config.faces.align}; the checkpoints will record ${config.faces.align} (set faces.align: ${prepared}, or prepare the data again)\n`);
  }
  if (config.stage === 'aei') return new AEITrainer(config, identity, loader);
  const hear = config.hear!;
  const checkpoint = await findCheckpoint(hear.aeiCheckpoint);
  // AEI-Net only swaps correctly with the z_id it was trained on; a different encoder would train HEAR-Net on garbage.
  const trained = trainedIdentityEncoder(hear.aeiCheckpoint, checkpoint);
  if (trained.from && trained.name !== config.identity.encoder) {
    throw new ConfigError('identity.encoder', `is '${config.identity.encoder}' but the AEI-Net run ${hear.aeiCheckpoint} was trained with '${trained.name}' (${trained.from}); set identity.encoder: ${trained.name}`);
  }
  const resolved = (p: string | undefined): string | undefined => (p === undefined ? undefined : path.resolve(p));
  if (trained.from && resolved(trained.weights) !== resolved(config.identity.weights)) {
    throw new ConfigError('identity.weights', `is ${config.identity.weights ?? 'unset'} but the AEI-Net run ${hear.aeiCheckpoint} was trained with ${trained.weights ?? 'no weights file'} (${trained.from}); use the same file`);
  }
  const { networks, meta } = await loadCheckpointNetworks(checkpoint, { only: ['aei'] });
  const aeiFaces = checkpointFaceInput(meta);
  if (aeiFaces.align !== config.faces.align || aeiFaces.channels !== config.faces.channels) {
    networks.aei?.dispose();
    throw new ConfigError('faces', `is ${describeFaceInput(config.faces)} but the AEI-Net ${checkpoint} was trained on ${describeFaceInput(aeiFaces)}; set faces.align: ${aeiFaces.align} and faces.channels: ${aeiFaces.channels}`);
  }
  const occluders = hear.occluders ? await readOccluders(hear.occluders) : [];
  return new HEARTrainer(config, networks.aei as AEINet, identity, loader, new OcclusionAugmenter(config.seed, { userOccluders: occluders }));
}

/** The RGBA PNG cut-outs of an occluder folder (e.g. EgoHands hands). */
async function readOccluders(dir: string): Promise<RawImage[]> {
  const names = (await fs.readdir(dir).catch(() => {
    throw new Error(`hear.occluders: folder ${dir} does not exist; point it at a folder of RGBA PNG cut-outs or remove the key.`);
  })).filter((n) => n.toLowerCase().endsWith('.png')).sort();
  if (names.length === 0) throw new Error(`hear.occluders: ${dir} has no .png files; it needs RGBA PNG cut-outs.`);
  return Promise.all(names.map(async (n) => {
    const img = decodePng(await fs.readFile(path.join(dir, n)), path.join(dir, n));
    if (img.channels !== 4) throw new Error(`hear.occluders: ${path.join(dir, n)} has no alpha channel; occluders must be RGBA PNG cut-outs.`);
    return img;
  }));
}

