/**
 * A training config file: the typed, validated whole of `configs/*.yaml`. The `model:` section is core's
 * ({@link resolveModelConfig}); everything else is defined here. Unknown keys, wrong types and out-of-range values
 * are a {@link ConfigError} naming the key path and what is allowed.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CHANNEL_ORDERS, ConfigError, DEFAULT_FACE_INPUT, FACE_ALIGNMENTS, IDENTITY_ENCODERS, identityEncoderDim, identityEncoderNeedsWeights, INSIGHTFACE_ENCODERS, isInsightFaceEncoder, readYamlFile, resolveModelConfig, schema as s, type IdentityEncoderName, type ModelConfig } from '@faceshifter/core/node';

/**
 * The identity encoder of a config without an `identity` section, and of a checkpoint without its run's config.yaml:
 * face-api's descriptors centred on their mean (core, identity/centred_encoder.ts), which transfer identity where the
 * raw descriptors do not (experiments/README.md).
 */
export const DEFAULT_IDENTITY_ENCODER: IdentityEncoderName = 'face-api-recognition-centred';

/**
 * z_id length of each identity encoder, so that `model.cId` can be checked against the encoder; null where the
 * weights file decides (`arcface-ir-se`, `iresnet`: checked when the encoder is loaded).
 */
export const IDENTITY_DIMS: Readonly<Record<IdentityEncoderName, number | null>> = Object.fromEntries(IDENTITY_ENCODERS.map((n) => [n, identityEncoderDim(n)])) as Record<IdentityEncoderName, number | null>;

const identitySchema = s.object({
  /** The frozen recognition network of L_id (and of z_id wherever the run's checkpoints are used). */
  encoder: s.withDefault(s.oneOf(IDENTITY_ENCODERS), DEFAULT_IDENTITY_ENCODER),
  /**
   * The PyTorch weights of an InsightFace encoder (`arcface-ir-se50`: InsightFace_Pytorch's model_ir_se50.pth;
   * `iresnet*`: an arcface_torch backbone.pth), as torch.save wrote them or as safetensors. Relative paths are
   * relative to the working directory, like data.root.
   */
  weights: s.optional(s.string({ nonEmpty: true })),
});

const facesSchema = s.object({
  /**
   * How the training faces are aligned (core faces/templates.ts): `ffhq` (default, this project's crops), `reference`
   * (the PyTorch reference's, to train comparably with its published weights) or `insightface`. Recorded in every
   * checkpoint, so that swap and eval crop faces the same way; prepare the dataset with the same `--align`.
   */
  align: s.withDefault(s.oneOf(FACE_ALIGNMENTS), DEFAULT_FACE_INPUT.align),
  /** The channel order the networks see: `rgb` (default) or `bgr` (the reference's, for training from its weights). */
  channels: s.withDefault(s.oneOf(CHANNEL_ORDERS), DEFAULT_FACE_INPUT.channels),
});

const colorJitterSchema = s.object({
  /** Max relative brightness change (torchvision ColorJitter semantics). Paper: 0.2. */
  brightness: s.number({ min: 0, max: 1 }),
  contrast: s.number({ min: 0, max: 1 }),
  saturation: s.number({ min: 0, max: 1 }),
  /** Max hue shift as a fraction of the colour wheel. Paper: 0.01. */
  hue: s.number({ min: 0, max: 0.5 }),
});

const dataSchema = s.object({
  /** A prepared dataset folder (manifest.csv from `yarn prepare-data`) or a flat folder of aligned face crops. */
  root: s.string({ nonEmpty: true }),
  /** Probability that X_s = X_t in a pair: 0.2 for AEI-Net (paper: 80% different), 0.5 for HEAR-Net. */
  sameProbability: s.withDefault(s.number({ min: 0, max: 1 }), 0.2),
  /** Random horizontal flips. */
  flip: s.withDefault(s.boolean(), true),
  colorJitter: s.withDefault(colorJitterSchema, { brightness: 0.2, contrast: 0.2, saturation: 0.2, hue: 0.01 }),
  /** Batches decoded ahead of the step, off its critical path. */
  prefetch: s.withDefault(s.int({ min: 0, max: 64 }), 2),
  /** Unreadable files and manifest rows are skipped (and replaced); the run stops past this fraction of them. */
  maxSkipFraction: s.withDefault(s.number({ min: 0, max: 1 }), 0.01),
  /** Check every file's first and last bytes before step 1, so most bad files are found then. */
  checkFiles: s.withDefault(s.boolean(), true),
});

