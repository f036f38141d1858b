/**
 * `yarn swap --checkpoint <run> --source a.jpg --target b.jpg --out out.png`: face swapping on real photos, one pair
 * or a batch; every image written carries a machine-readable synthetic mark (PNG tEXt). See swap/run.ts.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BACKEND_CHOICES, FACE_ALIGNMENTS, IDENTITY_ENCODERS, runCli, usageFailure, selectBackend, type BackendRequest, type FaceAlignment, type IdentityEncoderName } from '@faceshifter/core/node';
import { runSwap } from '../swap/run.js';
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
    .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendRequest, describe: 'tfjs backend' })
    .check((a) => {
      if ((a.checkpoint === undefined) === (a.weights === undefined)) throw new Error('name the AEI-Net with exactly one of --checkpoint <run|checkpoint> or --weights <G_latest.pth>');
      return true;
    })
    .strict()
    .fail(usageFailure)
    .parse();
  const faceIndex = parseFaceIndex(argv.faceIndex);
  await selectBackend(argv.backend);
  const log = (line: string): void => void process.stderr.write(line + '\n');
  const report = await runSwap({
    checkpoint: argv.checkpoint,
    weights: argv.weights,
    hearWeights: argv.hearWeights,
    align: argv.align as FaceAlignment | undefined,
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
