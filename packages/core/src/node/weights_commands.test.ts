import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveModelConfig } from '../config/model_config.js';
import { AEINet } from '../models/aei_net.js';
import { HEARNet } from '../models/hear_net.js';
import { MultiscaleDiscriminator } from '../models/multiscale_discriminator.js';
import { loadCheckpointNetworks, saveCheckpoint } from './checkpoint_fs.js';
import { exportWeights, importWeights, inspectWeights } from './weights_commands.js';
import { readSafetensors } from './safetensors_fs.js';
import { randomizeWeights, weightValues } from '../weights/test_utils/weights_fixtures.js';

const config = resolveModelConfig({ preset: 'tiny', resolution: 32 });
let root: string;
let source: string;
let configFile: string;
let originals: Record<string, Map<string, Float32Array>>;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'fs-weights-cmd-'));
  configFile = path.join(root, 'tiny.yaml');
  await writeFile(configFile, 'model:\n  preset: tiny\n  resolution: 32\n');
  const aei = new AEINet(config, { seed: 1 });
  const hearnet = new HEARNet(config, { seed: 1 });
  const discriminator = new MultiscaleDiscriminator(config, { seed: 1 });
  randomizeWeights(aei, 1);
  randomizeWeights(hearnet, 2);
  randomizeWeights(discriminator, 3);
  source = path.join(root, 'source');
  await saveCheckpoint(source, { config, networks: { aei, hearnet, discriminator }, step: 500 });
  originals = { aei: weightValues(aei), hearnet: weightValues(hearnet), discriminator: weightValues(discriminator) };
  for (const m of [aei, hearnet, discriminator]) m.dispose();
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function expectCheckpointMatches(dir: string, networks: string[]): Promise<void> {
  const loaded = await loadCheckpointNetworks(dir);
  expect(Object.keys(loaded.networks).sort()).toEqual([...networks].sort());
  for (const n of networks) {
    const got = weightValues(loaded.networks[n as 'aei']!);
    for (const [name, v] of originals[n]!) expect(Buffer.from(got.get(name)!.buffer).equals(Buffer.from(v.buffer)), `${n} ${name}`).toBe(true);
  }
  loaded.dispose();
}

