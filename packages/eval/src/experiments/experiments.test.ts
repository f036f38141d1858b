import { existsSync, promises as fs, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AEINet, loadIdentityEncoder } from '@faceshifter/core/node';
import { listDatasetItems, loadTrainConfig } from '@faceshifter/train';
import { loadExperiment, shardOfVariant, stepsOverrides, variantOverrides, variantsOfShard } from './experiment.js';
import { learningChecks, lossSummary, runExperiment, sameImageReconstruction, writeResults, type ExperimentRunSummary, type VariantResult } from './runner.js';

const ROOT = path.resolve(__dirname, '../../../..');
const TINY = path.join(ROOT, 'configs/aei-tiny.yaml');
const EMBEDDED = path.join(ROOT, 'datasets/embedded');
const TINY_SET = `[model.resolution=32, model.widthMultiplier=0.0625, train.batchSize=2, data.root=${EMBEDDED}, data.prefetch=1]`;
// On cpu one 32 px training step takes ~16 s (the face-api identity net at 150²), so the multi-variant end-to-end
// runs below are wasm-only; the same code path runs on both backends in the smallest case at the end of this file:
// runExperiment with 1 variant × 1 step, evaluated on 1 pair, then a second invocation that must skip it.
const CPU = process.env.FACESHIFTER_BACKEND === 'cpu';

async function writeExperiment(dir: string, name: string, text: string): Promise<string> {
  const file = path.join(dir, `${name}.yaml`);
  await fs.writeFile(file, text);
  return file;
}

describe('sharding', () => {
  it('variant k runs on shard k mod n only: every variant on exactly one shard, for many n', () => {
    for (let variants = 0; variants <= 23; variants++) {
      for (let n = 1; n <= 9; n++) {
        const seen = new Array<number>(variants).fill(0);
        for (let i = 0; i < n; i++) {
          for (const k of variantsOfShard(variants, i, n)) {
            expect(shardOfVariant(k, n)).toBe(i);
            seen[k]! += 1;
          }
        }
        expect(seen.every((c) => c === 1)).toBe(true);
      }
    }
    expect(variantsOfShard(7, 1, 3)).toEqual([1, 4]);
  });
});

describe('experiment files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-exp-schema-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('applies defaults, and names unknown keys, duplicate names and bad overrides', async () => {
    const ok = loadExperiment(await writeExperiment(dir, 'ok', `base: ${TINY}\nvariants:\n  - name: a\n  - name: b\n    set: [model.attributes=single]\n`));
    expect(ok.name).toBe('ok');
    expect(ok.eval).toEqual({ dataset: 'datasets/embedded', seed: 0, baselines: ['target'] });
    expect(ok.variants[1]!.set).toEqual(['model.attributes=single']);
    expect(variantOverrides(ok, ok.variants[1]!).config.model.attributes).toBe('single');
    expect(variantOverrides(ok, ok.variants[1]!).config.name).toBe('b');

    const typo = await writeExperiment(dir, 'typo', `base: ${TINY}\nvariants:\n  - name: a\n    sett: [x=1]\n`);
    expect(() => loadExperiment(typo)).toThrow(/variants\[0\]\.sett: unknown key; valid keys: name, set, hear \(in .*typo\.yaml\)/);
    const dup = await writeExperiment(dir, 'dup', `base: ${TINY}\nvariants:\n  - name: a\n  - name: a\n`);
    expect(() => loadExperiment(dup)).toThrow(/variants\[1\]\.name: duplicate variant name "a"/);
    const badEval = await writeExperiment(dir, 'bad-eval', `base: ${TINY}\nvariants: [{ name: a }]\neval: { baselines: [model] }\n`);
    expect(() => loadExperiment(badEval)).toThrow(/eval\.baselines\[0\]: expected one of "target", "source"/);
    const bad = loadExperiment(await writeExperiment(dir, 'bad', `base: ${TINY}\nvariants:\n  - name: x\n    set: [model.aad.mask=leaned]\n`));
    expect(() => variantOverrides(bad, bad.variants[0]!)).toThrow(/variant x: .*model\.aad\.mask/);
  });

  it('--steps scales logEvery, sampleEvery and checkpointEvery (never above the config, never below 1)', () => {
    const config = loadTrainConfig(TINY); // 400 steps, log 10, sample 50, checkpoint 100
    expect(stepsOverrides(config, 2)).toEqual(['train.steps=2', 'train.logEvery=1', 'train.sampleEvery=1', 'train.checkpointEvery=1']);
    expect(stepsOverrides(config, 40)).toEqual(['train.steps=40', 'train.logEvery=1', 'train.sampleEvery=5', 'train.checkpointEvery=10']);
    expect(stepsOverrides(config, 4000)).toEqual(['train.steps=4000', 'train.logEvery=10', 'train.sampleEvery=50', 'train.checkpointEvery=100']);
  });

  it('the shipped experiment files parse and every variant resolves', () => {
    for (const name of ['ablations', 'ablations-tiny', 'sanity-tiny']) {
      const e = loadExperiment(path.join(ROOT, 'experiments', `${name}.yaml`));
      for (const v of e.variants) expect(variantOverrides(e, v).config.name).toBe(v.name);
    }
  });

  it('first and final losses: means of the first / last 5 logged values; L_rec of 0 (no same pair) left out', async () => {
    const csv = path.join(dir, 'metrics.csv');
    const rows = Array.from({ length: 12 }, (_, i) => `${i + 1},${i},${i % 3 === 0 ? 0 : i},0.1`);
    await fs.writeFile(csv, ['step,loss/att,loss/rec,lr', ...rows].join('\n') + '\n');
    expect(await lossSummary(csv, 'first')).toEqual({ 'loss/att': 2, 'loss/rec': (1 + 2 + 4 + 5 + 7) / 5 });
    expect(await lossSummary(csv, 'last')).toEqual({ 'loss/att': 9, 'loss/rec': (5 + 7 + 8 + 10 + 11) / 5 });
  });
});

