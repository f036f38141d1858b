/**
 * `yarn eval --checkpoint <run> (--pairs pairs.csv | --dataset <dir>) --out <dir> [--method model|target|source]
 *   [--id-network <encoder> [--id-weights <file>]]`:
 * ID retrieval (with the ID network: default Human faceres; papers use a CosFace/ArcFace r100, `--id-network
 * iresnet100 --id-weights glint360k_cosface_r100.pth`), ID similarity, pose and expression error of swaps (or of the built-in baselines) on aligned crops;
 * prints the summary and writes report.csv, report.json, sheet.png and sheet.json under --out.
 */
import path from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BACKEND_CHOICES, THREADS_OPTION, checkpointFaceInput, DEFAULT_FACE_INPUT, FACE_ALIGNMENTS, IDENTITY_ENCODERS, decodeImage, loadFaceDetector, readCheckpoint, type FaceDetector, type FaceAlignment, type FaceInput, loadIdentityEncoder, runCli, usageFailure, selectBackend, type BackendRequest, type HEARNet, type IdentityEncoderName, type RawImage } from '@faceshifter/core/node';
import { datasetAlignment, findCheckpoint, ProgressBar, trainedIdentityEncoder } from '@faceshifter/train';
import { DEFAULT_ID_NETWORK, EVAL_METHODS, FaceMetrics, aeiSwapFn, evaluatePairs, sameNetworkWarning, type EvalMethod, type SwapFn } from '../metrics/evaluate.js';
import { datasetPairs, readPairsCsv, type EvalPair } from '../metrics/pairs.js';
import { extractVideoFrames, videoStability, type VideoFrames, type VideoStabilityResult } from '../video/video_eval.js';
import { loadAEI, loadHEAR } from '../swap/swapper.js';
import { formatSummary, writeReport } from '../report/report.js';

