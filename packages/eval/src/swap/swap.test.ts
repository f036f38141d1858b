import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AEINet,
  decodeImage,
  decodePng,
  encodePng,
  HEARNet,
  packageFile,
  readPngText,
  resolveModelConfig,
  saveCheckpoint,
  type Point,
} from '@faceshifter/core/node';
import { convexHull, insideDistance } from '@faceshifter/core/node';
import { runSwap } from './run.js';
import { FaceSwapper, readPhoto } from './swapper.js';

// Aligned crops from the committed embedded dataset (one face each) stand in for photos; sample1.jpg has three faces.
const FACES = fileURLToPath(new URL('../../../../datasets/embedded/faces/', import.meta.url));
const SOURCE = FACES + 'face-api-sample1_f1.png';
const TARGET = FACES + 'human-faceid_f0.png';
const GROUP = packageFile('@vladmandic/face-api', 'demo/sample1.jpg');

let root: string;
let aeiDir: string;
let hearDir: string;
let swapper: FaceSwapper;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'faceshifter-swap-'));
  // Randomly initialised tiny networks at 64 px: the plumbing is under test, not the swap's quality.
  const config = resolveModelConfig({ preset: 'tiny', resolution: 64 });
  const aei = new AEINet(config, { seed: 1 });
  const hear = new HEARNet(config, { seed: 2 });
  aeiDir = path.join(root, 'aei');
  hearDir = path.join(root, 'hear');
  await saveCheckpoint(aeiDir, { config, networks: { aei } });
  await saveCheckpoint(hearDir, { config, networks: { hearnet: hear } });
  aei.dispose();
  hear.dispose();
  swapper = await FaceSwapper.load({ checkpoint: aeiDir, hear: hearDir, detector: 'tiny' });
});

afterAll(async () => {
  swapper?.dispose();
  await rm(root, { recursive: true, force: true });
});

describe('FaceSwapper', () => {
  it('swaps into the full target at its size, changing only pixels inside the landmark hull, without leaking tensors', async () => {
    const source = await swapper.analyse(SOURCE, await decodeImage(SOURCE));
    const target = await swapper.analyse(TARGET, await decodeImage(TARGET));
    expect(target.faces).toHaveLength(1);
    // The first pass creates tfjs's lazily built state (e.g. the models' cached weights); later ones must not grow memory.
    const warm = swapper.sourceIdentity(source);
    await swapper.swap(warm, target);
    warm.dispose();
    const before = tf.memory().numTensors;
    const zId = swapper.sourceIdentity(source);
    expect(zId.shape).toEqual([1, 128]);
    const result = await swapper.swap(zId, target);
    zId.dispose();
    expect(tf.memory().numTensors).toBe(before);

    expect(result.swapped).toEqual([0]);
    expect([result.image.width, result.image.height, result.image.channels]).toEqual([target.photo.width, target.photo.height, 3]);
    const hull = convexHull(target.faces[0]!.landmarks68 as Point[]);
    const { width: W, data } = result.image;
    let changed = 0;
    let outsideChanged = 0;
    for (let i = 0; i < data.length; i += 3) {
      if (data[i] === target.photo.data[i] && data[i + 1] === target.photo.data[i + 1] && data[i + 2] === target.photo.data[i + 2]) continue;
      changed++;
      const p = i / 3;
      if (insideDistance(hull, [(p % W) + 0.5, Math.floor(p / W) + 0.5]) < 0) outsideChanged++;
    }
    expect(outsideChanged).toBe(0);
    expect(changed).toBeGreaterThan(2000); // the face itself was replaced
  });

  it('numbers several target faces left to right and asks for --face-index, listing their boxes', async () => {
    const group = await swapper.analyse(GROUP, await decodeImage(GROUP));
    const n = group.faces.length;
    expect(n).toBeGreaterThanOrEqual(2);
    const centres = group.faces.map((f) => f.box.x + f.box.width / 2);
    expect(centres).toEqual([...centres].sort((a, b) => a - b));
    expect(() => swapper.selectFaces(group, undefined)).toThrow(
      new RegExp(`sample1\\.jpg: ${n} faces found in the target \\(left to right: \\[0\\] x=\\d+ y=\\d+ \\d+x\\d+, .*\\); pass --face-index 0\\.\\.${n - 1} or --face-index all$`),
    );
    expect(() => swapper.selectFaces(group, n)).toThrow(`sample1.jpg: --face-index ${n} is out of range: the target has ${n} faces (0..${n - 1})`);
    expect(swapper.selectFaces(group, 'all')).toEqual([...Array(n).keys()]);
    expect(swapper.selectFaces(group, 1)).toEqual([1]);
  });
});

