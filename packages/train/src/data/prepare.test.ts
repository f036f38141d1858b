import {
  alignmentTransform,
  decodeImage,
  encodePngSharp,
  FFHQ_TEMPLATE,
  loadFaceDetector,
  packageFile,
  type DetectedFace,
  type FaceDetector,
  type Landmarks5,
  type RawImage,
} from '@faceshifter/core/node';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FACEMATCH_PERSON, stageEmbeddedInputs } from './embedded.js';
import { readManifest, readManifestFile } from './manifest.js';
import { inShard, mergeShards, parseShard, prepareDataset, stableHash, type PrepareSummary } from './prepare.js';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const EMBEDDED = path.join(REPO, 'datasets/embedded');

/** A detector that must not be called: proves a rerun detects nothing again. */
const noDetection: Pick<FaceDetector, 'detect'> = {
  detect: () => Promise.reject(new Error('the detector ran on a photo that an earlier run had finished')),
};

/** A stand-in detector that "finds" one upright face in the middle of any photo, for tests of the bookkeeping. */
const centredFace: Pick<FaceDetector, 'detect'> = {
  detect: (photo: RawImage) => {
    const s = Math.min(photo.width, photo.height);
    const landmarks5 = FFHQ_TEMPLATE.map(([x, y]) => [x * s, y * s] as const) as unknown as Landmarks5;
    const face: DetectedFace = { box: { x: 0, y: 0, width: s, height: s }, score: 0.99, detector: 'ssd', landmarks68: [], landmarks5 };
    return Promise.resolve([face]);
  },
};

async function solidPng(file: string, rgb: [number, number, number], size = 96): Promise<void> {
  const data = new Uint8Array(size * size * 3);
  for (let i = 0; i < data.length; i += 3) data.set(rgb, i);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, await encodePngSharp({ width: size, height: size, channels: 3, data }));
}

