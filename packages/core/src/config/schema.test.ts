import { describe, expect, it } from 'vitest';
import { modelSection } from './model_config.js';
import * as s from './schema.js';

// The generic validator, as the train package will use it for the rest of the config file.
const trainSchema = s.object(
  {
    steps: s.int({ min: 1 }),
    lr: s.withDefault(s.number({ gt: 0 }), 4e-4),
    betas: s.withDefault(s.array(s.number({ min: 0, max: 1 }), { minItems: 2, maxItems: 2 }), [0, 0.999]),
    log: s.withDefault(s.object({ every: s.withDefault(s.int({ min: 1 }), 100), tensorboard: s.withDefault(s.boolean(), true) }), {}),
    resume: s.optional(s.string({ nonEmpty: true })),
  },
  { passThrough: ['model'] },
);

describe('schema', () => {
  it('applies defaults (nested ones too) and infers the type', () => {
    const cfg: s.Infer<typeof trainSchema> = trainSchema.parse({ steps: 10, model: { anything: 1 } }, 'train');
    expect(cfg).toEqual({ steps: 10, lr: 4e-4, betas: [0, 0.999], log: { every: 100, tensorboard: true }, model: { anything: 1 } });
    expect('resume' in cfg).toBe(false);
  });

  it('reports the first problem with its full path', () => {
    expect(() => trainSchema.parse({}, 'train')).toThrow('train.steps: required key is missing (expected an integer >= 1)');
    expect(() => trainSchema.parse({ steps: 1, log: { evry: 5 } }, 'train')).toThrow('train.log.evry: unknown key; valid keys: every, tensorboard');
    expect(() => trainSchema.parse({ steps: 1, betas: [0, 2] }, 'train')).toThrow('train.betas[1]: expected a number >= 0 and <= 1, got 2');
    expect(() => trainSchema.parse({ steps: 1, betas: [0] }, 'train')).toThrow('train.betas: expected at least 2 item(s), got 1');
    expect(() => trainSchema.parse({ steps: 1, resume: '' }, 'train')).toThrow('train.resume: expected a non-empty string, got string ""');
    expect(() => trainSchema.parse({ steps: 1, log: { tensorboard: 'yes' } }, 'train')).toThrow('train.log.tensorboard: expected true or false, got string "yes"');
    expect(() => trainSchema.parse([], 'train')).toThrow(/^train: expected a mapping with keys steps, lr, betas, log, resume, got a list/);
  });

  it('runs cross-field checks after the fields', () => {
    const range = s.object({ lo: s.int(), hi: s.int() }, { check: (v) => ((v.lo as number) > (v.hi as number) ? ['hi', 'must be >= lo'] : undefined) });
    expect(() => range.parse({ lo: 3, hi: 1 }, 'r')).toThrow('r.hi: must be >= lo');
  });

  it('deepMerge overlays mappings key by key and keeps unknown keys for the strict parse to report', () => {
    expect(s.deepMerge({ a: { b: 1, c: 2 }, d: [1] }, { a: { c: 3, x: 4 }, d: [2] })).toEqual({ a: { b: 1, c: 3, x: 4 }, d: [2] });
  });

  it('composes with the model section, whose presets and key paths carry over', () => {
    const file = s.object({ name: s.string(), model: modelSection });
    expect(file.parse({ name: 'run' }, '').model.resolution).toBe(256);
    expect(file.parse({ name: 'run', model: { preset: 'tiny' } }, '').model.cId).toBe(128);
    expect(() => file.parse({ name: 'run', model: { aad: { maks: 1 } } }, '')).toThrow(/^model\.aad\.maks: unknown key/);
  });
});