runCli(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn eval')
    .usage('$0 --checkpoint <run> (--pairs pairs.csv | --dataset <dir>) --out <dir> [--method model|target|source]\n\nID retrieval, pose and expression error of face swaps on aligned crops, with the no-swap baselines.')
    .option('checkpoint', { type: 'string', describe: 'AEI-Net run directory or checkpoint (needed for --method model)' })
    .option('hear', { type: 'string', describe: 'HEAR-Net run directory or checkpoint: evaluate AEI-Net followed by HEAR-Net refinement' })
    .option('pairs', { type: 'string', describe: 'CSV with columns source,target (paths relative to it; optional source_identity,target_identity)' })
    .option('dataset', { type: 'string', describe: 'prepared dataset (manifest.csv): every image as target, a source of another identity (seeded)' })
    .option('out', { type: 'string', demandOption: true, describe: 'folder for report.csv, report.json, sheet.png, sheet.json' })
    .option('method', { choices: EVAL_METHODS, default: 'model' as EvalMethod, describe: 'model: the checkpoint\'s swap; target: Ŷ = X_t; source: Ŷ = X_s' })
    .option('identity', { choices: IDENTITY_ENCODERS, describe: 'identity encoder for z_id (default: the run\'s training encoder, else face-api-recognition-centred)' })
    .option('identity-weights', { type: 'string', describe: 'weights (.pth/safetensors) of an InsightFace --identity encoder (default: the run\'s identity.weights)' })
    .option('id-network', { choices: IDENTITY_ENCODERS, describe: `identity network of ID retrieval and similarity, different from the training one (default ${DEFAULT_ID_NETWORK}; e.g. iresnet100 with a CosFace backbone.pth)` })
    .option('id-weights', { type: 'string', describe: 'weights (.pth/safetensors) of an InsightFace --id-network' })
    .option('resolution', { type: 'number', describe: 'side all images are resized to before measuring (default: the model\'s, 256 for baselines)' })
    .option('videos', { type: 'string', describe: "a folder of videos: the FF++ protocol (--frames-per-video evenly spaced frames each, sources from the next video), plus the swap's temporal stability" })
    .option('frames-per-video', { type: 'number', default: 10, describe: 'with --videos: frames taken from each video (the paper: 10)' })
    .option('stability-frames', { type: 'number', default: 8, describe: 'with --videos and --method model: consecutive frames per video for the temporal stability figure (0: none)' })
    .option('align', { choices: FACE_ALIGNMENTS, describe: "how the images are aligned (default: the checkpoint's, else the dataset's, else ffhq); the identity networks crop accordingly" })
    .option('seed', { type: 'number', default: 0, describe: 'seed of the dataset pairing and the bootstrap intervals' })
    .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendRequest, describe: 'tfjs backend' })
    .option('threads', THREADS_OPTION)
    .conflicts('pairs', 'dataset')
    .conflicts('videos', ['pairs', 'dataset'])
    .check((a) => {
      if (!a.pairs && !a.dataset && !a.videos) throw new Error('give --pairs <csv>, --dataset <dir> or --videos <dir>');
      const framesPerVideo = Number(a.framesPerVideo);
      const stabilityFrames = Number(a.stabilityFrames);
      if (!(Number.isInteger(framesPerVideo) && framesPerVideo >= 1)) throw new Error(`--frames-per-video ${a.framesPerVideo}: give a whole number of frames, 1 or more (the paper: 10)`);
      if (!(Number.isInteger(stabilityFrames) && stabilityFrames >= 0)) throw new Error(`--stability-frames ${a.stabilityFrames}: give a whole number of consecutive frames, or 0 for none`);
      if (a.hear && a.method !== 'model') throw new Error('--hear refines the model\'s swaps; it needs --method model and --checkpoint');
      if (a.method === 'model' && !a.checkpoint) throw new Error('--method model needs --checkpoint runs/<name> (or use --method target|source for the baselines)');
      if (a.resolution !== undefined && !(Number.isInteger(a.resolution) && a.resolution >= 32)) throw new Error(`--resolution ${a.resolution}: give an integer of at least 32`);
      return true;
    })
    .strict()
    .fail(usageFailure)
    .parse();
  await selectBackend(argv.backend, { threads: argv.threads });
  let pairs: EvalPair[] = argv.pairs ? await readPairsCsv(argv.pairs) : argv.dataset ? await datasetPairs(argv.dataset, argv.seed) : [];
  let swap: SwapFn | undefined;
  let resolution = argv.resolution ?? 256;
  const cleanup: (() => void)[] = [];
  let checkpointDir: string | undefined;
  let hearDir: string | undefined;
  // The alignment of the images: the checkpoint's faces.align (what the model needs), else the dataset's.
  const checkpointFaces: FaceInput | null = argv.method === 'model' && argv.checkpoint ? checkpointFaceInput((await readCheckpoint(await findCheckpoint(argv.checkpoint))).meta) : null;
  const datasetAlign = argv.dataset ? await datasetAlignment(argv.dataset) : null;
  const align: FaceAlignment = (argv.align as FaceAlignment | undefined) ?? checkpointFaces?.align ?? datasetAlign ?? DEFAULT_FACE_INPUT.align;
  for (const [what, a] of [['the checkpoint', checkpointFaces?.align], ['the dataset', datasetAlign]] as const) {
    if (a && a !== align) process.stderr.write(`[eval] warning: the images are taken as ${align}-aligned but ${what} is ${a}-aligned; its figures will be off (prepare the dataset with --align ${align}, or pass --align ${a})\n`);
  }
  const metrics = await FaceMetrics.load({ idNetwork: argv.idNetwork as IdentityEncoderName | undefined, idWeights: argv.idWeights, align });
  cleanup.push(() => metrics.dispose());
  try {
    if (argv.method === 'model') {
      const { dir, loaded, aei } = await loadAEI(argv.checkpoint!, () => {});
      checkpointDir = dir;
      cleanup.push(loaded.dispose);
      const trained = trainedIdentityEncoder(argv.checkpoint!, checkpointDir);
      const encoderName = argv.identity ?? trained.name;
      const encoderWeights = argv.identityWeights ?? (argv.identity ? undefined : trained.weights);
      const identity = await loadIdentityEncoder(encoderName, { weights: encoderWeights, input: align, weightsOption: '--identity-weights <file> (or identity.weights in the run\'s config.yaml)' });
      cleanup.push(() => identity.dispose());
      let hear: HEARNet | null = null;
      if (argv.hear) {
        const h = await loadHEAR(argv.hear, aei.modelConfig.resolution, () => {});
        cleanup.push(h.loaded.dispose);
        hearDir = h.dir;
        hear = h.hear;
      }
      swap = aeiSwapFn(aei, identity, hear, checkpointFaces?.channels ?? 'rgb');
      resolution = argv.resolution ?? aei.modelConfig.resolution;
      process.stderr.write(`checkpoint ${checkpointDir}${hearDir ? ` + HEAR-Net ${hearDir}` : ''} (${aei.modelConfig.resolution} px, z_id from ${encoderName})\n`);
      // The paper measures ID retrieval with a network other than the training one (ArcFace trains, CosFace evaluates).
      const warning = sameNetworkWarning(encoderName, encoderWeights, metrics.idNetwork, argv.idWeights);
      if (warning) process.stderr.write(warning + '\n');
    }
    let frames: VideoFrames | null = null;
    let detector: FaceDetector | null = null;
    if (argv.videos) {
      detector = await loadFaceDetector();
      frames = await extractVideoFrames({ videos: argv.videos, framesPerVideo: argv.framesPerVideo, out: path.join(argv.out, 'frames'), size: resolution, align, detector, log: (l) => process.stderr.write(l + '\n') });
      pairs = frames.pairs;
    }
    const bar = new ProgressBar({ total: pairs.length, label: 'eval' });
    const result = await evaluatePairs(pairs, {
      method: argv.method,
      swap,
      resolution,
      metrics,
      seed: argv.seed,
      onProgress: (done) => bar.update(done),
    });
    bar.done();
    const images = new Map<string, Promise<RawImage>>();
    const load = (f: string): Promise<RawImage> => {
      if (!images.has(f)) images.set(f, decodeImage(f, { resize: resolution }));
      return images.get(f)!;
    };
    let temporal: VideoStabilityResult | null = null;
    if (frames && detector && swap && argv.stabilityFrames > 0) {
      temporal = await videoStability({ videos: frames.videos, frames: argv.stabilityFrames, size: resolution, align, detector, swap });
    }
    await writeReport(argv.out, result, load, { videos: argv.videos ?? null, framesPerVideo: argv.videos ? argv.framesPerVideo : null, temporal, idNetwork: metrics.idNetwork, idWeights: argv.idWeights ?? null, checkpoint: checkpointDir ?? null, hearCheckpoint: hearDir ?? null, pairs: argv.pairs ?? null, dataset: argv.dataset ?? null, seed: argv.seed });
    const temporalLine = temporal
      ? `\ntemporal stability (${argv.stabilityFrames} consecutive frames per video): frame-to-frame change ${temporal.meanSwapChange.toFixed(2)} (swap) vs ${temporal.meanTargetChange.toFixed(2)} (target), ratio ${temporal.meanRatio.toFixed(2)}`
      : '';
    process.stdout.write(formatSummary(result.summary) + temporalLine + `\n\nwrote ${path.join(argv.out, 'report.csv')}, report.json, sheet.png, sheet.json\n`);
  } finally {
    for (const c of cleanup.reverse()) c();
  }
});