const aeiLossWeights = s.object({
  /** λ of the hinge adversarial loss. Paper: 1. */
  adv: s.number({ min: 0 }),
  /** λ_att. Paper: 10. */
  att: s.number({ min: 0 }),
  /** λ_id. Paper: 5. */
  id: s.number({ min: 0 }),
  /** λ_rec. Paper: 10. */
  rec: s.number({ min: 0 }),
});

const hearLossWeights = s.object({ id: s.number({ min: 0 }), chg: s.number({ min: 0 }), rec: s.number({ min: 0 }) });

const trainSchema = s.object({
  steps: s.int({ min: 1 }),
  batchSize: s.int({ min: 1 }),
  /** Adam learning rate of G (and of D unless lrD is set). Paper: 4e-4. */
  lr: s.withDefault(s.number({ gt: 0 }), 4e-4),
  lrD: s.optional(s.number({ gt: 0 })),
  /** Adam β1, β2. Paper: (0, 0.999). */
  beta1: s.withDefault(s.number({ min: 0, max: 0.9999 }), 0),
  beta2: s.withDefault(s.number({ min: 0, max: 0.99999 }), 0.999),
  /** Loss weights; the stage decides which keys exist (AEI: adv, att, id, rec; HEAR: id, chg, rec). */
  weights: s.optional(s.object({}, { passThrough: ['adv', 'att', 'id', 'rec', 'chg'] })),
  logEvery: s.withDefault(s.int({ min: 1 }), 10),
  sampleEvery: s.withDefault(s.int({ min: 1 }), 100),
  checkpointEvery: s.withDefault(s.int({ min: 1 }), 500),
  keepLast: s.withDefault(s.int({ min: 1 }), 3),
  /** The scalar whose interval mean picks the best checkpoint (lower is better). */
  monitor: s.withDefault(s.string({ nonEmpty: true }), 'loss/g_total'),
});

const hearSchema = s.object({
  /** The AEI-Net run (or checkpoint directory) whose frozen generator HEAR-Net refines. */
  aeiCheckpoint: s.string({ nonEmpty: true }),
  /** A folder of RGBA PNG cut-outs (e.g. EgoHands hands) used as occluders besides the procedural ones. */
  occluders: s.optional(s.string({ nonEmpty: true })),
});

const documentSchema = s.object({
  name: s.string({ nonEmpty: true }),
  seed: s.int({ min: 0 }),
  /** `aei` trains AEI-Net against the discriminator; `hear` trains HEAR-Net on a frozen AEI-Net. */
  stage: s.withDefault(s.oneOf(['aei', 'hear'] as const), 'aei'),
  identity: s.withDefault(identitySchema, { encoder: DEFAULT_IDENTITY_ENCODER }),
  faces: s.withDefault(facesSchema, { ...DEFAULT_FACE_INPUT }),
  data: dataSchema,
  train: trainSchema,
  hear: s.optional(hearSchema),
}, { passThrough: ['model'] });

export interface AEIWeights { adv: number; att: number; id: number; rec: number }
export interface HEARWeights { id: number; chg: number; rec: number }

type Parsed = s.Infer<typeof documentSchema>;
/** A resolved training config: every default applied, the model section resolved from its preset. */
export type TrainConfig = Omit<Parsed, 'model' | 'train'> & {
  model: ModelConfig;
  train: Omit<Parsed['train'], 'weights' | 'lrD'> & { lrD: number; weights: AEIWeights | HEARWeights };
};

const DEFAULT_WEIGHTS = { aei: { adv: 1, att: 10, id: 5, rec: 10 }, hear: { id: 1, chg: 1, rec: 1 } } as const;

