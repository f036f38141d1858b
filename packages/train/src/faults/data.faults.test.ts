/**
 * Bad training data: undecodable, truncated, empty and missing files and bad manifest rows are skipped with a
 * warning naming them, replaced from a seeded stream (deterministic, also across a resume), counted as
 * data/skipped, and end the run only past data.maxSkipFraction.
 */
import * as tf from '@tensorflow/tfjs';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkImageFile } from '../data/file_check.js';
import { DataSkipError, FacePairLoader, type FacePairLoaderOptions } from '../data/loader.js';
import { train } from '../trainers/run.js';
import { REPO, tensorBoardView } from '../test_utils/faults.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'faults-data-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const quiet = new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream;
const FACES = path.join(REPO, 'datasets/embedded/faces');
const flat = path.join(tmp, 'flat');

/** The bad files of the corpus, with what the header check says (null: it looks whole, the decode finds it). */
const BAD: Record<string, RegExp | null> = {
  'zz-text.png': /not an image/,
  'zz-empty.jpg': /empty file/,
  'zz-cut.png': /truncated PNG/,
  'zz-cut.jpg': /truncated JPEG/,
  'zz-html.jpg': /not an image/,
  // A PNG whose compressed pixel data is damaged but whose end chunk is intact: found when first decoded.
  'zz-damaged-idat.png': null,
};

beforeAll(async () => {
  mkdirSync(flat);
  const good = readdirSync(FACES).filter((n) => n.endsWith('.png')).sort().slice(0, 20);
  for (const n of good) copyFileSync(path.join(FACES, n), path.join(flat, n));
  const png = readFileSync(path.join(FACES, good[0]!));
  const jpg = await sharp(png).jpeg().toBuffer();
  writeFileSync(path.join(flat, 'zz-text.png'), 'this is not a picture\n');
  writeFileSync(path.join(flat, 'zz-empty.jpg'), '');
  writeFileSync(path.join(flat, 'zz-cut.png'), png.subarray(0, Math.floor(png.length / 2)));
  writeFileSync(path.join(flat, 'zz-cut.jpg'), jpg.subarray(0, Math.floor(jpg.length / 2)));
  writeFileSync(path.join(flat, 'zz-html.jpg'), '<html><body>404 Not Found</body></html>');
  const damaged = Buffer.from(png);
  const idat = damaged.indexOf('IDAT');
  for (let i = idat + 8; i < idat + 200 && i < damaged.length - 20; i++) damaged[i] = 0xff;
  writeFileSync(path.join(flat, 'zz-damaged-idat.png'), damaged);
});

const base = (over: Partial<FacePairLoaderOptions> = {}): FacePairLoaderOptions => ({
  source: flat, batchSize: 4, resolution: 16, sameProbability: 0.2, seed: 3, maxSkipFraction: 0.5, warn: () => {}, ...over,
});

async function draw(loader: FacePairLoader, batches: number): Promise<{ indices: number[][]; pixels: number[]; skipped: number[] }> {
  const out = { indices: [] as number[][], pixels: [] as number[], skipped: [] as number[] };
  for (let i = 0; i < batches; i++) {
    const b = await loader.next();
    out.indices.push([...b.targetIndex, ...b.sourceIndex]);
    out.pixels.push(tf.tidy(() => tf.sum(tf.add(b.source, b.target)).dataSync()[0]!));
    out.skipped.push(loader.skipped);
    tf.dispose([b.source, b.target, b.same]);
  }
  return out;
}

