import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AEINet, encodePng, resolveModelConfig } from '@faceshifter/core/node';
import { afterAll, describe, expect, it } from 'vitest';
import { projectionIdentity } from '../test_utils/synthetic.js';
import { selectHearImages } from './hear_select.js';
import { manifestToCsv, readManifestFile } from './manifest.js';

const dir = mkdtempSync(join(tmpdir(), 'hear-select-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('selectHearImages', () => {
  it('keeps the top fraction by heuristic error, as a manifest whose paths resolve', async () => {
    mkdirSync(join(dir, 'faces'));
    const rows = [0, 1, 2, 3].map((k) => {
      const data = new Uint8Array(32 * 32 * 3).map((_, i) => (i * (k + 1) * 13) & 0xff);
      writeFileSync(join(dir, 'faces', `${k}.png`), encodePng({ width: 32, height: 32, channels: 3, data }));
      return { path: `faces/${k}.png`, identity: `id${k}`, source: `${k}.jpg`, face: 0, score: 1, detector: 'test', box: [0, 0, 32, 32] as [number, number, number, number], landmarks: [] };
    });
    writeFileSync(join(dir, 'manifest.csv'), manifestToCsv(rows));
    const aei = new AEINet(resolveModelConfig({ preset: 'tiny', resolution: 32, widthMultiplier: 0.0625 }), { seed: 2 });
    const r = await selectHearImages(aei, projectionIdentity(128), { dataset: dir, top: 0.5, progress: false });
    aei.dispose();
    expect([r.kept, r.total]).toEqual([2, 4]);
    expect(r.ranked.map((x) => x.error)).toEqual([...r.ranked.map((x) => x.error)].sort((a, b) => b - a));
    const kept = await readManifestFile(r.out);
    expect(kept.map((k) => k.path)).toEqual(r.ranked.slice(0, 2).map((x) => x.path));
    for (const k of kept) expect(existsSync(join(dir, k.path))).toBe(true);
    expect(readFileSync(join(dir, 'manifest-hear.errors.csv'), 'utf8').split('\n')[0]).toBe('path,heuristic_error');
    await expect(selectHearImages(aei, projectionIdentity(128), { dataset: dir, top: 0 })).rejects.toThrow(/--top 0: expected a fraction/);
  });
});
