import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveModelConfig } from '../config/model_config.js';
import { loadCheckpointNetworks } from '../node/checkpoint_fs.js';
import { exportWeights, importWeights, inspectWeights } from '../node/weights_commands.js';
import { expectIdentityWeights, loadReferenceAEI, weightsKind } from './reference_config.js';
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

describe('the reference files used as they are (no --config)', () => {
  it("reads the model config from G_latest.pth's shapes and loads every tensor", async () => {
    const file = await readWeightsFile(fixture('G_tiny.pth'));
    expect(weightsKind(file)).toBe('aei');
    const { aei, config: inferred, faces } = loadReferenceAEI(file);
    try {
      const { discriminator: _d, preset: _p, ...aeiPart } = config;
      const { discriminator: _d2, preset: _p2, ...inferredPart } = inferred;
      expect(inferredPart).toEqual(aeiPart);
      expect(faces).toEqual({ align: 'reference', channels: 'bgr' });
      const exported = await exportReferenceTensors('aei', aei);
      const want = file.tensors.get('generator.up1.weight')!.toFloat32();
      const got = exported.find(([n]) => n === 'generator.up1.weight')![1].data as Float32Array;
      expect(Array.from(got)).toEqual(Array.from(want));
    } finally {
      aei.dispose();
    }
  });

  it('weights import records the reference alignment and channel order; export writes them and import reads them back', async () => {
    const out = path.join(root, 'implied');
    const meta = await importWeights({ inputs: [fixture('G_tiny.pth')], out });
    expect(meta.faces).toEqual({ align: 'reference', channels: 'bgr' });
    const st = path.join(root, 'implied.safetensors');
    await exportWeights({ checkpoint: out, out: st, network: 'aei' });
    const written = await readWeightsFile(st);
    expect([written.metadata['faces.align'], written.metadata['faces.channels']]).toEqual(['reference', 'bgr']);
    const again = await importWeights({ inputs: [st], out: path.join(root, 'again'), align: 'insightface' });
    expect(again.faces).toEqual({ align: 'insightface', channels: 'bgr' });
  });

  it('names what a wrong file holds and the option it belongs to', async () => {
    const d = await readWeightsFile(fixture('D_tiny.pth'));
    expect(() => loadReferenceAEI(d)).toThrow(/D_tiny\.pth: not an AEI-Net generator \(G_latest\.pth\): it holds a discriminator/);
    const ir = await readWeightsFile(fileURLToPath(new URL('../identity/test_fixtures/ir_se_small.pth', import.meta.url)));
    expect(weightsKind(ir)).toBe('identity');
    expect(() => expectIdentityWeights(ir)).not.toThrow();
    const g = await readWeightsFile(fixture('G_tiny.pth'));
    expect(() => expectIdentityWeights(g)).toThrow(/G_tiny\.pth: is an AEI-Net generator \(G_latest\.pth\), not a face-recognition network; pass it as --weights/);
  });
});