describe('bad training data', () => {
  it('the header check names each bad file before step 1 (all but the damaged-inside one)', async () => {
    for (const [name, expected] of Object.entries(BAD)) {
      const problem = await checkImageFile(path.join(flat, name));
      if (expected) expect(problem, name).toMatch(expected);
      else expect(problem, name).toBeNull();
    }
    expect(await checkImageFile(path.join(flat, 'no-such.png'))).toBe('file not found');
    const warnings: string[] = [];
    const loader = await FacePairLoader.open(base({ warn: (l) => warnings.push(l) }));
    expect(loader.skipped).toBe(5);
    for (const name of Object.keys(BAD).filter((n) => BAD[n])) expect(warnings.join('\n')).toContain(`skipping ${path.join(flat, name)}: `);
    loader.dispose();
  });

  it('bad files never reach a batch, their places are filled from a seeded stream: same batches whatever the prefetch, and after a resume', async () => {
    const bad = new Set(readdirSync(flat).sort().map((n, i) => (n.startsWith('zz-') ? i : -1)).filter((i) => i >= 0));
    const a = await FacePairLoader.open(base({ prefetch: 0 }));
    const b = await FacePairLoader.open(base({ prefetch: 4 }));
    const ra = await draw(a, 12);
    const rb = await draw(b, 12);
    expect(rb).toEqual(ra);
    expect(ra.indices.flat().filter((i) => bad.has(i))).toEqual([]);
    // The damaged-inside file is found when first drawn: 6 skipped by the end, counted in batch order.
    expect(ra.skipped.at(-1)).toBe(6);
    // Resume: a loader restored from the state after batch 5 gives batches 6..12 and the same skip counts.
    const c = await FacePairLoader.open(base({ prefetch: 2 }));
    await draw(c, 5);
    const saved = JSON.parse(JSON.stringify(c.state())) as unknown;
    const d = await FacePairLoader.open(base({ prefetch: 1, seed: 3 }));
    d.restore(saved);
    const rd = await draw(d, 7);
    expect(rd.indices).toEqual(ra.indices.slice(5));
    expect(rd.pixels).toEqual(ra.pixels.slice(5));
    expect(rd.skipped).toEqual(ra.skipped.slice(5));
    [a, b, c, d].forEach((l) => l.dispose());
  });

  it('stops past data.maxSkipFraction, before step 1 when the header check already finds too many, naming the first file', async () => {
    await expect(FacePairLoader.open(base({ maxSkipFraction: 0.01 }))).rejects.toThrow(
      /^Training data: 5 of 26 files or manifest rows are unreadable \(19\.23%\), more than data\.maxSkipFraction 0\.01; the first is .*zz-cut\.jpg \(truncated JPEG.*raise data\.maxSkipFraction\.$/,
    );
    // Just enough for the header check, not for the file found later: the run stops when that one is drawn.
    const loader = await FacePairLoader.open(base({ maxSkipFraction: 5 / 26 }));
    const err = await draw(loader, 30).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataSkipError);
    expect((err as Error).message).toMatch(/6 of 26/);
    loader.dispose();
  });

  it('bad manifest rows (empty path, a non-number, a short row) and missing files are skipped by name', async () => {
    const dir = path.join(tmp, 'manifest');
    mkdirSync(dir);
    const names = readdirSync(FACES).filter((n) => n.endsWith('.png')).sort().slice(0, 6);
    for (const n of names) copyFileSync(path.join(FACES, n), path.join(dir, n));
    const lines = ['path,identity,face', ...names.map((n, i) => `${n},id${i % 3},0`)];
    lines.push(',id9,0', `${names[0]},id0,notanumber`, `${names[1]}`, 'gone.png,id1,0');
    writeFileSync(path.join(dir, 'manifest.csv'), lines.join('\n') + '\n');
    const warnings: string[] = [];
    const loader = await FacePairLoader.open(base({ source: dir, warn: (l) => warnings.push(l), maxSkipFraction: 0.5 }));
    expect(loader.skipped).toBe(4);
    const text = warnings.join('\n');
    expect(text).toMatch(/manifest\.csv:8: empty 'path'/);
    expect(text).toMatch(/manifest\.csv:9: column 'face' is 'notanumber', not a number/);
    expect(text).toMatch(/manifest\.csv:10: 1 cells, the header has 3/);
    expect(text).toMatch(/gone\.png: file not found/);
    const r = await draw(loader, 4);
    expect(r.indices.flat().every((i) => i < 6)).toBe(true);
    loader.dispose();
  });

  it('yarn train on a folder with bad files trains on, logging data/skipped in metrics.csv and TensorBoard', async () => {
    const sets = [
      'train.steps=3', 'train.batchSize=2', 'model.resolution=32', 'model.widthMultiplier=0.0625', 'train.logEvery=1', 'train.sampleEvery=100',
      'identity.encoder=face-api-recognition', `data.root=${flat}`, 'data.maxSkipFraction=0.3', 'name=bad-data',
    ];
    const { runDir, result } = await train({ config: path.join(REPO, 'configs/aei-tiny.yaml'), overrides: sets, out: tmp, progressStream: quiet });
    expect(result.outcome).toBe('completed');
    const csv = readFileSync(path.join(runDir, 'metrics.csv'), 'utf8').trim().split('\n');
    const col = csv[0]!.split(',').indexOf('data/skipped');
    expect(col).toBeGreaterThan(0);
    expect(csv.slice(1).map((l) => Number(l.split(',')[col]))).toEqual(expect.arrayContaining([expect.any(Number)]));
    expect(Number(csv[1]!.split(',')[col])).toBeGreaterThanOrEqual(5);
    expect(tensorBoardView(runDir).get('data/skipped')?.map((i) => i.value)).toEqual(csv.slice(1).map((l) => Number(l.split(',')[col])));
  });
});
