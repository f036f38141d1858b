import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModelConfig } from '../node/config_files.js';
import { modelConfigFromDocument, MODEL_PRESET_VALUES, resolveModelConfig } from './model_config.js';
import { ConfigError } from './schema.js';

const repoConfig = (name: string): string => new URL(`../../../../configs/${name}`, import.meta.url).pathname;

describe('resolveModelConfig', () => {
  it('gives the paper preset (section 7) when nothing is set', () => {
    expect(resolveModelConfig()).toEqual({
      preset: 'paper',
      resolution: 256,
      widthMultiplier: 1,
      cId: 512,
      attributes: 'multi',
      aad: { mask: 'learned', gammaBetaKernel: 1, norm: 'instance' },
      generator: { integration: 'aad' },
      discriminator: { numD: 3, nLayers: 6, norm: 'instance', baseChannels: 64 },
    });
  });

  it('overlays keys on the named preset, nested slices key by key', () => {
    const c = resolveModelConfig({ preset: 'tiny', cId: 64, aad: { mask: 'constant' } });
    expect(c.resolution).toBe(64);
    expect(c.cId).toBe(64);
    expect(c.aad).toEqual({ ...MODEL_PRESET_VALUES.tiny.aad, mask: 'constant' });
  });

  it('names an unknown key with its path and lists the valid keys', () => {
    expect(() => resolveModelConfig({ aad: { maks: 'learned' } })).toThrow(
      'model.aad.maks: unknown key; valid keys: mask, gammaBetaKernel, norm',
    );
    expect(() => resolveModelConfig({ resolutoin: 64 })).toThrow(/^model\.resolutoin: unknown key; valid keys: preset, resolution, /);
  });

  it('names a bad value with its path, the value and the allowed values', () => {
    expect(() => resolveModelConfig({ aad: { mask: 'soft' } })).toThrow(
      `model.aad.mask: expected one of "learned", "constant", "sum", "none", got "soft"`,
    );
    expect(() => resolveModelConfig({ aad: { gammaBetaKernel: 2 } })).toThrow('model.aad.gammaBetaKernel: expected one of 1, 3, got 2');
    expect(() => resolveModelConfig({ cId: 12.5 })).toThrow('model.cId: expected an integer >= 1, got number 12.5');
    expect(() => resolveModelConfig({ widthMultiplier: '1' })).toThrow('model.widthMultiplier: expected a number > 0 and <= 4, got string "1"');
    expect(() => resolveModelConfig({ discriminator: { norm: 'group' } })).toThrow(/^model\.discriminator\.norm: expected one of "instance", "batch", "none"/);
    expect(() => resolveModelConfig({ preset: 'huge' })).toThrow(`model.preset: expected one of "paper", "tiny", got "huge"`);
    expect(() => resolveModelConfig({ aad: 'learned' })).toThrow(/^model\.aad: expected a mapping with keys mask, gammaBetaKernel, norm, got string "learned"/);
  });

  it('rejects a resolution that is not a power of two in 32..1024', () => {
    expect(() => resolveModelConfig({ resolution: 48 })).toThrow('model.resolution: expected a power of two between 32 and 1024, got 48');
    expect(() => resolveModelConfig({ resolution: 16 })).toThrow('model.resolution: expected an integer >= 32 and <= 1024, got 16');
    expect(() => resolveModelConfig({ resolution: 2048 })).toThrow(/model\.resolution: .* got 2048/);
    for (let r = 32; r <= 1024; r *= 2) expect(resolveModelConfig({ resolution: r }).resolution).toBe(r);
  });

  it('throws ConfigError with the path as a field', () => {
    try {
      resolveModelConfig({ discriminator: { numD: 0 } });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).path).toBe('model.discriminator.numD');
    }
  });
});

describe('modelConfigFromDocument / loadModelConfig', () => {
  it('validates only the model section and accepts the sections the train package owns', () => {
    const c = modelConfigFromDocument({ name: 'x', seed: 1, data: { root: '/d' }, train: { steps: 5 }, model: { preset: 'tiny' } });
    expect(c.preset).toBe('tiny');
    expect(() => modelConfigFromDocument({ name: 'x' })).toThrow("model: config has no top-level 'model:' section");
  });

  it('reads configs/aei.yaml (paper preset, face-api identity: c_id 128) and configs/aei-tiny.yaml', () => {
    const aei = loadModelConfig(repoConfig('aei.yaml'));
    expect(aei).toEqual({ ...MODEL_PRESET_VALUES.paper, cId: 128 });
    const tiny = loadModelConfig(repoConfig('aei-tiny.yaml'));
    expect([tiny.resolution, tiny.widthMultiplier, tiny.cId]).toEqual([64, 0.25, 128]);
  });

  it('names the file on a YAML syntax error or a bad key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fs-config-'));
    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'model:\n  resolution: [64\n');
    expect(() => loadModelConfig(broken)).toThrow(new RegExp(`^${broken}: invalid YAML: `));
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'model:\n  aad:\n    maks: learned\n');
    expect(() => loadModelConfig(bad)).toThrow(`model.aad.maks: unknown key; valid keys: mask, gammaBetaKernel, norm (in ${bad})`);
    expect(() => loadModelConfig(join(dir, 'missing.yaml'))).toThrow(/^cannot read config file .*missing\.yaml/);
  });
});