describe.skipIf(CPU)('runExperiment end to end (2 variants × 2 steps at 32 px, 2 eval pairs)', () => {
  let dir: string;
  let file: string;
  const logs: string[] = [];
  const log = (l: string): void => void logs.push(l);
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-exp-run-'));
    file = await writeExperiment(
      dir,
      'two',
      [
        `base: ${TINY}`,
        `set: ${TINY_SET}`,
        'variants:',
        '  - name: multi',
        '  - name: single',
        '    set: [model.attributes=single]',
        `eval: { dataset: ${EMBEDDED}, limit: 2 }`,
        'report: { first: [loss/att] }',
      ].join('\n') + '\n',
    );
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const results = (): string => path.join(dir, 'results', 'two');
  const ckpt = (v: string, step: number): string => path.join(results(), 'runs', v, 'checkpoints', `step-${String(step).padStart(8, '0')}`);

  it('two shards run disjoint variants; the last one writes results.csv with a row per variant and the baseline', async () => {
    const s1 = await runExperiment(file, { steps: 2, shard: { index: 1, count: 2 }, log });
    expect(s1.trained).toEqual(['single']);
    expect(s1.evaluated).toEqual(['single']); // baselines run on shard 0
    expect(s1.tables).toBeNull();
    const s0 = await runExperiment(file, { steps: 2, shard: { index: 0, count: 2 }, log });
    expect(s0.trained).toEqual(['multi']);
    expect(s0.evaluated).toEqual(['multi', 'baseline:target']);
    expect(s0.tables).not.toBeNull();
    const lines = (await fs.readFile(path.join(results(), 'results.csv'), 'utf8')).trim().split('\n');
    const header = lines[0]!.split(',');
    expect(header.slice(0, 8)).toEqual(['variant', 'method', 'steps', 'pairs', 'id_similarity', 'id_retrieval', 'pose_error', 'expression_error']);
    for (const c of ['first loss/att', 'final loss/att', 'final loss/id', 'final loss/g_total', 'final loss/adv_d']) expect(header).toContain(c);
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(['multi', 'single', 'baseline:target']);
    for (const line of lines.slice(1)) {
      const cells = line.split(',');
      expect(cells).toHaveLength(header.length);
      for (const c of [3, 4, 5, 6, 7]) expect(Number.isFinite(Number(cells[c]))).toBe(true);
    }
    const multi = lines[1]!.split(',');
    expect(multi[2]).toBe('2');
    expect(multi[3]).toBe('2');
    expect(Number(multi[header.indexOf('final loss/att')])).toBeGreaterThan(0);
    // The no-swap baseline has a pose error of 0 by construction.
    expect(Number(lines[3]!.split(',')[6])).toBe(0);
    expect(await fs.readFile(path.join(results(), 'results.md'), 'utf8')).toMatch(/\| multi \| model \| 2 \| 2 \|/);
    // L_rec on same-image pairs, of the untrained network rebuilt from the seed and of the checkpoint: both measured.
    const [r0, r1] = [header.indexOf('rec_same step 0'), header.indexOf('rec_same final')];
    for (const line of lines.slice(1, 3)) for (const c of [r0, r1]) expect(Number(line.split(',')[c])).toBeGreaterThan(0);
    expect(lines[3]!.split(',')[r0]).toBe(''); // the baseline has no network
    expect(existsSync(ckpt('multi', 2)) && existsSync(ckpt('single', 2))).toBe(true);
  });

  it('a second invocation trains and evaluates nothing; a trained variant without result.json is only evaluated', async () => {
    const before = ['multi', 'single'].map((v) => [statSync(ckpt(v, 2)).mtimeMs, statSync(path.join(results(), 'runs', v, 'result.json')).mtimeMs]);
    const s: ExperimentRunSummary = await runExperiment(file, { steps: 2, log });
    expect(s.trained).toEqual([]);
    expect(s.evaluated).toEqual([]);
    expect(s.skipped).toEqual(['multi', 'single', 'baseline:target']);
    const after = ['multi', 'single'].map((v) => [statSync(ckpt(v, 2)).mtimeMs, statSync(path.join(results(), 'runs', v, 'result.json')).mtimeMs]);
    expect(after).toEqual(before);
    expect(s.tables).not.toBeNull();
    // Trained but not evaluated (e.g. stopped during the evaluation): evaluates only, and frees what it made.
    await fs.rm(path.join(results(), 'runs', 'multi', 'result.json'));
    const tensors = tf.memory().numTensors;
    const evalOnly = await runExperiment(file, { steps: 2, log });
    expect(tf.memory().numTensors).toBe(tensors);
    expect([evalOnly.trained, evalOnly.evaluated]).toEqual([[], ['multi']]);
    expect(statSync(ckpt('multi', 2)).mtimeMs).toBe(before[0]![0]);
  });

  it('an interrupted variant resumes from its newest checkpoint instead of restarting', async () => {
    // As if the run stopped after step 1's checkpoint, before step 2 and the evaluation.
    const runDir = path.join(results(), 'runs', 'single');
    await fs.rm(ckpt('single', 2), { recursive: true });
    await fs.rm(path.join(runDir, 'result.json'));
    const step1 = statSync(ckpt('single', 1)).mtimeMs;
    logs.length = 0;
    const s = await runExperiment(file, { steps: 2, log });
    expect(s.trained).toEqual(['single']);
    expect(s.evaluated).toEqual(['single']);
    expect(logs.some((l) => l.includes('resuming') && l.includes('from step 1'))).toBe(true);
    expect(statSync(ckpt('single', 1)).mtimeMs).toBe(step1);
    expect(existsSync(ckpt('single', 2))).toBe(true);
    const steps = (await fs.readFile(path.join(runDir, 'metrics.csv'), 'utf8')).trim().split('\n').slice(1).map((l) => l.split(',')[0]);
    expect(steps).toEqual(['1', '2']);
    const w = await writeResults(loadExperiment(file));
    expect(w.missing).toEqual([]);
    expect(w.rows).toBe(3);
  });

  it('Ctrl-C during a variant\'s training stops the run there: nothing half-trained is evaluated, and the next run resumes it', async () => {
    const runDir = path.join(results(), 'runs', 'single');
    await fs.rm(runDir, { recursive: true });
    // The training loop's own SIGINT handler sees this as the user's Ctrl-C on the first progress update.
    let sent = false;
    const progressStream = new Writable({
      write(_chunk, _enc, cb) {
        if (!sent) {
          sent = true;
          process.emit('SIGINT');
        }
        cb();
      },
    }) as unknown as NodeJS.WriteStream;
    const s = await runExperiment(file, { steps: 2, log: () => {}, progressStream });
    expect(s.interrupted).toBe('single');
    expect([s.evaluated, s.tables]).toEqual([[], null]);
    expect(existsSync(path.join(runDir, 'result.json'))).toBe(false);
    expect(existsSync(ckpt('single', 1))).toBe(true);
    expect(existsSync(ckpt('single', 2))).toBe(false);
    const again = await runExperiment(file, { steps: 2, log: () => {} });
    expect([again.interrupted, again.trained, again.evaluated]).toEqual([null, ['single'], ['single']]);
    expect(existsSync(ckpt('single', 2))).toBe(true);
  });
});