function csvRows(file: string): string[][] {
  return readFileSync(file, 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
}

let tmp: string;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'faceshifter-prepare-'));
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('prepareDataset on real photos and bad files', () => {
  let input: string;
  let output: string;
  let first: PrepareSummary;

  beforeAll(async () => {
    input = path.join(tmp, 'mixed');
    output = path.join(tmp, 'mixed-out');
    await fs.mkdir(input, { recursive: true });
    // One face, staged exactly as `yarn build-embedded` stages it.
    await stageEmbeddedInputs(input, [FACEMATCH_PERSON[0]!], []);
    const jpeg = readFileSync(packageFile('@vladmandic/face-api', 'demo/sample1.jpg'));
    await fs.writeFile(path.join(input, 'broken.jpg'), jpeg.subarray(0, Math.floor(jpeg.length / 3)));
    await fs.writeFile(path.join(input, 'notes.jpg'), 'this is a text file with an image extension\n');
    const blank = new Uint8Array(160 * 160 * 3);
    for (let i = 0; i < blank.length; i++) blank[i] = 90 + ((i / 3) % 160) / 4;
    await fs.writeFile(path.join(input, 'blank.png'), await encodePngSharp({ width: 160, height: 160, channels: 3, data: blank }));
    await fs.writeFile(path.join(input, 'README.txt'), 'not a photo');
    first = await prepareDataset({ input, output, layout: 'identity-folders', progress: false, faceDetector: await loadFaceDetector() });
  });

  it('writes the face and lists each bad file in skipped.csv with its reason, finishing the run', () => {
    expect(first).toMatchObject({ photos: 4, resumed: 0, faces: 1, identities: 1, skipped: 3, ignored: 1 });
    const rows = csvRows(path.join(output, 'manifest.csv'));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.slice(0, 4)).toEqual(['faces/facematch-person-a/facematch-r0c0_f0.png', 'facematch-person-a', 'facematch-person-a/facematch-r0c0.png', '0']);
    const skipped = Object.fromEntries(csvRows(path.join(output, 'skipped.csv')).map(([source, ...reason]) => [source, reason.join(',')]));
    expect(skipped['broken.jpg']).toBe('truncated or corrupt image data');
    expect(skipped['notes.jpg']).toMatch(/^not an image/);
    expect(skipped['blank.png']).toMatch(/^no face found/);
  });

  it('reproduces the committed embedded crop of that photo', async () => {
    const ours = await decodeImage(path.join(output, 'faces/facematch-person-a/facematch-r0c0_f0.png'));
    const committed = await decodeImage(path.join(EMBEDDED, 'faces/facematch-person-a/facematch-r0c0_f0.png'));
    expect([ours.width, ours.height]).toEqual([256, 256]);
    let diff = 0;
    for (let i = 0; i < ours.data.length; i++) diff += Math.abs(ours.data[i]! - committed.data[i]!);
    expect(diff / ours.data.length).toBeLessThan(0.5);
    const [mine] = await readManifestFile(path.join(output, 'manifest.csv'));
    const theirs = (await readManifestFile(path.join(EMBEDDED, 'manifest.csv'))).find((r) => r.path === mine!.path)!;
    mine!.landmarks.forEach(([x, y], i) => {
      expect(Math.abs(x - theirs.landmarks[i]![0])).toBeLessThan(0.1);
      expect(Math.abs(y - theirs.landmarks[i]![1])).toBeLessThan(0.1);
    });
  });

  it('a rerun resumes: finished photos are not decoded or detected again', async () => {
    const manifest = readFileSync(path.join(output, 'manifest.csv'), 'utf8');
    const again = await prepareDataset({ input, output, layout: 'identity-folders', progress: false, faceDetector: noDetection });
    expect(again).toMatchObject({ photos: 4, resumed: 4, faces: 1, skipped: 3 });
    expect(readFileSync(path.join(output, 'manifest.csv'), 'utf8')).toBe(manifest);
  });

  it('after a crash mid-line, the cut line is dropped and only that photo is redone', async () => {
    const journal = path.join(output, '.prepare/journal.jsonl');
    const lines = readFileSync(journal, 'utf8').trim().split('\n');
    const kept = lines.filter((l) => !l.includes('"broken.jpg"'));
    expect(kept).toHaveLength(3);
    await fs.writeFile(journal, kept.join('\n') + '\n{"source":"broken.jpg","ski');
    const again = await prepareDataset({ input, output, layout: 'identity-folders', progress: false, faceDetector: noDetection });
    expect(again).toMatchObject({ resumed: 3, faces: 1, skipped: 3 });
    const repaired = readFileSync(journal, 'utf8');
    expect(repaired.endsWith('\n')).toBe(true);
    expect(repaired.trim().split('\n').map((l) => (JSON.parse(l) as { source: string }).source).sort()).toEqual(['blank.png', 'broken.jpg', 'facematch-person-a/facematch-r0c0.png', 'notes.jpg']);
  });

  it('refuses to resume with different settings', async () => {
    await expect(prepareDataset({ input, output, size: 128, layout: 'identity-folders', progress: false, faceDetector: noDetection })).rejects.toThrow(
      /prepared with size 256 \(now 128\)/,
    );
  });
});

