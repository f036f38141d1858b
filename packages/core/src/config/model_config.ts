/**
 * The `model:` section of a config file: every architecture choice of AEI-Net, HEAR-Net and the multi-scale
 * discriminator, typed, with presets. The other top-level sections of a config file (name, seed, data, train, ...)
 * belong to the train package; {@link modelConfigFromDocument} validates only `model`.
 */
import { parse as parseYaml } from 'yaml';
import { firstLine } from '../platform.js';
import * as s from './schema.js';

/** The presets a `model.preset` key can name; every other model key overrides the preset's value. */
export const MODEL_PRESETS = ['paper', 'tiny'] as const;
export type ModelPresetName = (typeof MODEL_PRESETS)[number];

const aadSchema = s.object({
  /**
   * The attention mask M that blends the attribute and identity branches (paper section 3.2.2):
   * - `learned` (paper): M = σ(Conv1×1(h̄)), one channel; h_out = (1 − M)⊙A + M⊙I.
   * - `constant`: M ≡ 0.5, i.e. h_out = (A + I) / 2 (the "no attention" ablation).
   * - `sum`: h_out = A + I (the other "no attention" ablation).
   * - `none`: no identity injection in the AAD layers: h_out = A. z_id then reaches the generator only through
   *   its first ConvTranspose; γ_id, β_id and the mask conv are not created.
   */
  mask: s.oneOf(['learned', 'constant', 'sum', 'none'] as const),
  /** Kernel size of the γ_att/β_att convs: 1 (paper) or 3 (maum-ai's variant). */
  gammaBetaKernel: s.oneOf([1, 3] as const),
  /** Parameter-free normalisation that makes h̄: `instance` (paper) or `batch` (maum-ai's variant, with moving stats). */
  norm: s.oneOf(['instance', 'batch'] as const),
});

const generatorSchema = s.object({
  /**
   * How z_att and z_id enter each ResBlk: `aad` (paper) or `concat`, the IPGAN-style baseline of the paper's
   * ablation where h_out = Conv1×1([h ‖ z_att ‖ tile(z_id)]) replaces each AAD layer (model.aad is then unused).
   */
  integration: s.oneOf(['aad', 'concat'] as const),
});

const discriminatorSchema = s.object({
  /** Number of scales (pix2pixHD num_D); the input is average-pooled by 2 between scales. */
  numD: s.int({ min: 1, max: 5 }),
  /** PatchGAN depth (pix2pixHD n_layers): stride-2 convs before the two stride-1 convs. */
  nLayers: s.int({ min: 1, max: 8 }),
  /** Normalisation after each conv but the first and the last. */
  norm: s.oneOf(['instance', 'batch', 'none'] as const),
  /** Channels of the first conv (pix2pixHD ndf); doubled per stride-2 conv, capped at 512. */
  baseChannels: s.int({ min: 1 }),
});

/** The schema of a fully specified model section (after the preset is applied). */
export const modelConfigSchema = s.object(
  {
    preset: s.oneOf(MODEL_PRESETS),
    /** Image side R: a power of two in 32..1024. The encoder has log2(R) − 1 down blocks, so z_att^1 is 2×2. */
    resolution: s.powerOfTwo(32, 1024),
    /** Scales every channel count of the encoder, generator and HEAR-Net (1 = paper). */
    widthMultiplier: s.number({ gt: 0, max: 4 }),
    /** Length of the identity vector z_id: 512 for ArcFace (paper), 128 for the face-api recognition net. */
    cId: s.int({ min: 1 }),
    /**
     * `multi` (paper): z_att^1..z_att^(log2 R) feed the generator level by level. `single`: only z_att^1 (the 2×2
     * bottleneck of the encoder, which then has no up path) is used, resized bilinearly to every level — a
     * single-level attribute code as in RSGAN/IPGAN.
     */
    attributes: s.oneOf(['multi', 'single'] as const),
    aad: aadSchema,
    generator: generatorSchema,
    discriminator: discriminatorSchema,
  },
);

/** A resolved, fully specified model configuration. */
export type ModelConfig = s.Infer<typeof modelConfigSchema>;
export type AADConfig = ModelConfig['aad'];
export type GeneratorConfig = ModelConfig['generator'];
export type DiscriminatorConfig = ModelConfig['discriminator'];
export type AADMaskMode = AADConfig['mask'];
export type AADNorm = AADConfig['norm'];
export type DiscriminatorNorm = DiscriminatorConfig['norm'];