describe.skipIf(CPU)('runExperiment with a HEAR-Net stage (2 + 2 steps at 32 px)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-exp-hear-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('trains HEAR-Net on the variant\'s own AEI-Net run and evaluates AEI-Net + HEAR-Net', async () => {
    const file = await writeExperiment(
      dir,
      'hear',
      [
        `base: ${TINY}`,
        `set: ${TINY_SET}`,
        'variants:',
        '  - name: full-hear',
        '    hear:',
        `      config: ${path.join(ROOT, 'configs/hear-tiny.yaml')}`,
        `      set: ${TINY_SET}`,
        `eval: { dataset: ${EMBEDDED}, limit: 2, baselines: [] }`,
      ].join('\n') + '\n',
    );
    const s = await runExperiment(file, { steps: 2 });
    expect(s.trained).toEqual(['full-hear', 'full-hear/hear']);
    const results = path.join(dir, 'results', 'hear');
    const result = JSON.parse(await fs.readFile(path.join(results, 'runs', 'full-hear', 'result.json'), 'utf8')) as Record<string, unknown>;
    expect(result['hearCheckpoint']).toBe(path.join(results, 'runs-hear', 'full-hear', 'checkpoints', 'step-00000002'));
    const hearConfig = await fs.readFile(path.join(results, 'runs-hear', 'full-hear', 'config.yaml'), 'utf8');
    expect(hearConfig).toContain(`aeiCheckpoint: ${path.join(results, 'runs', 'full-hear')}`);
    const header = (await fs.readFile(path.join(results, 'results.csv'), 'utf8')).split('\n')[0]!.split(',');
    expect(header).toContain('final hear:loss/chg');
    expect(header).toContain('final loss/att');
  });
});