describe('runSwap', () => {
  it('writes a PNG of the target size carrying the synthetic mark (AEI-Net only, models loaded from the options)', async () => {
    const out = path.join(root, 'out', 'swap.png');
    const report = await runSwap({ checkpoint: aeiDir, source: SOURCE, target: TARGET, out, detector: 'tiny' });
    expect(report.done.map((d) => d.job.out)).toEqual([out]);
    const png = new Uint8Array(await readFile(out));
    const img = decodePng(png, out);
    expect([img.width, img.height]).toEqual([256, 256]);
    const text = readPngText(png, out);
    expect(text['faceshifter:synthetic']).toBe('true');
    expect(text['Software']).toMatch(/^faceshifter-ts \d+\.\d+\.\d+/);
    expect(text['faceshifter:checkpoint']).toBe(aeiDir);
    expect(text['faceshifter:source']).toBe('face-api-sample1_f1.png');
    expect(text['faceshifter:target']).toBe('human-faceid_f0.png');
    expect(text['faceshifter:method']).toBe('FaceShifter AEI-Net');
    expect(text['Comment']).toMatch(/^Synthetic image generated by face swapping/);
  });

  it('errors in one line naming the file and the fix', async () => {
    const run = (o: Parameters<typeof runSwap>[0]): Promise<unknown> => runSwap(o, swapper);
    const out = path.join(root, 'e.png');
    const missing = path.join(root, 'missing.jpg');
    await expect(run({ checkpoint: aeiDir, source: missing, target: TARGET, out })).rejects.toThrow(`${missing}: no such source file; check the path`);
    const garbage = path.join(root, 'garbage.jpg');
    await writeFile(garbage, 'not an image at all');
    await expect(run({ checkpoint: aeiDir, source: SOURCE, target: garbage, out })).rejects.toThrow(
      new RegExp(`^${garbage.replace(/[.\\/]/g, '\\$&')}: cannot decode the target image \\(.+\\); pass a JPEG, PNG, WebP, TIFF or AVIF photo$`),
    );
    await expect(run({ checkpoint: aeiDir, source: SOURCE, target: TARGET, out: path.join(root, 'x.jpg') })).rejects.toThrow(
      /--out .*x\.jpg: swapped images are written as PNG only .*; use a \.png file name, e\.g\. .*x\.png$/,
    );
    const grey = path.join(root, 'grey.png');
    await writeFile(grey, encodePng({ width: 96, height: 96, channels: 3, data: new Uint8Array(96 * 96 * 3).fill(128) }));
    await expect(run({ checkpoint: aeiDir, source: grey, target: TARGET, out })).rejects.toThrow(`${grey}: no face found in the source photo; use a photo with a clearly visible, roughly frontal face`);
    expect(await readPhoto(grey, 'target')).toMatchObject({ width: 96, height: 96 });
  });

  it('refuses a checkpoint that holds no AEI-Net, pointing a HEAR-Net one at --hear', async () => {
    await expect(FaceSwapper.load({ checkpoint: hearDir })).rejects.toThrow(
      `${hearDir}: not an AEI-Net checkpoint (it holds hearnet); pass an AEI-Net run or checkpoint as --checkpoint (this one is a HEAR-Net checkpoint: pass it as --hear)`,
    );
  });

  it('plans batches: one source onto a folder, and a CSV of pairs', async () => {
    const { planSwapJobs } = await import('./run.js');
    const jobs = await planSwapJobs({ checkpoint: aeiDir, source: SOURCE, targetDir: FACES, outDir: '/o' });
    expect(jobs.length).toBeGreaterThanOrEqual(25);
    expect(jobs[0]).toEqual({ source: SOURCE, target: path.join(FACES, 'face-api-sample1_f0.png'), out: '/o/face-api-sample1_f0.png' });
    const csv = path.join(root, 'pairs.csv');
    await writeFile(csv, 'source,target\na.jpg,b.jpg\nc.jpg,d.jpg,named.png\n');
    expect(await planSwapJobs({ checkpoint: aeiDir, pairs: csv, outDir: '/o' })).toEqual([
      { source: path.join(root, 'a.jpg'), target: path.join(root, 'b.jpg'), out: '/o/b__a.png' },
      { source: path.join(root, 'c.jpg'), target: path.join(root, 'd.jpg'), out: '/o/named.png' },
    ]);
    await expect(planSwapJobs({ checkpoint: aeiDir, source: SOURCE, targetDir: FACES })).rejects.toThrow('--target-dir needs --out-dir');
    await expect(planSwapJobs({ checkpoint: aeiDir, source: SOURCE, target: TARGET, targetDir: FACES, out: 'x.png' })).rejects.toThrow(/exactly one of --target/);
  });
});
