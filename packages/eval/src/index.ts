/**
 * @faceshifter/eval: evaluation of face swaps (ID retrieval, pose and expression error) and swapping on real photos.
 * This file is the package's whole public API.
 */

// Metrics (yarn eval): ID similarity / retrieval (Human faceres), head pose and expression from 68 landmarks, CIs.
export { evaluatePairs, FaceMetrics, aeiSwapFn, EVAL_METHODS, DEFAULT_ID_NETWORK, sameNetworkWarning } from './metrics/evaluate.js';
export type { EvalMethod, SwapFn, FaceFeatures, PairResult, EvalSummary, EvalResult, EvaluateOptions, FaceMetricsOptions } from './metrics/evaluate.js';
export { readPairsCsv, datasetPairs } from './metrics/pairs.js';
export type { EvalPair } from './metrics/pairs.js';
export { headPose, poseError, MEAN_FACE_3D, PITCH_OFFSET_DEG } from './metrics/pose.js';
export type { HeadPose } from './metrics/pose.js';
export { expressionError, EXPRESSION_POINTS } from './metrics/expression.js';
export { alignedLandmarks68, flipHorizontal, LANDMARK_BOX } from './metrics/landmarks.js';
export { meanCI } from './metrics/stats.js';
export type { MeanCI } from './metrics/stats.js';

// Reports: summary table, report.csv / report.json, the contact sheet.
export { formatSummary, rowsToCsv, bestAndWorst, contactSheet, writeReport } from './report/report.js';

// Swapping on real photos (`yarn swap`): detect, align, AEI-Net (+ HEAR-Net), soft-mask paste-back, synthetic mark.
export { FaceSwapper, readPhoto } from './swap/swapper.js';
export type { FaceSwapperOptions, FaceSelection, AnalysedPhoto, SwapResult } from './swap/swapper.js';
export { faceMask, convexHull, insideDistance } from '@faceshifter/core/node';
export type { FaceMaskOptions } from '@faceshifter/core/node';
export { swapMark, writeSwapPng, checkPngPath, toolVersion } from './swap/mark.js';
export type { SwapMarkInfo } from './swap/mark.js';
export { runSwap, planSwapJobs } from './swap/run.js';
export type { SwapCommandOptions, SwapJob, SwapReport } from './swap/run.js';

// Experiments (`yarn experiments run|report`): ablation variants trained, evaluated, sharded, resumed, tabulated.
export { loadExperiment, experimentSchema, variantOverrides, hearOverrides, stepsOverrides, shardOfVariant, variantsOfShard, BASELINE_METHODS } from './experiments/experiment.js';
export type { Experiment, Variant, BaselineMethod } from './experiments/experiment.js';
export { runExperiment, writeResults, collectResults, resultsTable, learningChecks, resultsDirOf, lossSummary, sameImageReconstruction, LOSS_WINDOW, RESULT_FILE } from './experiments/runner.js';
export type { VariantResult, ExperimentRunOptions, ExperimentRunSummary } from './experiments/runner.js';

// Video: `yarn swap --video` and `yarn eval --videos` (ffmpeg from npm, face tracks, smoothing, the MP4 mark).
export { swapVideo, videoMark } from './video/swap_video.js';
export type { VideoSwapOptions, VideoSwapReport, StageSeconds } from './video/swap_video.js';
export { probeVideo, decodeFrames, encodeFrames, videoTools } from './video/ffmpeg.js';
export type { VideoInfo } from './video/ffmpeg.js';
export { inspectMark } from './video/inspect.js';
export { extractVideoFrames, videoStability, evenlySpaced, listVideos, VIDEO_EXTENSIONS } from './video/video_eval.js';
export type { VideoFrames, VideoStabilityResult } from './video/video_eval.js';
export { TemporalStabilityMeter } from './metrics/temporal.js';
export type { TemporalStability } from './metrics/temporal.js';