describe.skipIf(CPU)('runExperiment: a failing variant', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-exp-fail-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('is reported with its error while the other variants still run', async () => {
    const file = await writeExperiment(
      dir,
      'fail',
      [
        `base: ${TINY}`,
        `set: ${TINY_SET}`,
        'variants:',
        '  - name: broken',
        `    hear: { config: ${TINY} }`, // an AEI-Net config where HEAR-Net's belongs
        '  - name: fine',
        `eval: { dataset: ${EMBEDDED}, limit: 1, baselines: [] }`,
      ].join('\n') + '\n',
    );
    const s = await runExperiment(file, { steps: 1 });
    expect(s.failed).toHaveLength(1);
    expect(s.failed[0]!.variant).toBe('broken');
    expect(s.failed[0]!.error).toMatch(/variant broken: hear\.config .*aei-tiny\.yaml has stage: aei; give a HEAR-Net config/);
    expect(s.evaluated).toEqual(['fine']);
    expect(s.tables).toBeNull();
    const w = await writeResults(loadExperiment(file));
    expect([w.rows, w.missing]).toEqual([1, ['broken']]);
    expect(await fs.readFile(w.md, 'utf8')).toContain('Not finished yet: broken.');
  });
});

describe('sameImageReconstruction', () => {
  it('the step-0 network rebuilt from the seed is the same network every time (so its L_rec is reproducible)', async () => {
    const config = loadTrainConfig(TINY, ['model.resolution=32', 'model.widthMultiplier=0.0625']);
    const identity = await loadIdentityEncoder(config.identity.encoder);
    const files = (await listDatasetItems(EMBEDDED)).slice(0, 1).map((i) => i.file);
    const tensors = tf.memory().numTensors;
    const rec: number[] = [];
    for (const seed of [config.seed, config.seed, config.seed + 1]) {
      const aei = new AEINet(config.model, { seed });
      rec.push(await sameImageReconstruction(aei, identity, files));
      aei.dispose();
    }
    identity.dispose();
    expect(rec[0]).toBeGreaterThan(0);
    expect(rec[1]).toBe(rec[0]);
    expect(rec[2]).not.toBe(rec[0]);
    expect(tf.memory().numTensors).toBeLessThanOrEqual(tensors);
  });
});

