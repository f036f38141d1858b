import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { manifestToCsv, readManifest, readManifestFile, type ManifestRow } from './manifest.js';

const row = (p: string, identity: string): ManifestRow => ({
  path: p,
  identity,
  source: `photos/${p}`,
  face: 0,
  score: 0.98765,
  detector: 'ssd',
  box: [1.234, 2, 30, 40.5],
  landmarks: [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10.555]],
});

describe('manifest CSV', () => {
  it('round-trips rows, quoting paths with commas, quotes and newlines', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'faceshifter-manifest-'));
    const rows = [row('faces/a,b.png', 'id "one"'), row('faces/c\nd.png', 'two')];
    await fs.writeFile(path.join(dir, 'manifest.csv'), manifestToCsv(rows));
    const back = await readManifestFile(path.join(dir, 'manifest.csv'));
    expect(back.map((r) => [r.path, r.identity])).toEqual([['faces/a,b.png', 'id "one"'], ['faces/c\nd.png', 'two']]);
    expect(back[0]!.score).toBe(0.9877);
    expect(back[0]!.box).toEqual([1.23, 2, 30, 40.5]);
    expect(back[0]!.landmarks[4]).toEqual([9, 10.56]);
    expect((await readManifest(dir)).root).toBe(dir);
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('accepts a minimal path,identity manifest and names the line of a bad number', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'faceshifter-manifest-'));
    await fs.writeFile(path.join(dir, 'min.csv'), 'path,identity\na.png,x\nb.png,\n');
    const rows = await readManifestFile(path.join(dir, 'min.csv'));
    expect(rows.map((r) => r.identity)).toEqual(['x', 'b.png']);
    await fs.writeFile(path.join(dir, 'bad.csv'), 'path,identity,face\na.png,x,zero\n');
    await expect(readManifestFile(path.join(dir, 'bad.csv'))).rejects.toThrow(/bad\.csv:2: column 'face' is 'zero'/);
    await fs.writeFile(path.join(dir, 'nopath.csv'), 'file,identity\na.png,x\n');
    await expect(readManifestFile(path.join(dir, 'nopath.csv'))).rejects.toThrow(/no 'path' column/);
    await expect(readManifest(path.join(dir, 'missing'))).rejects.toThrow(/does not exist.*prepare-data/);
    await fs.rm(dir, { recursive: true, force: true });
  });
});