describe('weights export / import', () => {
  it('exports one network with exactly the reference names, and imports it back into a checkpoint', async () => {
    const out = path.join(root, 'aei.safetensors');
    const r = await exportWeights({ checkpoint: source, out, network: 'aei' });
    expect(r.networks).toEqual(['aei']);
    const st = await readSafetensors(out);
    expect(st.metadata).toMatchObject({ format: 'pt', 'faceshifter-ts.network': 'aei', 'faceshifter-ts.step': '500' });
    expect([...st.tensors.keys()].slice(0, 3)).toEqual(['encoder.conv1.0.weight', 'encoder.conv1.1.weight', 'encoder.conv1.1.bias']);
    expect(st.tensors.get('encoder.conv1.0.weight')!.shape).toEqual([8, 3, 4, 4]);
    expect(st.tensors.get('encoder.conv1.1.num_batches_tracked')).toMatchObject({ dtype: 'I64', shape: [] });

    const dir = path.join(root, 'imported-aei');
    const meta = await importWeights({ inputs: [out], config: configFile, out: dir });
    expect(meta).toMatchObject({ networks: ['aei'], step: null, extra: { importedFrom: { aei: out } } });
    await expectCheckpointMatches(dir, ['aei']);
  });

  it('exports all networks into one prefixed file and imports them all, detecting the layout', async () => {
    const out = path.join(root, 'all.safetensors');
    const r = await exportWeights({ checkpoint: source, out, network: 'all' });
    expect(r.networks).toEqual(['aei', 'hearnet', 'discriminator']);
    const names = [...(await readSafetensors(out)).tensors.keys()];
    expect(names).toContain('hearnet.down1.0.weight');
    expect(names).toContain('discriminator.layer0.0.weight');
    expect(names).toContain('aei.generator.up1.weight');
    const dir = path.join(root, 'imported-all');
    await importWeights({ inputs: [out], config: configFile, out: dir });
    await expectCheckpointMatches(dir, ['aei', 'hearnet', 'discriminator']);
  });

  it('imports separate reference files (AEI-Net and D) by their tensor names alone', async () => {
    const g = path.join(root, 'G.safetensors');
    const d = path.join(root, 'D.safetensors');
    await exportWeights({ checkpoint: source, out: g, network: 'aei' });
    await exportWeights({ checkpoint: source, out: d, network: 'discriminator' });
    // Strip our metadata so detection relies on the names, as for a file converted from a reference .pth.
    const { writeSafetensors } = await import('./safetensors_fs.js');
    for (const f of [g, d]) {
      const st = await readSafetensors(f);
      await writeSafetensors(f, [...st.tensors.values()].map((e) => [e.name, { dtype: e.dtype, shape: e.shape, data: e.raw() }] as const));
    }
    const dir = path.join(root, 'imported-gd');
    await importWeights({ inputs: [g, d], config: configFile, out: dir });
    await expectCheckpointMatches(dir, ['aei', 'discriminator']);
    await expect(importWeights({ inputs: [g, g], config: configFile, out: path.join(root, 'twice') })).rejects.toThrow(
      `${g}: aei weights were already read from ${g}`,
    );
  });

  it('refuses a file for another config, naming the tensor and both shapes, and writes nothing', async () => {
    const out = path.join(root, 'aei2.safetensors');
    await exportWeights({ checkpoint: source, out, network: 'aei' });
    const wide = path.join(root, 'wide.yaml');
    await writeFile(wide, 'model:\n  preset: tiny\n  resolution: 32\n  widthMultiplier: 0.5\n');
    const before = tf.memory().numTensors;
    await expect(importWeights({ inputs: [out], config: wide, out: path.join(root, 'never') })).rejects.toThrow(
      `${out}: encoder.conv1.0.weight: expected [16,3,4,4] (PyTorch OIHW), got [8,3,4,4]`,
    );
    expect(tf.memory().numTensors).toBe(before);
    await expect(loadCheckpointNetworks(path.join(root, 'never'))).rejects.toThrow('no such checkpoint directory');
  });

  it('inspect lists names, dtypes and shapes', async () => {
    const out = path.join(root, 'hear.safetensors');
    await exportWeights({ checkpoint: source, out, network: 'hearnet' });
    const lines = await inspectWeights(out);
    expect(lines).toContain('# faceshifter-ts.network: hearnet');
    expect(lines).toContain('down1.0.weight\tF32\t16x6x4x4');
    expect(lines).toContain('down1.1.num_batches_tracked\tI64\tscalar');
  });
});

describe('yarn weights (the command line)', () => {
  const repo = fileURLToPath(new URL('../../../../', import.meta.url));
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', path.join(repo, 'packages/core/src/node/cli/weights.ts'), '--backend', 'cpu', ...args], {
      cwd: repo,
      encoding: 'utf8',
      env: { ...process.env, TSX_TSCONFIG_PATH: path.join(repo, 'tsconfig.check.json') },
    });

  it('exports a checkpoint and prints one summary line', () => {
    const out = path.join(root, 'cli.safetensors');
    const r = run('export', '--checkpoint', source, '--out', out, '--network', 'hearnet');
    expect(r.stderr).not.toContain('error');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^wrote ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: hearnet, \\d+ tensors, [\\d.]+ MiB\\n$`));
  });

  it('fails with one line naming the missing file', () => {
    const r = run('import', '--in', path.join(root, 'missing.safetensors'), '--config', configFile, '--out', path.join(root, 'x'));
    expect(r.status).toBe(1);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'));
    expect(errors).toEqual([`error: ${path.join(root, 'missing.safetensors')}: no such file`]);
  });
});