describe('runExperiment, smallest case (1 variant × 1 step at 32 px, 1 eval pair)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fs-exp-cpu-'));
  });
  afterAll(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('trains, evaluates and writes results.csv; a second invocation skips the variant', async () => {
    const file = await writeExperiment(dir, 'one', [`base: ${TINY}`, `set: ${TINY_SET}`, 'variants: [{ name: only }]', `eval: { dataset: ${EMBEDDED}, limit: 1, baselines: [target] }`].join('\n') + '\n');
    const s = await runExperiment(file, { steps: 1 });
    expect(s.trained).toEqual(['only']);
    expect(s.evaluated).toEqual(['only', 'baseline:target']);
    const md = await fs.readFile(path.join(dir, 'results', 'one', 'results.md'), 'utf8');
    expect(md).toMatch(/## Learning checks\n\n- \*\*only\*\*: reconstruction \(rec_same\) [\d.]+ → [\d.]+: (falls ✓|does not fall ✗); ID similarity to the source [\d.]+ vs [\d.]+ for the target itself: Δ = [-+][\d.]+ \(paired 95% CI [-\d.]+ to [-\d.]+, 1 pairs\)/);
    const lines = (await fs.readFile(path.join(dir, 'results', 'one', 'results.csv'), 'utf8')).trim().split('\n');
    expect(lines[0]!.split(',').slice(0, 5)).toEqual(['variant', 'method', 'steps', 'pairs', 'id_similarity']);
    expect(lines[0]).toContain('final loss/g_total');
    expect(lines[0]).toContain('rec_same step 0');
    expect(lines.slice(1).map((l) => l.split(',').slice(0, 4).join(','))).toEqual(['only,model,1,1', 'baseline:target,target,,1']);
    const again = await runExperiment(file, { steps: 1 });
    expect(again.trained).toEqual([]);
    expect(again.skipped).toEqual(['only', 'baseline:target']);
    // Trained but not evaluated (e.g. stopped during the evaluation): evaluates only, and frees what it made.
    await fs.rm(path.join(dir, 'results', 'one', 'runs', 'only', 'result.json'));
    const tensors = tf.memory().numTensors;
    const evalOnly = await runExperiment(file, { steps: 1 });
    expect(tf.memory().numTensors).toBe(tensors);
    expect([evalOnly.trained, evalOnly.evaluated]).toEqual([[], ['only']]);
  });
});

describe('learningChecks', () => {
  const summary = (idSimilarity: number): VariantResult['summary'] => {
    const ci = (mean: number) => ({ mean, lo: mean - 0.01, hi: mean + 0.01, n: 4 });
    return { method: 'model', pairs: 4, identities: 4, resolution: 64, idNetwork: 'human-faceres', idSimilarity: ci(idSimilarity), idRetrieval: ci(0), poseError: ci(0), expressionError: ci(0) };
  };
  const row = (variant: string, kind: 'model' | 'baseline', pairIdSimilarity?: number[], recSame?: { step0: number; final: number }): VariantResult => ({
    experiment: 'x', variant, kind, method: kind === 'model' ? 'model' : 'target', overrides: [], runDir: null, checkpoint: null, steps: null,
    summary: summary(pairIdSimilarity ? pairIdSimilarity.reduce((a, b) => a + b, 0) / pairIdSimilarity.length : 0.5),
    finalLosses: {}, firstLosses: {}, ...(recSame ? { recSame } : {}), ...(pairIdSimilarity ? { pairIdSimilarity } : {}), finishedAt: '',
  });
  const target = row('baseline:target', 'baseline', [0.4, 0.5, 0.3, 0.4]);

  it('compares each variant with the target baseline pair by pair, and says whether reconstruction improved', () => {
    const lines = learningChecks([
      row('moves', 'model', [0.5, 0.6, 0.45, 0.5], { step0: 0.2, final: 0.05 }),
      row('stays', 'model', [0.3, 0.5, 0.35, 0.45], { step0: 0.2, final: 0.3 }),
      row('worse', 'model', [0.3, 0.4, 0.2, 0.3]),
      target,
    ]);
    expect(lines[0]).toBe('## Learning checks');
    // Every pair +0.1 to +0.15: the whole interval is above 0.
    expect(lines[2]).toMatch(/^- \*\*moves\*\*: reconstruction \(rec_same\) 0\.200 → 0\.050: falls ✓; ID similarity to the source 0\.512 vs 0\.400 for the target itself: Δ = \+0\.11\d \(paired 95% CI 0\.1\d\d to 0\.1\d\d, 4 pairs\), above ✓\.$/);
    // Differences −0.1 … +0.05: the interval straddles 0.
    expect(lines[3]).toMatch(/\*\*stays\*\*: reconstruction \(rec_same\) 0\.200 → 0\.300: does not fall ✗; .*Δ = \+0\.000 .*not distinguishable from it ✗\.$/);
    expect(lines[4]).toMatch(/\*\*worse\*\*: ID similarity .*Δ = -0\.100 \(paired 95% CI -0\.100 to -0\.100, 4 pairs\), below ✗\.$/);
    expect(lines).toHaveLength(6);
  });

  it('falls back to the unpaired means for results without per-pair values, and says nothing without model rows', () => {
    const lines = learningChecks([row('old', 'model'), target]);
    expect(lines[2]).toBe('- **old**: ID similarity to the source 0.500 [0.490, 0.510] vs 0.400 [0.390, 0.410] for the target itself: above ✓.');
    expect(learningChecks([target])).toEqual([]);
  });
});
