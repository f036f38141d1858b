import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveModelConfig } from '../config/model_config.js';
import { loadCheckpointNetworks } from '../node/checkpoint_fs.js';
import { importWeights, inspectWeights } from '../node/weights_commands.js';
import { exportReferenceTensors } from './reference_mapping.js';
import { REFERENCE_PTH_CONFIG } from './test_fixtures/reference_pth/config.js';
import { readWeightsFile } from '../node/weights_file_fs.js';

/** The reference's G_latest.pth / D_latest.pth at a small config, written by torch.save (make_reference_pth.py). */
const fixture = (name: string): string => fileURLToPath(new URL(`./test_fixtures/reference_pth/${name}`, import.meta.url));
const config = resolveModelConfig(REFERENCE_PTH_CONFIG);
let root: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'fs-reference-pth-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('yarn weights import of the reference .pth files', () => {
  it('loads G_latest.pth into AEI-Net and D_latest.pth into the discriminator, every value in place', async () => {
    const out = path.join(root, 'imported');
    const meta = await importWeights({ inputs: [fixture('G_tiny.pth'), fixture('D_tiny.pth')], config, out });
    expect(meta.networks).toEqual(['aei', 'discriminator']);
    const loaded = await loadCheckpointNetworks(out);
    try {
      for (const [network, file] of [['aei', 'G_tiny.pth'], ['discriminator', 'D_tiny.pth']] as const) {
        const pth = await readWeightsFile(fixture(file));
        // Exporting the imported network in the reference layout gives back exactly the .pth's tensors.
        const exported = await exportReferenceTensors(network, loaded.networks[network]!);
        expect(exported.map(([n]) => n)).toEqual([...pth.tensors.keys()]);
        for (const [name, t] of exported) {
          if (t.dtype !== 'F32') continue;
          const want = pth.tensors.get(name)!.toFloat32();
          const got = t.data as Float32Array;
          // Views of larger buffers on some backends: compare exactly the elements' bytes.
          expect(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength)), name).toBe(true);
        }
      }
    } finally {
      loaded.dispose();
    }
  });

  it('names the mismatching tensor when the config is not the one the .pth was trained with', async () => {
    await expect(importWeights({ inputs: [fixture('G_tiny.pth')], config: resolveModelConfig({ ...REFERENCE_PTH_CONFIG, cId: 512 }), out: path.join(root, 'x') })).rejects.toThrow(
      /G_tiny\.pth: generator\.up1\.weight: expected \[512,64,2,2\] \(PyTorch ConvTranspose IOHW\), got \[16,64,2,2\]/,
    );
  });

  it('inspect lists a .pth like a safetensors file', async () => {
    const lines = await inspectWeights(fixture('D_tiny.pth'));
    expect(lines[0]).toBe('# format: pth');
    expect(lines).toContain('layer0.0.weight\tF32\t4x3x4x4');
  });
});
