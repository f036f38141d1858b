import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng } from '../image/png.js';
import { parsePth } from '../weights/pth.js';
import { readSafetensors } from './safetensors_fs.js';
import { embedImage, importIdentityWeights } from './identity_commands.js';
import { loadIdentityEncoder } from '../identity/registry.js';

const weights = fileURLToPath(new URL('../identity/test_fixtures/ir_se_small.pth', import.meta.url));
let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'fs-identity-cmd-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A seeded 112² RGB image, written as PNG. */
async function png(name: string, side: number): Promise<{ file: string; data: Uint8Array }> {
  const data = new Uint8Array(side * side * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919 + (i >> 5) * 31) % 256;
  const file = path.join(root, name);
  await writeFile(file, encodePng({ width: side, height: side, channels: 3, data }));
  return { file, data };
}

describe('yarn identity import', () => {
  it('stores the checked .pth as safetensors under the PyTorch names; the encoder gives the same embeddings from either', async () => {
    const out = path.join(root, 'irse.safetensors');
    const r = await importIdentityWeights({ encoder: 'arcface-ir-se', input: weights, out });
    expect(r.architecture).toEqual({ mode: 'ir_se', units: [2, 2, 1, 1], channels: [16, 24, 32, 40], embedding: 32 });
    const st = await readSafetensors(out);
    expect(st.metadata['faceshifter-ts.identity-encoder']).toBe('arcface-ir-se');
    expect(st.tensors.get('input_layer.0.weight')!.shape).toEqual([16, 3, 3, 3]);
    const a = await loadIdentityEncoder('arcface-ir-se', { weights });
    const b = await loadIdentityEncoder('arcface-ir-se', { weights: out });
    const x = tf.randomUniform([1, 64, 64, 3], -1, 1, 'float32', 9) as tf.Tensor4D;
    const za = a.embed(x);
    const zb = b.embed(x);
    expect(Array.from(zb.dataSync())).toEqual(Array.from(za.dataSync()));
    tf.dispose([x, za, zb]);
    a.dispose();
    b.dispose();
    await expect(importIdentityWeights({ encoder: 'human-faceres', input: weights, out })).rejects.toThrow(/only the InsightFace encoders load PyTorch weights/);
    await expect(importIdentityWeights({ encoder: 'iresnet50', input: weights, out })).rejects.toThrow(/not an insightface iresnet state_dict/);
  });
});

describe('yarn identity-embed', () => {
  it('--aligned-112 on a PNG gives what PyTorch gives on it (PIL, (p/255 − 0.5)/0.5, as arcface_torch feeds it)', async () => {
    const fixtures = new URL('../identity/test_fixtures/', import.meta.url);
    const r = await embedImage({ encoder: 'iresnet', weights: fileURLToPath(new URL('iresnet_small.pth', fixtures)), image: fileURLToPath(new URL('face112.png', fixtures)), aligned112: true });
    const io = parsePth(new Uint8Array(await readFile(new URL('parity_io.pth', fixtures))), 'parity_io.pth');
    const want = io.tensors.get('iresnet.png_embedding')!.toFloat32();
    let m = 0;
    for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(r.embedding[i]! - want[i]!));
    expect(m).toBeLessThan(1e-5);
  });

  it('--aligned-112 feeds the crop as (p/255 − 0.5)/0.5 with no warp; without it, the FFHQ warp', async () => {
    const { file, data } = await png('face112.png', 112);
    const r = await embedImage({ encoder: 'arcface-ir-se', weights, image: file, aligned112: true });
    expect(r.dim).toBe(32);
    const enc = await loadIdentityEncoder('arcface-ir-se', { weights, input: 'aligned-112' });
    const x = tf.tidy(() => tf.div(tf.sub(tf.div(tf.tensor4d(Float32Array.from(data), [1, 112, 112, 3]), 255), 0.5), 0.5) as tf.Tensor4D);
    const want = enc.embed(x);
    const got = r.embedding;
    const w = want.dataSync();
    for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - w[i]!)).toBeLessThan(1e-5);
    tf.dispose([x, want]);
    enc.dispose();
    const warped = await embedImage({ encoder: 'arcface-ir-se', weights, image: file });
    expect(Math.hypot(...warped.embedding)).toBeCloseTo(1, 5);
    const big = await png('face256.png', 256);
    await expect(embedImage({ encoder: 'arcface-ir-se', weights, image: big.file, aligned112: true })).rejects.toThrow(/--aligned-112 needs a 112×112 crop, got 256×256/);
  });
});