/** Validates a parsed config document (after `--set` overrides) and applies every default. */
export function resolveTrainConfig(doc: unknown, source = 'config'): TrainConfig {
  if (!s.isMapping(doc)) throw new ConfigError('', `${source} must be a mapping with name, seed, model, data and train sections`);
  const parsed = documentSchema.parse(doc, '');
  if (!('model' in doc)) throw new ConfigError('model', `required key is missing (a model section, e.g. 'model: { preset: tiny }')`);
  const model = resolveModelConfig(doc.model, 'model');
  const { encoder, weights: identityWeights } = parsed.identity;
  if (identityEncoderNeedsWeights(encoder) && identityWeights === undefined) {
    const hint = isInsightFaceEncoder(encoder) ? INSIGHTFACE_ENCODERS[encoder].weightsHint : 'its weights file';
    throw new ConfigError('identity.weights', `required key is missing: identity.encoder '${encoder}' loads its weights from a file you bring (${hint})`);
  }
  if (!identityEncoderNeedsWeights(encoder) && identityWeights !== undefined) {
    throw new ConfigError('identity.weights', `identity.encoder '${encoder}' ships with its npm package and takes no weights; remove identity.weights`);
  }
  const dim = IDENTITY_DIMS[encoder];
  if (dim !== null && model.cId !== dim) {
    throw new ConfigError('model.cId', `is ${model.cId} but identity.encoder '${parsed.identity.encoder}' gives ${dim}-d embeddings; set model.cId: ${dim}`);
  }
  const weightSchema = parsed.stage === 'aei' ? aeiLossWeights : hearLossWeights;
  const weights = weightSchema.parse(s.deepMerge(DEFAULT_WEIGHTS[parsed.stage], parsed.train.weights ?? {}), 'train.weights');
  if (parsed.stage === 'hear' && parsed.hear === undefined) {
    throw new ConfigError('hear', "stage 'hear' needs a hear section with aeiCheckpoint (the AEI-Net run to refine)");
  }
  const { lrD, ...train } = parsed.train;
  return { ...parsed, model, train: { ...train, lrD: lrD ?? train.lr, weights } };
}

/**
 * Applies `--set key.path=value` overrides to a parsed document. Values are parsed as YAML scalars (so `20`, `true`,
 * `4e-4` and `[1, 2]` get their types). A path may create a key: the validator then names it if it is unknown.
 */
export function applyOverrides(doc: unknown, overrides: readonly string[]): unknown {
  const out = s.isMapping(doc) ? structuredClone(doc) : {};
  for (const item of overrides) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new ConfigError(item, "--set expects key.path=value, e.g. --set train.steps=20");
    const keyPath = item.slice(0, eq).split('.');
    if (keyPath.some((k) => k.length === 0)) throw new ConfigError(item.slice(0, eq), '--set key path has an empty segment');
    let value: unknown;
    try {
      value = parseYaml(item.slice(eq + 1));
    } catch {
      value = item.slice(eq + 1);
    }
    let node: Record<string, unknown> = out;
    for (const key of keyPath.slice(0, -1)) {
      if (!s.isMapping(node[key])) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[keyPath.at(-1)!] = value;
  }
  return out;
}

/** Reads, overrides and validates a config file; errors name the file and the key. */
export function loadTrainConfig(file: string, overrides: readonly string[] = []): TrainConfig {
  const doc = applyOverrides(readYamlFile(file), overrides);
  try {
    return resolveTrainConfig(doc, file);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(e.path, `${e.problem} (in ${file})`);
    throw e;
  }
}

/**
 * The identity encoder a run was trained with: `identity.encoder` of the run's config.yaml, found in the folder the
 * user named (a run directory) or two levels above the checkpoint (runs/<name>/checkpoints/step-N). z_id must come
 * from that encoder wherever the checkpoint is used (swap, eval, HEAR-Net). `from` is the file, or null when no
 * run config was found and the default encoder is assumed.
 */
export function trainedIdentityEncoder(userPath: string, checkpointDir: string): { name: IdentityEncoderName; weights?: string; from: string | null } {
  const candidates = [path.join(userPath, 'config.yaml'), path.resolve(checkpointDir, '..', '..', 'config.yaml')];
  for (const file of candidates) {
    if (path.resolve(path.dirname(file)) === path.resolve(checkpointDir)) continue; // a checkpoint's own config.yaml holds only `model`
    if (!existsSync(file)) continue;
    const { encoder, weights } = loadTrainConfig(file).identity;
    return weights === undefined ? { name: encoder, from: file } : { name: encoder, weights, from: file };
  }
  return { name: DEFAULT_IDENTITY_ENCODER, from: null };
}