/** A partial model section: any subset of keys, nested slices partial too. */
export type ModelConfigInput = {
  [K in keyof ModelConfig]?: ModelConfig[K] extends object ? Partial<ModelConfig[K]> : ModelConfig[K];
};

/**
 * The presets. `paper` is section 7 of the design: 256², width 1, c_id 512 (ArcFace), AAD exactly as published,
 * and the reference discriminator (3 scales, n_layers 6, InstanceNorm). `tiny` is for tests and quick experiments
 * on this project's CPU/wasm machines: 64², width ¼, c_id 128 (face-api), a 2-scale, 3-layer discriminator of width 16.
 */
export const MODEL_PRESET_VALUES: Readonly<Record<ModelPresetName, ModelConfig>> = {
  paper: {
    preset: 'paper',
    resolution: 256,
    widthMultiplier: 1,
    cId: 512,
    attributes: 'multi',
    aad: { mask: 'learned', gammaBetaKernel: 1, norm: 'instance' },
    generator: { integration: 'aad' },
    discriminator: { numD: 3, nLayers: 6, norm: 'instance', baseChannels: 64 },
  },
  tiny: {
    preset: 'tiny',
    resolution: 64,
    widthMultiplier: 0.25,
    cId: 128,
    attributes: 'multi',
    aad: { mask: 'learned', gammaBetaKernel: 1, norm: 'instance' },
    generator: { integration: 'aad' },
    discriminator: { numD: 2, nLayers: 3, norm: 'instance', baseChannels: 16 },
  },
};

/**
 * Applies the preset named by `preset` (default `paper`) under the given keys and validates the result.
 * An unknown key, a wrong type or a value out of range is a {@link ConfigError} naming the key path
 * (prefixed with `path`, default `model`), e.g. `model.aad.maks: unknown key; valid keys: mask, gammaBetaKernel, norm`.
 */
export function resolveModelConfig(partial?: ModelConfigInput, path?: string): ModelConfig;
export function resolveModelConfig(partial: unknown, path?: string): ModelConfig;
export function resolveModelConfig(partial: unknown = {}, path = 'model'): ModelConfig {
  if (partial === undefined || partial === null) partial = {};
  if (!s.isMapping(partial)) throw new s.ConfigError(path, `expected a mapping of model settings, got ${s.show(partial)}`);
  const presetName = s.oneOf(MODEL_PRESETS).parse(partial.preset ?? 'paper', `${path}.preset`);
  const merged = s.deepMerge(MODEL_PRESET_VALUES[presetName], partial);
  return modelConfigSchema.parse(merged, path);
}

/**
 * The `model:` section as a field of a larger schema (the train package's whole config file): parses with
 * {@link resolveModelConfig}, so presets apply and errors carry the section's path; a missing section is the paper
 * preset.
 */
export const modelSection: s.Schema<ModelConfig> = {
  expected: 'a mapping of model settings',
  parse: (value, path) => resolveModelConfig(value, path),
  missing: { value: () => ({}) },
};

/**
 * The validated `model` slice of a whole parsed config document. Other top-level keys are accepted unchecked:
 * the train package validates them (its schema reuses {@link modelConfigSchema} through resolveModelConfig).
 */
export function modelConfigFromDocument(doc: unknown, source = 'config'): ModelConfig {
  if (doc === undefined || doc === null) throw new s.ConfigError('', `${source} is empty; it needs a top-level 'model:' section`);
  if (!s.isMapping(doc)) throw new s.ConfigError('', `${source} must be a mapping with a top-level 'model:' section, got ${s.show(doc)}`);
  if (!('model' in doc)) throw new s.ConfigError('model', `${source} has no top-level 'model:' section`);
  return resolveModelConfig(doc.model, 'model');
}

/** Parses YAML config text; a syntax error is one line naming the source (a file, or what the text came from) and position. */
export function parseYamlText(text: string, source: string): unknown {
  try {
    return parseYaml(text);
  } catch (e) {
    throw new Error(`${source}: invalid YAML: ${firstLine(e)}`);
  }
}

/** The validated model section of YAML config text; errors name `source` and the key path. */
export function modelConfigFromYaml(text: string, source: string): ModelConfig {
  const doc = parseYamlText(text, source);
  try {
    return modelConfigFromDocument(doc, source);
  } catch (e) {
    if (e instanceof s.ConfigError) throw new s.ConfigError(e.path, `${e.problem} (in ${source})`);
    throw e;
  }
}
