import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify as stringifyYaml } from 'yaml';
import { applyOverrides, DEFAULT_IDENTITY_ENCODER, resolveTrainConfig, trainedIdentityEncoder } from './train_config.js';

const minimal = (): Record<string, unknown> => ({
  name: 'unit',
  seed: 1,
  model: { preset: 'tiny' },
  data: { root: 'datasets/embedded' },
  train: { steps: 10, batchSize: 2 },
});

describe('training config', () => {
  it('applies the paper defaults to a minimal config', () => {
    const c = resolveTrainConfig(minimal());
    expect(c.stage).toBe('aei');
    expect(c.train).toMatchObject({ lr: 4e-4, lrD: 4e-4, beta1: 0, beta2: 0.999, weights: { adv: 1, att: 10, id: 5, rec: 10 } });
    expect(c.data).toMatchObject({ sameProbability: 0.2, flip: true, colorJitter: { brightness: 0.2, contrast: 0.2, saturation: 0.2, hue: 0.01 } });
    expect(c.identity.encoder).toBe('face-api-recognition-centred');
    expect(c.model.resolution).toBe(64);
  });

  it('faces: ffhq and RGB by default; the reference alignment and BGR by name; a bad value names the key and the choices', () => {
    expect(resolveTrainConfig(minimal()).faces).toEqual({ align: 'ffhq', channels: 'rgb' });
    expect(resolveTrainConfig({ ...minimal(), faces: { align: 'reference', channels: 'bgr' } }).faces).toEqual({ align: 'reference', channels: 'bgr' });
    expect(() => resolveTrainConfig({ ...minimal(), faces: { align: 'arcface' } })).toThrow(/^faces\.align: .*ffhq.*reference.*insightface/);
    expect(() => resolveTrainConfig({ ...minimal(), faces: { aling: 'reference' } })).toThrow(/^faces\.aling: unknown key; valid keys: align, channels$/);
  });

  it('names an unknown key, at any depth, with the valid keys', () => {
    expect(() => resolveTrainConfig({ ...minimal(), trian: {} })).toThrow(/^trian: unknown key; valid keys: name, seed, stage, identity, faces, data, train, hear, model$/);
    expect(() => resolveTrainConfig(applyOverrides(minimal(), ['train.stpes=3']))).toThrow(/^train\.stpes: unknown key/);
    expect(() => resolveTrainConfig(applyOverrides(minimal(), ['model.aad.maks=none']))).toThrow(/^model\.aad\.maks: unknown key; valid keys: mask, gammaBetaKernel, norm/);
    expect(() => resolveTrainConfig(applyOverrides(minimal(), ['train.weights.idd=1']))).toThrow(/^train\.weights\.idd: unknown key/);
  });

  it('names a missing required key and a bad value', () => {
    const { train: _, ...noTrain } = minimal();
    expect(() => resolveTrainConfig(noTrain)).toThrow(/^train: required key is missing/);
    expect(() => resolveTrainConfig(applyOverrides(minimal(), ['train.steps=0']))).toThrow(/^train\.steps: expected an integer >= 1, got 0/);
    expect(() => resolveTrainConfig(applyOverrides(minimal(), ['data.sameProbability=1.5']))).toThrow(/^data\.sameProbability: expected a number >= 0 and <= 1/);
  });

  it('identity.weights: required by the InsightFace encoders, refused by the packaged ones, c_id checked', () => {
    const arc = (sets: string[]) => resolveTrainConfig(applyOverrides(minimal(), ['identity.encoder=arcface-ir-se50', ...sets]));
    expect(() => arc(['model.cId=512'])).toThrow(/^identity\.weights: required key is missing: identity\.encoder 'arcface-ir-se50' loads its weights from a file you bring \(InsightFace_Pytorch's model_ir_se50\.pth/);
    expect(() => arc(['identity.weights=w.pth'])).toThrow(/^model\.cId: is 128 but identity\.encoder 'arcface-ir-se50' gives 512-d embeddings; set model\.cId: 512/);
    expect(arc(['identity.weights=w.pth', 'model.cId=512']).identity).toEqual({ encoder: 'arcface-ir-se50', weights: 'w.pth' });
    // The generic encoders take their width from the weights: c_id is checked when the encoder loads.
    expect(resolveTrainConfig(applyOverrides(minimal(), ['identity.encoder=iresnet', 'identity.weights=w.pth', 'model.cId=77'])).model.cId).toBe(77);
    expect(() => resolveTrainConfig(applyOverrides(minimal(), ['identity.weights=w.pth']))).toThrow(/^identity\.weights: identity\.encoder 'face-api-recognition-centred' ships with its npm package and takes no weights/);
    expect(() => resolveTrainConfig(applyOverrides(minimal(), ['identity.wieghts=w.pth']))).toThrow(/^identity\.wieghts: unknown key; valid keys: encoder, weights/);
  });

  it('--set overrides keep YAML types', () => {
    const c = resolveTrainConfig(applyOverrides(minimal(), ['train.steps=20', 'train.lr=1e-4', 'data.flip=false', 'model.aad.mask=constant']));
    expect([c.train.steps, c.train.lr, c.data.flip, c.model.aad.mask]).toEqual([20, 1e-4, false, 'constant']);
    expect(() => applyOverrides(minimal(), ['train.steps'])).toThrow(/expects key\.path=value/);
  });

  it('checks z_id length against the identity encoder', () => {
    expect(() => resolveTrainConfig(applyOverrides(minimal(), ['model.cId=512']))).toThrow(/^model\.cId: is 512 but identity\.encoder 'face-api-recognition-centred' gives 128-d embeddings; set model\.cId: 128/);
  });

  it('the HEAR stage has its own loss weights and needs the AEI-Net checkpoint', () => {
    const hear = applyOverrides(minimal(), ['stage=hear']);
    expect(() => resolveTrainConfig(hear)).toThrow(/^hear: stage 'hear' needs a hear section/);
    const c = resolveTrainConfig(applyOverrides(hear, ['hear.aeiCheckpoint=runs/aei-tiny']));
    expect(c.train.weights).toEqual({ id: 1, chg: 1, rec: 1 });
    expect(() => resolveTrainConfig(applyOverrides(hear, ['hear.aeiCheckpoint=x', 'train.weights.att=1']))).toThrow(/^train\.weights\.att: unknown key; valid keys: id, chg, rec/);
  });
});

describe('trainedIdentityEncoder', () => {
  it("finds the run's encoder from the run folder or from a checkpoint inside it, else the default", () => {
    const root = mkdtempSync(join(tmpdir(), 'trained-encoder-'));
    try {
      const run = join(root, 'runs', 'x');
      const checkpoint = join(run, 'checkpoints', 'step-00000010');
      mkdirSync(checkpoint, { recursive: true });
      // A checkpoint's own config.yaml holds only the model section; it must not be mistaken for the run's.
      writeFileSync(join(checkpoint, 'config.yaml'), 'model: { preset: tiny }\n');
      expect(trainedIdentityEncoder(checkpoint, checkpoint)).toEqual({ name: DEFAULT_IDENTITY_ENCODER, from: null });
      writeFileSync(join(run, 'config.yaml'), stringifyYaml(applyOverrides(minimal(), ['identity.encoder=face-api-recognition'])));
      expect(trainedIdentityEncoder(run, checkpoint)).toEqual({ name: 'face-api-recognition', from: join(run, 'config.yaml') });
      expect(trainedIdentityEncoder(checkpoint, checkpoint).name).toBe('face-api-recognition');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
