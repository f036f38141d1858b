/**
 * Experiment files (`yarn experiments run experiments/<file>.yaml`): a base training config and a list of variants,
 * each a set of `--set` overrides (and optionally a HEAR-Net stage on top), evaluated on one dataset. This file
 * holds the pure parts: the schema, sharding and the `--steps` scaling.
 */
import path from 'node:path';
import { ConfigError, readYamlFile, schema as s } from '@faceshifter/core/node';
import { loadTrainConfig, type TrainConfig } from '@faceshifter/train';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const nameSchema: s.Schema<string> = {
  expected: 'a name of letters, digits, ".", "_" and "-"',
  parse(value, at) {
    const v = s.string({ nonEmpty: true }).parse(value, at);
    if (!NAME.test(v)) throw new ConfigError(at, `expected a name of letters, digits, ".", "_" and "-" (it names a folder), got ${s.show(v)}`);
    return v;
  },
};
const overridesSchema = s.withDefault(s.array(s.string({ nonEmpty: true })), []);

const hearSchema = s.object({
  /** The HEAR-Net config (stage: hear); `hear.aeiCheckpoint` is set to the variant's AEI-Net run. */
  config: s.string({ nonEmpty: true }),
  set: overridesSchema,
});

const variantSchema = s.object({
  name: nameSchema,
  set: overridesSchema,
  hear: s.optional(hearSchema),
});

export const BASELINE_METHODS = ['target', 'source'] as const;
export type BaselineMethod = (typeof BASELINE_METHODS)[number];

const evalSchema = s.object({
  /** A prepared dataset: every image once as X_t, with a seeded X_s of another identity (`datasetPairs`). */
  dataset: s.withDefault(s.string({ nonEmpty: true }), 'datasets/embedded'),
  /** Evaluate only the first N pairs (quick runs). */
  limit: s.optional(s.int({ min: 1 })),
  seed: s.withDefault(s.int({ min: 0 }), 0),
  /** Side images are measured at; default the base config's model resolution. */
  resolution: s.optional(s.int({ min: 32 })),
  /** No-swap baselines evaluated once per experiment, each a row of the results. */
  baselines: s.withDefault(s.array(s.oneOf(BASELINE_METHODS)), ['target']),
});

const reportSchema = s.object({
  /** Losses whose first value (mean of the first logged values) is reported beside the final one, e.g. loss/rec. */
  first: s.withDefault(s.array(s.string({ nonEmpty: true })), []),
});

export const experimentSchema = s.object(
  {
    /** Default: the file name without extension. */
    name: s.optional(nameSchema),
    /** The training config every variant starts from. */
    base: s.string({ nonEmpty: true }),
    /** Overrides applied to every variant, before its own. */
    set: overridesSchema,
    variants: s.array(variantSchema, { minItems: 1 }),
    eval: s.withDefault(evalSchema, {}),
    report: s.withDefault(reportSchema, {}),
  },
  {
    check: (v) => {
      const seen = new Set<string>();
      for (const [i, variant] of (v['variants'] as { name: string }[]).entries()) {
        if (seen.has(variant.name)) return [`variants[${i}].name`, `duplicate variant name ${s.show(variant.name)}; each variant needs its own name (it names its run folder)`];
        seen.add(variant.name);
      }
      return undefined;
    },
  },
);

export type Experiment = s.Infer<typeof experimentSchema> & { name: string; file: string };
export type Variant = Experiment['variants'][number];

/** Parses and checks an experiment file; errors name the file and the key. */
export function loadExperiment(file: string): Experiment {
  let doc: unknown;
  try {
    doc = readYamlFile(file);
  } catch (e) {
    throw new Error(`${file}: cannot read the experiment file (${e instanceof Error ? e.message : String(e)}).`);
  }
  try {
    const parsed = experimentSchema.parse(doc, '');
    return { ...parsed, name: parsed.name ?? path.basename(file).replace(/\.ya?ml$/i, ''), file };
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(e.path, `${e.problem} (in ${file})`);
    throw e;
  }
}

/** The shard that runs variant `k`: k mod n. Every variant has exactly one shard. */
export function shardOfVariant(k: number, count: number): number {
  return k % count;
}

/** Indices of the variants shard `index` of `count` runs. */
export function variantsOfShard(variants: number, index: number, count: number): number[] {
  const out: number[] = [];
  for (let k = index; k < variants; k += count) out.push(k);
  return out;
}

function scaled(every: number, baseSteps: number, steps: number): number {
  return Math.max(1, Math.min(every, Math.round((every * steps) / baseSteps)));
}

/**
 * `--steps N` as overrides: train.steps = N, and logEvery, sampleEvery and checkpointEvery shrunk in proportion
 * (never above the config's, never below 1), so a 20-step run still logs, samples and checkpoints.
 */
export function stepsOverrides(config: TrainConfig, steps: number): string[] {
  const t = config.train;
  return [
    `train.steps=${steps}`,
    `train.logEvery=${scaled(t.logEvery, t.steps, steps)}`,
    `train.sampleEvery=${scaled(t.sampleEvery, t.steps, steps)}`,
    `train.checkpointEvery=${scaled(t.checkpointEvery, t.steps, steps)}`,
  ];
}

/**
 * The overrides that train variant `v`: the experiment's common ones, the variant's, the `--steps` scaling
 * (computed on the resolved config so far), and `name=<variant>` so each variant gets its own run folder.
 * The config is resolved here too, so a bad override fails before anything trains.
 */
export function variantOverrides(experiment: Experiment, v: Variant, steps?: number): { overrides: string[]; config: TrainConfig } {
  const own = [...experiment.set, ...v.set];
  const where = (e: unknown): never => {
    throw new Error(`${experiment.file}: variant ${v.name}: ${e instanceof Error ? e.message : String(e)}`);
  };
  let config: TrainConfig;
  try {
    config = loadTrainConfig(experiment.base, own);
  } catch (e) {
    return where(e);
  }
  if (config.stage !== 'aei') where(new Error(`base ${experiment.base} has stage: ${config.stage}; an experiment's base must be an AEI-Net config (add HEAR-Net with a variant's hear: block)`));
  const overrides = [...own, ...(steps !== undefined ? stepsOverrides(config, steps) : []), `name=${v.name}`];
  try {
    config = loadTrainConfig(experiment.base, overrides);
  } catch (e) {
    return where(e);
  }
  return { overrides, config };
}

/**
 * The HEAR-Net stage's overrides for variant `v`, on top of its AEI-Net run `aeiRunDir`, whose config is `aei`.
 * HEAR-Net takes the AEI-Net run's identity encoder and its weights (the whole identity section, as a YAML flow
 * mapping), so one hear config serves every variant.
 */
export function hearOverrides(v: Variant, aeiRunDir: string, aei: TrainConfig, steps?: number): { overrides: string[]; config: TrainConfig } {
  const hear = v.hear!;
  const own = [`identity=${JSON.stringify(aei.identity)}`, ...hear.set, `hear.aeiCheckpoint=${aeiRunDir}`, `name=${v.name}`];
  let config = loadTrainConfig(hear.config, own);
  if (config.stage !== 'hear') throw new Error(`variant ${v.name}: hear.config ${hear.config} has stage: ${config.stage}; give a HEAR-Net config (stage: hear), e.g. configs/hear-tiny.yaml.`);
  const overrides = [...own, ...(steps !== undefined ? stepsOverrides(config, steps) : [])];
  config = loadTrainConfig(hear.config, overrides);
  return { overrides, config };
}
