import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveModelConfig } from '../config/model_config.js';
import { AEINet } from '../models/aei_net.js';
import { HEARNet } from '../models/hear_net.js';
import { MultiscaleDiscriminator } from '../models/multiscale_discriminator.js';
import { COMPLETE_MARKER, writeDirectoryAtomic, writeStagedFile } from '../node/atomic_fs.js';
import { CHECKPOINT_FORMAT } from './checkpoint.js';
import { loadCheckpoint, loadCheckpointNetworks, readCheckpoint, resolveCheckpointDir, saveCheckpoint, writeCheckpointFiles } from '../node/checkpoint_fs.js';
import { readSafetensors } from '../node/safetensors_fs.js';
import { expectSameBits, randomizeWeights, weightValues } from './test_utils/weights_fixtures.js';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'fs-checkpoint-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const config = resolveModelConfig({ preset: 'tiny', resolution: 32 });

function expectSameWeights(a: tf.LayersModel, b: tf.LayersModel): void {
  const wa = weightValues(a);
  const wb = weightValues(b);
  expect([...wb.keys()]).toEqual([...wa.keys()]);
  for (const [name, v] of wa) expect(Buffer.from(wb.get(name)!.buffer).equals(Buffer.from(v.buffer)), name).toBe(true);
}

async function siblings(dir: string): Promise<string[]> {
  const base = path.basename(dir);
  return (await readdir(path.dirname(dir))).filter((n) => n.startsWith(`${base}.`));
}

