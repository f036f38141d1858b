/**
 * The embedded face dataset (datasets/embedded): rebuilds the embedded face dataset from the
 * photos that ship inside the pinned @vladmandic/face-api and @vladmandic/human packages (attribution and
 * licences: datasets/README.md). It stages the photos, cutting the face tiles out of Human's screenshots, then
 * runs the same preparation as `yarn prepare-data --layout identity-folders`.
 */
import { packageFile } from '@faceshifter/core/node';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { prepareDataset, type PrepareSummary } from './prepare.js';

/** A square region of a package image, staged (mirror-padded so the detector sees some context) under `name`. */
export interface StagedTile {
  name: string;
  file: string;
  left: number;
  top: number;
  size: number;
  pad: number;
}

/** Faces of one person: row 0, cells 0-8 of Human's face-match screenshot (1920x954, 18 cells of 106.7 px). */
export const FACEMATCH_PERSON: readonly StagedTile[] = Array.from({ length: 9 }, (_, i) => ({
  name: `facematch-person-a/facematch-r0c${i}.png`,
  file: 'assets/screenshot-facematch.jpg',
  left: Math.round((i * 1920) / 18) + 1,
  top: 284,
  size: 104,
  // Half a cell of mirrored context on each side: with less, SSD scores some of these tight thumbnails below 0.5.
  pad: 52,
}));

/** Single portraits inside Human's demo screenshots; identities unknown, so each is its own. */
export const HUMAN_PORTRAITS: readonly StagedTile[] = [
  ...[7, 164, 321, 478, 635].map((left, i) => ({ name: `human-facedetect-${i + 1}.png`, file: 'assets/screenshot-facedetect.jpg', left, top: 346, size: 150, pad: 32 })),
  { name: 'human-faceid.png', file: 'assets/screenshot-faceid.jpg', left: 13, top: 141, size: 141, pad: 32 },
];

/** face-api's group photos, staged as they are. */
export const FACE_API_PHOTOS: readonly string[] = [1, 2, 3, 4, 5, 6].map((i) => `demo/sample${i}.jpg`);

/** Writes the staged input folder: face-api photos and Human portraits at the root (flat), the one known identity in a subfolder. */
export async function stageEmbeddedInputs(dir: string, tiles: readonly StagedTile[] = [...HUMAN_PORTRAITS, ...FACEMATCH_PERSON], photos: readonly string[] = FACE_API_PHOTOS): Promise<void> {
  for (const p of photos) {
    await fs.copyFile(packageFile('@vladmandic/face-api', p), path.join(dir, `face-api-${path.basename(p)}`));
  }
  for (const t of tiles) {
    const out = path.join(dir, t.name);
    await fs.mkdir(path.dirname(out), { recursive: true });
    await sharp(packageFile('@vladmandic/human', t.file))
      .extract({ left: t.left, top: t.top, width: t.size, height: t.size })
      .extend({ top: t.pad, bottom: t.pad, left: t.pad, right: t.pad, extendWith: 'mirror' })
      .png()
      .toFile(out);
  }
}

/** Builds the embedded dataset into `output`, replacing what was there only once the new one is complete. */
export async function buildEmbedded(output: string, progress: NodeJS.WriteStream | false = process.stderr): Promise<PrepareSummary> {
  const staging = await fs.mkdtemp(path.join(os.tmpdir(), 'faceshifter-embedded-'));
  const target = path.resolve(output);
  const fresh = `${target}.tmp-${process.pid}`;
  try {
    await stageEmbeddedInputs(staging);
    await fs.rm(fresh, { recursive: true, force: true });
    const summary = await prepareDataset({ input: staging, output: fresh, size: 256, layout: 'identity-folders', progress });
    // The resume journal only matters while a run is in progress; the committed dataset is the crops + CSVs.
    await fs.rm(path.join(fresh, '.prepare'), { recursive: true, force: true });
    const keep = path.join(target, 'README.md');
    const readme = await fs.readFile(keep).catch(() => undefined);
    if (readme) await fs.writeFile(path.join(fresh, 'README.md'), readme);
    await fs.rm(target, { recursive: true, force: true });
    await fs.rename(fresh, target);
    return { ...summary, manifest: path.join(target, 'manifest.csv'), skippedFile: path.join(target, 'skipped.csv') };
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
    await fs.rm(fresh, { recursive: true, force: true });
  }
}

