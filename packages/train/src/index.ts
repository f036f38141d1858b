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