describe('checkpoint directory', () => {
  it('save → load round-trips every weight and the outputs bit for bit', async () => {
    const dir = path.join(root, 'step-1');
    const aei = new AEINet(config, { seed: 1 });
    const hear = new HEARNet(config, { seed: 1 });
    const d = new MultiscaleDiscriminator(config, { seed: 1 });
    randomizeWeights(aei, 1);
    randomizeWeights(hear, 2);
    randomizeWeights(d, 3);
    const meta = await saveCheckpoint(dir, { config, networks: { aei, hearnet: hear, discriminator: d }, step: 1234, extra: { note: 'x' } });
    expect(meta.step).toBe(1234);
    expect((await readdir(dir)).sort()).toEqual([COMPLETE_MARKER, 'aei.safetensors', 'config.yaml', 'discriminator.safetensors', 'hearnet.safetensors', 'meta.json']);
    expect(await siblings(dir)).toEqual([]);

    const onDisk = JSON.parse(await readFile(path.join(dir, 'meta.json'), 'utf8'));
    expect(onDisk).toMatchObject({ format: CHECKPOINT_FORMAT, version: 1, tool: { name: '@faceshifter/core' }, step: 1234, networks: ['aei', 'hearnet', 'discriminator'], extra: { note: 'x' } });
    expect(Date.parse(onDisk.created)).not.toBeNaN();
    // Our names and NHWC layouts, BatchNorm moving statistics included.
    const st = await readSafetensors(path.join(dir, 'aei.safetensors'));
    expect(st.metadata).toMatchObject({ layout: 'tfjs-nhwc', network: 'aei', step: '1234' });
    expect(st.tensors.get('encoder.conv1.0/kernel')!.shape).toEqual([4, 4, 3, 8]);
    expect(st.tensors.has('encoder.conv1.1/moving_variance')).toBe(true);

    const aei2 = new AEINet(config, { seed: 9 });
    const hear2 = new HEARNet(config, { seed: 9 });
    const d2 = new MultiscaleDiscriminator(config, { seed: 9 });
    const info = await loadCheckpoint(dir, { aei: aei2, hearnet: hear2, discriminator: d2 });
    expect(info.config).toEqual(config);
    expectSameWeights(aei, aei2);
    expectSameWeights(hear, hear2);
    expectSameWeights(d, d2);

    const x = tf.randomUniform([1, 32, 32, 3], -1, 1, 'float32', 4);
    const z = tf.randomNormal([1, config.cId], 0, 1, 'float32', 5);
    const out1 = [...(aei.predict([x, z]) as tf.Tensor[]), hear.predict([x, x]) as tf.Tensor, ...(d.predict(x) as tf.Tensor[])];
    const out2 = [...(aei2.predict([x, z]) as tf.Tensor[]), hear2.predict([x, x]) as tf.Tensor, ...(d2.predict(x) as tf.Tensor[])];
    expectSameBits(out2, out1);
    tf.dispose([...out1, ...out2, x, z]);
    for (const m of [aei, hear, d, aei2, hear2, d2]) m.dispose();
  });

  it('builds the networks from its config.yaml (loadCheckpointNetworks), without leaking tensors', async () => {
    const dir = path.join(root, 'built');
    const hear = new HEARNet(config, { seed: 1 });
    randomizeWeights(hear, 4);
    await saveCheckpoint(dir, { config, networks: { hearnet: hear } });
    const before = tf.memory().numTensors;
    const loaded = await loadCheckpointNetworks(dir);
    expect(Object.keys(loaded.networks)).toEqual(['hearnet']);
    expect(loaded.meta.step).toBeNull();
    expectSameWeights(hear, loaded.networks.hearnet!);
    loaded.dispose();
    expect(tf.memory().numTensors).toBe(before);
    await expect(loadCheckpointNetworks(dir, { only: ['aei'] })).rejects.toThrow(`${dir}: has no aei weights (it holds hearnet)`);
    expect(tf.memory().numTensors).toBe(before);
    hear.dispose();
  });

  it('a crash while writing leaves the previous checkpoint intact and loadable', async () => {
    const dir = path.join(root, 'crash');
    const d = new MultiscaleDiscriminator(config, { seed: 1 });
    randomizeWeights(d, 5);
    await saveCheckpoint(dir, { config, networks: { discriminator: d }, step: 1 });
    const saved = weightValues(d);

    randomizeWeights(d, 6);
    await expect(
      saveCheckpoint(dir, {
        config,
        networks: { discriminator: d },
        step: 2,
        // The network files and meta.json are written by now; the optimizer state fails half-way.
        writeExtraFiles: async (staging) => {
          await writeStagedFile(path.join(staging, 'optimizer.safetensors'), 'partial');
          throw new Error('disk full');
        },
      }),
    ).rejects.toThrow('disk full');
    expect(await siblings(dir)).toEqual([]);
    expect((await readCheckpoint(dir)).meta.step).toBe(1);
    const d2 = new MultiscaleDiscriminator(config, { seed: 2 });
    await loadCheckpoint(dir, { discriminator: d2 });
    const reloaded = weightValues(d2);
    for (const [name, v] of saved) expect(Buffer.from(reloaded.get(name)!.buffer).equals(Buffer.from(v.buffer)), name).toBe(true);
    d.dispose();
    d2.dispose();
  });

  it('a crash between the two renames is recovered: the new copy if complete, else the previous one', async () => {
    const dir = path.join(root, 'renames');
    const d = new MultiscaleDiscriminator(config, { seed: 1 });
    await saveCheckpoint(dir, { config, networks: { discriminator: d }, step: 1 });
    // State after "rename old aside", before "rename new into place": only the set-aside copy exists.
    await rename(dir, `${dir}.old-123-abcd`);
    const lines: string[] = [];
    expect(await resolveCheckpointDir(dir, (l) => lines.push(l))).toBe(`${dir}.old-123-abcd`);
    expect(lines[0]).toContain('a save was interrupted');
    // With the complete staged new copy present too, that one wins.
    await writeDirectoryAtomic(`${dir}-staged`, async (s) => {
      await writeCheckpointFiles(s, { config, networks: { discriminator: d }, step: 2 });
    });
    await rename(`${dir}-staged`, `${dir}.tmp-456-ef01`);
    expect(await resolveCheckpointDir(dir, () => {})).toBe(`${dir}.tmp-456-ef01`);
    // A staging directory that never finished is ignored.
    await rm(path.join(`${dir}.tmp-456-ef01`, COMPLETE_MARKER));
    expect(await resolveCheckpointDir(dir, () => {})).toBe(`${dir}.old-123-abcd`);
    // The next successful save cleans all of that up.
    await saveCheckpoint(dir, { config, networks: { discriminator: d }, step: 3 });
    expect(await siblings(dir)).toEqual([]);
    expect((await readCheckpoint(dir)).meta.step).toBe(3);
    d.dispose();
  });

  it('composes with a trainer that stages its own files (writeDirectoryAtomic + writeCheckpointFiles)', async () => {
    const dir = path.join(root, 'trainer');
    const hear = new HEARNet(config, { seed: 1 });
    await writeDirectoryAtomic(dir, async (staging) => {
      await writeCheckpointFiles(staging, { config, networks: { hearnet: hear }, step: 7 });
      await writeFile(path.join(staging, 'optimizer.json'), '{}');
    });
    const hear2 = new HEARNet(config, { seed: 2 });
    const info = await loadCheckpoint(dir, { hearnet: hear2 });
    expect(info.meta.step).toBe(7);
    expectSameWeights(hear, hear2);
    hear.dispose();
    hear2.dispose();
  });

  it('loading into networks of another config names the tensor and both shapes (our layout)', async () => {
    const dir = path.join(root, 'mismatch');
    const aei = new AEINet(config, { seed: 1 });
    await saveCheckpoint(dir, { config, networks: { aei } });
    const other = new AEINet(resolveModelConfig({ preset: 'tiny', resolution: 32, cId: 64 }), { seed: 1 });
    await expect(loadCheckpoint(dir, { aei: other })).rejects.toThrow(
      `${path.join(dir, 'aei.safetensors')}: generator.up1/kernel: expected [2,2,256,64] (tfjs conv2dTranspose [kh,kw,out,in]), got [2,2,256,128]; was the checkpoint saved with another model config?`,
    );
    aei.dispose();
    other.dispose();
  });

  it('one-line errors for a missing or foreign directory', async () => {
    await expect(readCheckpoint(path.join(root, 'nope'))).rejects.toThrow(`${path.join(root, 'nope')}: no such checkpoint directory`);
    await expect(readCheckpoint(root)).rejects.toThrow(`${root}: not a checkpoint (no meta.json)`);
  });
});
