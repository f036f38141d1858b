import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { imageToTensor } from '../../image/raw_image.js';
import { decodeImage } from '../../node/image_io.js';

const EMBEDDED = fileURLToPath(new URL('../../../../../datasets/embedded/', import.meta.url));

/** Three faces of the embedded dataset's one multi-image identity, then three faces of three other people. */
export async function identityProbe(): Promise<{ images: tf.Tensor4D; person: boolean[] }> {
  const rows = readFileSync(EMBEDDED + 'manifest.csv', 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  const same = rows.filter((r) => r[1] === 'facematch-person-a').slice(0, 3);
  // Women from face-api's group photos: certainly not the man of the face-match screenshot.
  const others = ['face-api-sample1_f0', 'face-api-sample3_f0', 'face-api-sample6_f0'].map((id) => rows.find((r) => r[1] === id)!);
  const picked = [...same, ...others];
  const images = await Promise.all(picked.map(async (r) => imageToTensor(await decodeImage(EMBEDDED + r[0]))));
  const stacked = tf.stack(images) as tf.Tensor4D;
  tf.dispose(images);
  return { images: stacked, person: picked.map((r) => r[1] === 'facematch-person-a') };
}


/** The probe for a test file: loaded before its tests, disposed after; call the returned function inside a test. */
export function useIdentityProbe(): () => { images: tf.Tensor4D; person: boolean[] } {
  let probe: { images: tf.Tensor4D; person: boolean[] } | undefined;
  beforeAll(async () => {
    probe = await identityProbe();
  });
  afterAll(() => probe?.images.dispose());
  return () => probe!;
}