describe('prepareDataset bookkeeping (stand-in detector)', () => {
  it('splits photos across shards deterministically and merges their manifests', async () => {
    const input = path.join(tmp, 'flat');
    const output = path.join(tmp, 'flat-out');
    for (let i = 0; i < 12; i++) await solidPng(path.join(input, i < 6 ? '' : 'sub', `p${i}.png`), [i * 20, 100, 200 - i * 10]);
    const shard = (i: number): Promise<PrepareSummary> =>
      prepareDataset({ input, output, size: 32, shard: { index: i, count: 3 }, progress: false, faceDetector: centredFace });
    const summaries = [await shard(0), await shard(1), await shard(2)];
    expect(summaries.reduce((n, s) => n + s.photos, 0)).toBe(12);
    const parts = await Promise.all([0, 1, 2].map((i) => readManifestFile(path.join(output, `manifest-${i}-of-3.csv`))));
    const sources = parts.flat().map((r) => r.source).sort();
    expect(new Set(sources).size).toBe(12);
    parts.forEach((rows, i) => rows.forEach((r) => expect(inShard(r.source, { index: i, count: 3 })).toBe(true)));
    // The loader-facing reader sees the union of the parts before a merge...
    expect((await readManifest(output)).rows).toHaveLength(12);
    // ...and the merge writes it as one manifest.csv.
    expect(await mergeShards(output)).toEqual({ faces: 12, parts: 3 });
    const merged = await readManifestFile(path.join(output, 'manifest.csv'));
    expect(merged.map((r) => r.identity).sort()).toEqual(sources.map((s) => s.replace(/\.png$/, '_f0')).sort());
    await expect(mergeShards(output)).rejects.toThrow(/already exists/);
    // Each crop is the aligned face: the stand-in face fills the photo, so the crop is the photo's colour.
    const crop = await decodeImage(path.join(output, merged[0]!.path));
    expect([crop.width, crop.height]).toEqual([32, 32]);
  });

  it('gives clear errors for an empty, missing or overlapping folder', async () => {
    const empty = path.join(tmp, 'empty');
    await fs.mkdir(empty, { recursive: true });
    await fs.writeFile(path.join(empty, 'list.txt'), 'no photos here');
    await expect(prepareDataset({ input: empty, output: path.join(tmp, 'x'), progress: false, faceDetector: noDetection })).rejects.toThrow(
      /^No photos in .*empty \(looked for \.jpg.*; 1 other files ignored\)\.$/,
    );
    await expect(prepareDataset({ input: path.join(tmp, 'nope'), output: path.join(tmp, 'x'), progress: false })).rejects.toThrow(/does not exist/);
    await expect(prepareDataset({ input: empty, output: path.join(empty, 'out'), progress: false })).rejects.toThrow(/inside --input/);
  });
});

describe('shards', () => {
  it('parses i/n and rejects anything else', () => {
    expect(parseShard('2/5')).toEqual({ index: 2, count: 5 });
    for (const bad of ['5/5', '1', 'a/b', '-1/2', '0/0']) expect(() => parseShard(bad)).toThrow(/--shard/);
  });

  it('hashes with FNV-1a, so every machine splits the same way', () => {
    expect(stableHash('a')).toBe(0xe40c292c);
    expect(stableHash('foobar')).toBe(0xbf9cf968);
  });
});

describe('yarn prepare-data (CLI)', () => {
  it('exits 1 with one line naming the problem', () => {
    const empty = path.join(tmp, 'cli-empty');
    const tsx = path.join(REPO, 'node_modules/.bin/tsx');
    expect(existsSync(tsx)).toBe(true);
    const run = (args: string[]): ReturnType<typeof spawnSync> =>
      spawnSync(tsx, ['--tsconfig', 'tsconfig.check.json', 'packages/train/src/cli/prepare_data.ts', ...args], { cwd: REPO, encoding: 'utf8' });
    spawnSync('mkdir', ['-p', empty]);
    const r = run(['--input', empty, '--output', path.join(tmp, 'cli-out'), '--backend', 'cpu']);
    expect(r.status).toBe(1);
    const errLines = String(r.stderr).trim().split('\n').filter((l) => !l.startsWith('[faceshifter]'));
    expect(errLines).toEqual([expect.stringMatching(/^error: No photos in .*cli-empty/)]);
    const missing = run(['--output', path.join(tmp, 'cli-out')]);
    expect(missing.status).toBe(1);
    expect(String(missing.stderr)).toMatch(/Missing --input/);
  });
});

describe('alignment of the stand-in face', () => {
  it('the stand-in detector places the template exactly (sanity check of the helper itself)', async () => {
    const [face] = await centredFace.detect({ width: 64, height: 64, channels: 3, data: new Uint8Array(64 * 64 * 3) });
    const m = alignmentTransform(face!.landmarks5, 64);
    expect(m[0]).toBeCloseTo(1, 6);
    expect(m[2]).toBeCloseTo(0, 6);
  });
});
