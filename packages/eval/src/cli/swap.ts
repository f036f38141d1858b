/**
 * `yarn swap --checkpoint <run> --source a.jpg --target b.jpg --out out.png`: face swapping on real photos, one pair
 * or a batch; every image written carries a machine-readable synthetic mark (PNG tEXt). See swap/run.ts.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BACKEND_CHOICES, THREADS_OPTION, CHANNEL_ORDERS, FACE_ALIGNMENTS, IDENTITY_ENCODERS, runCli, usageFailure, selectBackend, type BackendRequest, type ChannelOrder, type FaceAlignment, type IdentityEncoderName } from '@faceshifter/core/node';
import { runSwap } from '../swap/run.js';
import { FaceSwapper } from '../swap/swapper.js';
import { inspectMark } from '../video/inspect.js';
import { swapVideo } from '../video/swap_video.js';
import { DEFAULT_ONE_EURO, type OneEuroParams } from '@faceshifter/core/node';
import type { FaceSelection } from '../swap/swapper.js';

const RESPONSIBLE_USE =
  'Responsible use: face swapping is dual-use. This tool exists for research on face synthesis, on detecting it and on ' +
  'measuring it. Use faces of people who have consented, and never present a swap as real. Every image it writes is ' +
  'marked as synthetic (PNG tEXt chunks: Software, Comment, faceshifter:synthetic, faceshifter:checkpoint, ' +
  'faceshifter:source, faceshifter:target); do not strip the mark.';

function parseFaceIndex(v: unknown): FaceSelection | undefined {
  if (v === undefined) return undefined;
  if (v === 'all') return 'all';
  const n = Number(v);
  if (typeof v === 'boolean' || String(v).trim() === '' || !Number.isInteger(n) || n < 0) {
    throw new Error(`--face-index ${String(v)}: expected a face number (0, 1, ..., left to right) or "all"`);
  }
  return n;
}

function parseTrack(v: string): 'auto' | 'largest' | number {
  if (v === 'auto' || v === 'largest') return v;
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 0) throw new Error(`--track ${v}: expected auto, largest, or a track id (a whole number from the tracks JSON)`);
  return n;
}

function parseSmoothing(v: string): OneEuroParams | false {
  if (v === 'on') return DEFAULT_ONE_EURO;
  if (v === 'off') return false;
  const parts = v.split(',').map(Number);
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !Number.isFinite(p)) || !(parts[0]! > 0) || !(parts[1]! >= 0) || (parts.length === 3 && !(parts[2]! > 0))) {
    throw new Error(`--smoothing ${v}: expected on, off, or minCutoff,beta[,dCutoff] (One-Euro: Hz > 0, beta >= 0, Hz > 0), e.g. 1.0,0.05`);
  }
  return { minCutoff: parts[0]!, beta: parts[1]!, dCutoff: parts[2] ?? DEFAULT_ONE_EURO.dCutoff };
}

runCli(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn swap')
    .usage(
      '$0 --checkpoint <run|checkpoint> --source a.jpg --target b.jpg --out swap.png [--hear <run>] [--face-index i|all]\n' +
        '$0 --checkpoint <run> --source a.jpg --target-dir photos/ --out-dir out/      (one source onto every photo)\n' +
        '$0 --checkpoint <run> --pairs pairs.csv --out-dir out/                        (source,target[,out] per line)\n' +
        '$0 --weights G_latest.pth --id-weights model_ir_se50.pth --source a.jpg --target b.jpg --out swap.png\n' +
        "                                          (the PyTorch reference's published files, as they are)\n\n" +
        'Puts the face of --source into the target photo(s): detects and aligns both faces, runs AEI-Net (and HEAR-Net ' +
        'with --hear) on the aligned crops, and pastes the swapped face back into the full photo through a soft mask ' +
        'from the landmarks. Pixels outside the face are left unchanged; the output has the target\'s size.\n\n' +
        RESPONSIBLE_USE,
    )
    .option('checkpoint', { type: 'string', describe: 'AEI-Net run directory (newest checkpoint) or checkpoint directory' })
    .option('weights', { type: 'string', describe: "instead of --checkpoint: the reference's generator G_latest.pth (or reference-layout safetensors); config, alignment and channel order come from the file" })
    .option('hear-weights', { type: 'string', describe: "with --weights: the reference-layout HEAR-Net weights, to refine the swap" })
    .option('channels', { choices: CHANNEL_ORDERS, describe: "channel order the networks are fed (default: what the weights record; BGR for the reference's files); another is warned about" })
    .option('align', { choices: FACE_ALIGNMENTS, describe: 'face alignment (default: what the weights were trained on, from the checkpoint or the file); another is warned about' })
    .option('landmarks', { type: 'string', describe: 'one pair: JSON of the 5 landmarks of source and target, used instead of detection (see swap/landmarks.ts)' })
    .option('source', { type: 'string', describe: 'photo of the identity to put in' })
    .option('target', { type: 'string', describe: 'photo to put it into (one swap; needs --out)' })
    .option('out', { type: 'string', describe: 'PNG to write (one swap)' })
    .option('target-dir', { type: 'string', describe: 'folder of target photos (batch; needs --source and --out-dir)' })
    .option('pairs', { type: 'string', describe: 'CSV of source,target[,out] lines, paths relative to it (batch; needs --out-dir)' })
    .option('out-dir', { type: 'string', describe: 'folder to write the batch PNGs to' })
    .option('hear', { type: 'string', describe: 'HEAR-Net run or checkpoint: refine the swap (occlusions)' })
    .option('face-index', { type: 'string', describe: 'target face to swap, numbered left to right, or "all"; required when a target has several faces' })
    .option('source-face-index', { type: 'number', describe: 'source face to use, numbered left to right (default: the largest)' })
    .option('identity', { choices: IDENTITY_ENCODERS, describe: "identity encoder AEI-Net was trained with (default: the run's config.yaml, else face-api-recognition-centred)" })
    .option('identity-weights', { type: 'string', alias: 'id-weights', describe: "weights (.pth/safetensors) of the InsightFace identity network, e.g. model_ir_se50.pth (default: the run's identity.weights)" })
    .option('detector', { choices: ['ssd', 'tiny'] as const, default: 'ssd' as const, describe: 'face detector: ssd (accurate) or tiny (faster)' })
    .option('video', { type: 'string', describe: 'a clip to swap the --source face through (needs --out x.mp4); see --track, --detect-every' })
    .option('crf', { type: 'number', describe: 'video: x264 quality, 0 (lossless) to 51; default 18 (visually lossless)' })
    .option('detect-every', { type: 'number', default: 1, describe: 'video: detect faces every N frames, landmarks only in between' })
    .option('track', { type: 'string', default: 'auto', describe: 'video: which person: auto (the longest track), largest, or a track id from the tracks JSON' })
    .option('tracks-json', { type: 'string', describe: 'video: where to write the face tracks (ids, frame ranges); default <out>.tracks.json' })
    .option('smoothing', { type: 'string', default: 'on', describe: 'video: landmark smoothing, "on" (One-Euro 1.0 Hz, beta 0.05), "off", or "minCutoff,beta[,dCutoff]"' })
    .option('inspect', { type: 'string', describe: "print the synthetic mark of a swapped PNG or MP4, and nothing else" })
    .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendRequest, describe: 'tfjs backend' })
    .option('threads', THREADS_OPTION)
    .check((a) => {
      if (a.inspect !== undefined) return true;
      if ((a.checkpoint === undefined) === (a.weights === undefined)) throw new Error('name the AEI-Net with exactly one of --checkpoint <run|checkpoint> or --weights <G_latest.pth>');
      if (a.video !== undefined && (a.target !== undefined || a.targetDir !== undefined || a.pairs !== undefined)) throw new Error('--video is the target: leave out --target, --target-dir and --pairs');
      return true;
    })
    .strict()
    .fail(usageFailure)
    .parse();
  if (argv.inspect !== undefined) {
    for (const [k, v] of Object.entries(await inspectMark(argv.inspect))) process.stdout.write(`${k}: ${v}\n`);
    return;
  }
  const faceIndex = parseFaceIndex(argv.faceIndex);
  const log = (line: string): void => void process.stderr.write(line + '\n');
  if (argv.video !== undefined) {
    if (argv.source === undefined) throw new Error('--video needs --source: the photo whose identity is put into the clip');
    if (argv.out === undefined) throw new Error('--video needs --out: the MP4 file to write, e.g. --out swap.mp4');
    const track = parseTrack(argv.track);
    const smoothing = parseSmoothing(argv.smoothing);
    await selectBackend(argv.backend, { threads: argv.threads });
    const swapper = await FaceSwapper.load({
      checkpoint: argv.checkpoint,
      weights: argv.weights,
      hearWeights: argv.hearWeights,
      align: argv.align as FaceAlignment | undefined,
      channels: argv.channels as ChannelOrder | undefined,
      hear: argv.hear,
      identity: argv.identity as IdentityEncoderName | undefined,
      identityWeights: argv.identityWeights,
      detector: argv.detector,
      log,
    });
    try {
      const r = await swapVideo({ video: argv.video, source: argv.source, out: argv.out, sourceFaceIndex: argv.sourceFaceIndex, track, detectEvery: argv.detectEvery, smoothing, crf: argv.crf, tracksFile: argv.tracksJson, log }, swapper);
      process.stdout.write(`${r.out}\n`);
    } finally {
      swapper.dispose();
    }
    return;
  }
  await selectBackend(argv.backend, { threads: argv.threads });
  const report = await runSwap({
    checkpoint: argv.checkpoint,
    weights: argv.weights,
    hearWeights: argv.hearWeights,
    align: argv.align as FaceAlignment | undefined,
    channels: argv.channels as ChannelOrder | undefined,
    landmarks: argv.landmarks,
    hear: argv.hear,
    source: argv.source,
    target: argv.target,
    out: argv.out,
    targetDir: argv.targetDir,
    pairs: argv.pairs,
    outDir: argv.outDir,
    faceIndex,
    sourceFaceIndex: argv.sourceFaceIndex,
    identity: argv.identity as IdentityEncoderName | undefined,
    identityWeights: argv.identityWeights,
    detector: argv.detector,
    log,
  });
  for (const d of report.done) process.stdout.write(`${d.job.out}\n`);
});
