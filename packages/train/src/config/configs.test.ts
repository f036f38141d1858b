import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_IDENTITY_ENCODER, loadTrainConfig } from './train_config.js';

const root = join(import.meta.dirname, '../../../../configs');

describe('shipped configs', () => {
  it.each(readdirSync(root).filter((f) => f.endsWith('.yaml')))('%s is a valid training config', (file) => {
    const c = loadTrainConfig(join(root, file));
    expect(c.name).toBe(file.replace(/\.yaml$/, ''));
  });

  it('aei.yaml is the paper preset with the default identity encoder, which every shipped config shares', () => {
    const c = loadTrainConfig(join(root, 'aei.yaml'));
    expect(c.model).toMatchObject({ resolution: 256, widthMultiplier: 1, cId: 128, attributes: 'multi', aad: { mask: 'learned', gammaBetaKernel: 1, norm: 'instance' }, discriminator: { numD: 3, nLayers: 6, norm: 'instance' } });
    expect(c.identity.encoder).toBe(DEFAULT_IDENTITY_ENCODER);
    // HEAR-Net refuses an AEI-Net run trained with another encoder, so the shipped pairs must agree.
    for (const f of ['aei-tiny.yaml', 'hear.yaml', 'hear-tiny.yaml']) expect(loadTrainConfig(join(root, f)).identity.encoder, f).toBe(DEFAULT_IDENTITY_ENCODER);
  });

  it('aei-arcface.yaml is the paper preset at c_id 512 with the reference\'s IR-SE50 from its .pth', () => {
    const c = loadTrainConfig(join(root, 'aei-arcface.yaml'));
    expect(c.model).toMatchObject({ resolution: 256, widthMultiplier: 1, cId: 512, aad: { mask: 'learned' }, discriminator: { numD: 3, nLayers: 6 } });
    expect(c.identity).toEqual({ encoder: 'arcface-ir-se50', weights: 'weights/model_ir_se50.pth' });
  });

  it('aei-tiny.yaml is the 64 px, width ¼, batch 4 shape that the PyTorch comparison uses, on the embedded faces', () => {
    const c = loadTrainConfig(join(root, 'aei-tiny.yaml'));
    expect([c.model.resolution, c.model.widthMultiplier, c.train.batchSize, c.data.root]).toEqual([64, 0.25, 4, 'datasets/embedded']);
  });
});
