/**
 * `yarn prepare-data --input <photos> --output datasets/<name> [--size 256] [--layout flat|identity-folders]
 *  [--shard i/n] [--backend b]`: detects faces, aligns them FFHQ-style and writes PNG crops + manifest.csv.
 * `yarn prepare-data --merge --output datasets/<name>`: joins the manifest parts of a sharded run.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BACKEND_CHOICES, THREADS_OPTION, FACE_ALIGNMENTS, runCli, usageFailure, selectBackend, type BackendRequest, type FaceAlignment } from '@faceshifter/core/node';
import { mergeShards, parseShard, prepareDataset, type Layout } from '../data/prepare.js';

runCli(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn prepare-data')
    .usage(
      '$0 --input <folder> --output datasets/<name> [options]\n$0 --merge --output datasets/<name>\n\n' +
        'Finds the faces in a folder of photos, aligns each to a 5-point template (--align; FFHQ-style by default) and writes <output>/faces/**/*.png, ' +
        'manifest.csv (one row per face) and skipped.csv (photos without a usable face, with the reason). ' +
        'Rerunning resumes where the last run stopped.',
    )
    .option('input', { type: 'string', describe: 'folder of photos (searched recursively)' })
    .option('output', { type: 'string', demandOption: true, describe: 'dataset folder to write' })
    .option('size', { type: 'number', default: 256, describe: 'side of the aligned crops in pixels' })
    .option('align', {
      choices: FACE_ALIGNMENTS,
      default: 'ffhq' as FaceAlignment,
      describe: "face alignment: ffhq (this project's loose crops), reference (the PyTorch reference's, to train comparably with its published weights) or insightface (arcface_torch's)",
    })
    .option('layout', {
      choices: ['flat', 'identity-folders'] as const,
      default: 'flat' as Layout,
      describe: 'flat: every face is its own identity (CelebA-HQ, FFHQ); identity-folders: one subfolder per identity (VGGFace2)',
    })
    .option('shard', { type: 'string', describe: 'i/n: process only the photos whose path hashes to i mod n (run one per machine, then --merge)' })
    .option('faces', { choices: ['all', 'largest'] as const, describe: 'faces kept per photo (default: all; largest in identity folders)' })
    .option('detector', { choices: ['ssd', 'tiny'] as const, default: 'ssd' as const, describe: 'face detector: ssd (accurate) or tiny (faster, misses small/turned faces)' })
    .option('min-score', { type: 'number', default: 0.5, describe: 'minimum detector score' })
    .option('min-eye-distance', { type: 'number', default: 20, describe: 'skip faces whose eyes are closer than this (photo pixels)' })
    .option('merge', { type: 'boolean', default: false, describe: 'write manifest.csv and skipped.csv from the parts of a sharded run' })
    .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendRequest, describe: 'tfjs backend for detection' })
    .option('threads', THREADS_OPTION)
    .check((a) => {
      if (!a.merge && !a.input) throw new Error('Missing --input <folder of photos> (or pass --merge to join shard manifests).');
      if (a.merge && a.input) throw new Error('--merge joins existing parts in --output; it takes no --input.');
      return true;
    })
    .strict()
    .fail(usageFailure)
    .parse();

  if (argv.merge) {
    const { faces, parts } = await mergeShards(argv.output);
    process.stdout.write(`merged ${parts} parts: ${faces} faces in ${argv.output}/manifest.csv\n`);
    return;
  }
  await selectBackend(argv.backend, { threads: argv.threads });
  const summary = await prepareDataset({
    input: argv.input!,
    output: argv.output,
    size: argv.size,
    align: argv.align,
    layout: argv.layout,
    shard: argv.shard ? parseShard(argv.shard) : undefined,
    faces: argv.faces,
    detector: argv.detector,
    minScore: argv.minScore,
    minEyeDistance: argv.minEyeDistance,
  });
  process.stdout.write(
    `${summary.faces} faces of ${summary.identities} identities from ${summary.photos} photos` +
      `${summary.resumed ? ` (${summary.resumed} done by an earlier run)` : ''}; ` +
      `${summary.skipped} skipped (see ${summary.skippedFile})${summary.ignored ? `; ${summary.ignored} non-image files ignored` : ''}\n` +
      `manifest: ${summary.manifest}\n`,
  );
});
