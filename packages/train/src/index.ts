/**
 * @faceshifter/train: FaceShifter's losses, the AEI-Net and HEAR-Net trainers, and their logging.
 * This file is the package's whole public API.
 */

// Losses (faceshifter.md §9), one file each, usable on their own.
export { hingeGeneratorLoss, hingeDiscriminatorLoss } from './losses/adversarial.js';
export { identityLoss } from './losses/identity.js';
export { attributeLoss } from './losses/attribute.js';
export { reconstructionLoss } from './losses/reconstruction.js';
export { changeLoss } from './losses/change.js';

// Logging: TensorBoard event files written without TensorFlow.
export { TensorBoardWriter } from './logging/tensorboard.js';
export { sampleGrid } from './logging/sample_grid.js';

// The training loop: progress, logging, checkpoints, resume, Ctrl-C and NaN guard around a trainer's step.
export { runTrainingLoop, listCheckpoints, NonFiniteLossError } from './trainers/training_loop.js';
export type { TrainingTask, TrainingLoopOptions, TrainingResult, TrainingOutcome } from './trainers/training_loop.js';
export { ProgressBar } from './logging/progress.js';
export { MetricsCsv } from './logging/metrics_csv.js';

// Data: synthetic occlusions for HEAR-Net training.
export { OcclusionAugmenter } from './data/occlusion.js';
export type { OcclusionOptions, OcclusionKind, FloatImage } from './data/occlusion.js';

// Data: dataset preparation (yarn prepare-data), manifests, the embedded dataset, and the (X_s, X_t, same) loader.
export { prepareDataset, mergeShards, parseShard, stableHash, inShard, listFiles, datasetAlignment } from './data/prepare.js';
export type { PrepareOptions, PrepareSummary, Layout, Shard } from './data/prepare.js';
export { readManifest, readManifestFile, manifestFiles, manifestToCsv, skippedToCsv, MANIFEST_COLUMNS } from './data/manifest.js';
export type { ManifestRow, SkippedRow, ReadManifestOptions } from './data/manifest.js';
export { buildEmbedded, stageEmbeddedInputs, FACEMATCH_PERSON, HUMAN_PORTRAITS, FACE_API_PHOTOS } from './data/embedded.js';
export type { StagedTile } from './data/embedded.js';
export { FacePairLoader, listDatasetItems, DataSkipError } from './data/loader.js';
export type { FacePairLoaderOptions, FacePairBatch, DatasetItem } from './data/loader.js';
export { drawAugment, writeAugmented, colorTransform, FACESHIFTER_JITTER, NO_AUGMENT } from './data/augment.js';
export type { ColorJitter, AugmentParams } from './data/augment.js';

// Config: the whole training config file, typed and validated (the model section is core's).
export { resolveTrainConfig, loadTrainConfig, applyOverrides, trainedIdentityEncoder, IDENTITY_DIMS, DEFAULT_IDENTITY_ENCODER } from './config/train_config.js';
export type { TrainConfig, AEIWeights, HEARWeights } from './config/train_config.js';

// Models: AEI-Net's objective as named losses, between the networks and the trainer.
export { generatorLosses, discriminatorLoss } from './models/aei_model.js';
export type { AEINetworks, GeneratorLosses } from './models/aei_model.js';
export type { PairBatch, PairBatchSource } from './models/pair_batch.js';

// Trainers.
export { AEITrainer } from './trainers/aei_trainer.js';
export { optimizerStep, trainableVariables, saveOptimizer, loadOptimizer } from './trainers/optimization.js';
export { HEARTrainer } from './trainers/hear_trainer.js';
export { hearInputs, hearLosses } from './models/hear_model.js';
export type { HEARNetworks, HEARInputs, HEARLosses } from './models/hear_model.js';
export { findCheckpoint, CheckpointWriteError } from './trainers/training_loop.js';
export { acquireRunLock, withRunLock, RunLockedError, LOCK_FILE } from './trainers/run_lock.js';
export type { RunLock, RunLockOptions, LockHolder } from './trainers/run_lock.js';
export { readEventFile, eventFiles, truncateEventFiles } from './logging/tensorboard.js';
export type { EventRecord } from './logging/tensorboard.js';
export { checkImageFile, checkImageFiles } from './data/file_check.js';
export { train } from './trainers/run.js';
export type { TrainRunOptions } from './trainers/run.js';
export { selectHearImages } from './data/hear_select.js';
export type { HearSelectOptions, HearSelectResult } from './data/hear_select.js';
