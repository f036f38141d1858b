/**
 * The experiment runner: trains each variant with `train()` (resuming an interrupted run), evaluates it with
 * `evaluatePairs` on the experiment's dataset, writes `<variant>/result.json` atomically, and collects the
 * per-variant results into results.csv and results.md. Shards (`--shard i/n`) run disjoint variants and share
 * the results folder; whichever finishes the last variant writes the tables (or `yarn experiments report`).
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import {
  AEINet,
  decodeImage,
  imageToTensor,
  loadCheckpointNetworks,
  loadIdentityEncoder,
  writeFileAtomic,
  type HEARNet,
  type IdentityEncoder,
  type RawImage,
} from '@faceshifter/core/node';
import { acquireRunLock, findCheckpoint, listCheckpoints, reconstructionLoss, train, type TrainConfig } from '@faceshifter/train';
import { FaceMetrics, aeiSwapFn, evaluatePairs, type EvalMethod, type EvalSummary, type SwapFn } from '../metrics/evaluate.js';
import { datasetPairs, type EvalPair } from '../metrics/pairs.js';
import { meanCI } from '../metrics/stats.js';
import { writeReport } from '../report/report.js';
import { hearOverrides, loadExperiment, variantOverrides, variantsOfShard, type Experiment, type Variant } from './experiment.js';

/** How many logged values make a "first" or "final" loss (their mean: single logged values are noisy). */
export const LOSS_WINDOW = 5;
export const RESULT_FILE = 'result.json';

/** One row of results.csv: a trained variant or a no-swap baseline. */
export interface VariantResult {
  experiment: string;
  variant: string;
  kind: 'model' | 'baseline';
  method: EvalMethod;
  /** Overrides of the AEI-Net run (empty for baselines). */
  overrides: string[];
  hearOverrides?: string[];
  runDir: string | null;
  checkpoint: string | null;
  hearCheckpoint?: string | null;
  steps: number | null;
  summary: EvalSummary;
  /** Mean of the last {@link LOSS_WINDOW} logged values of each loss column of metrics.csv (`hear:` for stage 2). */
  finalLosses: Record<string, number>;
  /** Mean of the first logged values, for the losses named in the experiment's `report.first`. */
  firstLosses: Record<string, number>;
  /**
   * L_rec of AEI-Net with X_s = X_t on the evaluation targets: of the step-0 network (rebuilt from the config's
   * seed, as the trainer builds it; no step-0 checkpoint is written) and of the evaluated checkpoint.
   */
  recSame?: { step0: number; final: number };
  /** cos(faceres(Ŷ), faceres(X_s)) of each evaluation pair, in pair order: for paired comparisons between rows. */
  pairIdSimilarity?: number[];
  finishedAt: string;
}

export interface ExperimentRunOptions {
  /** Overrides train.steps (and scales logEvery, sampleEvery, checkpointEvery) for quick runs. */
  steps?: number;
  shard?: { index: number; count: number };
  /** Results folder; default `<experiment file's folder>/results/<name>`. */
  out?: string;
  log?: (line: string) => void;
  progressStream?: NodeJS.WriteStream;
}

export interface ExperimentRunSummary {
  resultsDir: string;
  /** Variants (and `baseline:<method>`) evaluated by this invocation. */
  evaluated: string[];
  /** Stages trained (or resumed) by this invocation: `<variant>` or `<variant>/hear`. */
  trained: string[];
  /** Already finished before this invocation. */
  skipped: string[];
  /**
   * Variants whose training or evaluation threw (e.g. a non-finite loss): the others still ran. Running again
   * retries them (resuming their training).
   */
  failed: { variant: string; error: string }[];
  /** Set when every variant and baseline of the experiment has its result (the tables were written). */
  tables: { csv: string; md: string } | null;
  /**
   * The stage (`<variant>` or `<variant>/hear`) whose training was interrupted (Ctrl-C): its checkpoint is written,
   * nothing after it ran, and running the same command again resumes it.
   */
  interrupted: string | null;
}

/** Thrown out of a variant's work when its training was interrupted, so that nothing half-trained is evaluated. */
class StageInterrupted extends Error {
  constructor(readonly stage: string) {
    super(`${stage}: training interrupted`);
  }
}

export function resultsDirOf(experiment: Experiment, out?: string): string {
  return out ?? path.join(path.dirname(experiment.file), 'results', experiment.name);
}

const runDirOf = (resultsDir: string, v: string): string => path.join(resultsDir, 'runs', v);
const hearRunDirOf = (resultsDir: string, v: string): string => path.join(resultsDir, 'runs-hear', v);
const baselineDirOf = (resultsDir: string, m: string): string => path.join(resultsDir, 'baselines', m);

/** Mean of each `loss/*` column over the first or last `n` logged rows of a run's metrics.csv. */
export async function lossSummary(metricsCsv: string, which: 'first' | 'last', n = LOSS_WINDOW): Promise<Record<string, number>> {
  const lines = (await fs.readFile(metricsCsv, 'utf8')).split('\n').filter((l) => l.length > 0);
  const header = lines[0]?.split(',') ?? [];
  const rows = lines.slice(1).map((l) => l.split(','));
  const out: Record<string, number> = {};
  for (const [c, name] of header.entries()) {
    if (!name.startsWith('loss/')) continue;
    // L_rec is logged as exactly 0 at a step whose batch held no X_s = X_t pair: no measurement, so left out.
    const values = rows.map((r) => Number(r[c] === '' ? NaN : r[c])).filter((v) => Number.isFinite(v) && !(name === 'loss/rec' && v === 0));
    const picked = which === 'first' ? values.slice(0, n) : values.slice(-n);
    if (picked.length) out[name] = picked.reduce((a, b) => a + b, 0) / picked.length;
  }
  return out;
}

/**
 * Trains one stage into `runDir` unless its newest checkpoint already reached train.steps: resumes from the newest
 * checkpoint when there is one, else starts afresh (a folder without checkpoints holds nothing to continue).
 * Returns whether anything was trained; throws {@link StageInterrupted} when the training was interrupted.
 */
async function trainStage(stage: string, configFile: string, overrides: string[], config: TrainConfig, runDir: string, options: ExperimentRunOptions): Promise<boolean> {
  const newest = (await listCheckpoints(runDir)).at(-1);
  if (newest && newest.step >= config.train.steps) return false;
  if (!newest && existsSync(runDir)) await fs.rm(runDir, { recursive: true, force: true });
  if (newest) options.log?.(`[experiments] ${config.name}: resuming ${runDir} from step ${newest.step}`);
  const { result } = await train({ config: configFile, overrides, out: path.dirname(runDir), resume: newest ? runDir : undefined, progressStream: options.progressStream });
  if (result.outcome === 'interrupted') throw new StageInterrupted(stage);
  return true;
}

/** Mean L_rec (½ mean‖Ŷ − X‖², model space [−1, 1]) of AEI-Net reconstructing each image from its own z_id. */
export async function sameImageReconstruction(aei: AEINet, identity: IdentityEncoder, files: readonly string[]): Promise<number> {
  const R = aei.modelConfig.resolution;
  let sum = 0;
  for (const f of files) {
    const img = await decodeImage(f, { resize: R });
    const loss = tf.tidy(() => {
      const x = imageToTensor(img).expandDims(0) as tf.Tensor4D;
      return reconstructionLoss(aei.forward(x, identity.embed(x)).swap, x, tf.ones([1]) as tf.Tensor1D);
    });
    sum += (await loss.data())[0]!;
    loss.dispose();
  }
  return sum / files.length;
}

class EvalContext {
  private metrics: FaceMetrics | null = null;
  private pairs: EvalPair[] | null = null;

  constructor(private readonly experiment: Experiment) {}

  async load(): Promise<{ metrics: FaceMetrics; pairs: EvalPair[] }> {
    const e = this.experiment.eval;
    if (!this.pairs) {
      const all = await datasetPairs(e.dataset, e.seed);
      this.pairs = e.limit !== undefined ? all.slice(0, e.limit) : all;
    }
    this.metrics ??= await FaceMetrics.load();
    return { metrics: this.metrics, pairs: this.pairs };
  }

  async evaluate(method: EvalMethod, resolution: number, swap: SwapFn | undefined, reportDir: string, extra: Record<string, unknown>): Promise<{ summary: EvalSummary; pairIdSimilarity: number[] }> {
    const { metrics, pairs } = await this.load();
    const result = await evaluatePairs(pairs, { method, swap, resolution, metrics, seed: this.experiment.eval.seed });
    const load = (f: string): Promise<RawImage> => decodeImage(f, { resize: resolution });
    await writeReport(reportDir, result, load, { ...extra, dataset: this.experiment.eval.dataset, seed: this.experiment.eval.seed });
    return { summary: result.summary, pairIdSimilarity: result.rows.map((r) => r.idSimilarity) };
  }

  async targets(): Promise<string[]> {
    return [...new Set((await this.load()).pairs.map((p) => p.target))];
  }

  dispose(): void {
    this.metrics?.dispose();
  }
}

async function evaluateVariant(ctx: EvalContext, experiment: Experiment, v: Variant, runDir: string, config: TrainConfig, hearRun: { dir: string; overrides: string[] } | null, overrides: string[]): Promise<VariantResult> {
  const checkpoint = await findCheckpoint(runDir);
  const loaded = await loadCheckpointNetworks(checkpoint, { only: ['aei'] });
  const identity = await loadIdentityEncoder(config.identity.encoder, { weights: config.identity.weights });
  let hearLoaded: Awaited<ReturnType<typeof loadCheckpointNetworks>> | null = null;
  try {
    const aei = loaded.networks.aei as AEINet;
    let hear: HEARNet | null = null;
    let hearCheckpoint: string | null = null;
    if (hearRun) {
      hearCheckpoint = await findCheckpoint(hearRun.dir);
      hearLoaded = await loadCheckpointNetworks(hearCheckpoint, { only: ['hearnet'] });
      hear = hearLoaded.networks.hearnet as HEARNet;
    }
    const resolution = experiment.eval.resolution ?? aei.modelConfig.resolution;
    const { summary, pairIdSimilarity } = await ctx.evaluate('model', resolution, aeiSwapFn(aei, identity, hear), path.join(runDir, 'eval'), { checkpoint, hearCheckpoint });
    const targets = await ctx.targets();
    const initial = new AEINet(config.model, { seed: config.seed });
    let step0: number;
    try {
      step0 = await sameImageReconstruction(initial, identity, targets);
    } finally {
      initial.dispose();
    }
    const recSame = { step0, final: await sameImageReconstruction(aei, identity, targets) };
    const finalLosses = await lossSummary(path.join(runDir, 'metrics.csv'), 'last');
    const first = await lossSummary(path.join(runDir, 'metrics.csv'), 'first');
    if (hearRun) {
      for (const [k, val] of Object.entries(await lossSummary(path.join(hearRun.dir, 'metrics.csv'), 'last'))) finalLosses[`hear:${k}`] = val;
    }
    const firstLosses: Record<string, number> = {};
    for (const k of experiment.report.first) if (k in first) firstLosses[k] = first[k]!;
    return {
      experiment: experiment.name,
      variant: v.name,
      kind: 'model',
      method: 'model',
      overrides,
      ...(hearRun ? { hearOverrides: hearRun.overrides, hearCheckpoint } : {}),
      runDir,
      checkpoint,
      steps: config.train.steps,
      summary,
      finalLosses,
      firstLosses,
      recSame,
      pairIdSimilarity,
      finishedAt: new Date().toISOString(),
    };
  } finally {
    hearLoaded?.dispose();
    identity.dispose();
    loaded.dispose();
  }
}

async function readResult(file: string): Promise<VariantResult | null> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as VariantResult;
  } catch {
    return null;
  }
}

/** result.json of every variant (in file order) and baseline of the experiment; null where not done yet. */
export async function collectResults(experiment: Experiment, out?: string): Promise<{ name: string; result: VariantResult | null }[]> {
  const dir = resultsDirOf(experiment, out);
  const jobs = [
    ...experiment.variants.map((v) => ({ name: v.name, file: path.join(runDirOf(dir, v.name), RESULT_FILE) })),
    ...experiment.eval.baselines.map((m) => ({ name: `baseline:${m}`, file: path.join(baselineDirOf(dir, m), RESULT_FILE) })),
  ];
  return Promise.all(jobs.map(async (j) => ({ name: j.name, result: await readResult(j.file) })));
}

const METRIC_COLUMNS: [string, (s: EvalSummary) => number][] = [
  ['id_similarity', (s) => s.idSimilarity.mean],
  ['id_retrieval', (s) => s.idRetrieval.mean],
  ['pose_error', (s) => s.poseError.mean],
  ['expression_error', (s) => s.expressionError.mean],
];

/** The results table: one row per result, metric means, then `first <loss>` and `final <loss>` columns. */
export function resultsTable(results: readonly VariantResult[]): { columns: string[]; rows: (string | number | null)[][] } {
  const lossColumns: string[] = [];
  const add = (c: string): void => {
    if (!lossColumns.includes(c)) lossColumns.push(c);
  };
  for (const r of results) {
    for (const k of Object.keys(r.firstLosses)) add(`first ${k}`);
    for (const k of Object.keys(r.finalLosses)) add(`final ${k}`);
  }
  const rec = results.some((r) => r.recSame) ? ['rec_same step 0', 'rec_same final'] : [];
  const columns = ['variant', 'method', 'steps', 'pairs', ...METRIC_COLUMNS.map(([c]) => c), ...rec, ...lossColumns];
  const rows = results.map((r) => [
    r.variant,
    r.method,
    r.steps,
    r.summary.pairs,
    ...METRIC_COLUMNS.map(([, f]) => f(r.summary)),
    ...(rec.length ? [r.recSame?.step0 ?? null, r.recSame?.final ?? null] : []),
    ...lossColumns.map((c) => {
      const [which, key] = [c.slice(0, c.indexOf(' ')), c.slice(c.indexOf(' ') + 1)];
      return (which === 'first' ? r.firstLosses[key] : r.finalLosses[key]) ?? null;
    }),
  ]);
  return { columns, rows };
}

const csvCell = (v: string | number | null): string => {
  if (v === null) return '';
  const t = String(v);
  return /[",\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
};
const mdCell = (v: string | number | null): string => (v === null ? '' : typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(4) : String(v));

/**
 * The two questions every experiment's results.md answers per variant, from the numbers in its row:
 * does reconstruction improve (rec_same final < step 0), and does the swap carry more of the source's identity
 * than the target itself does (`baseline:target`, Ŷ = X_t)? The identity comparison is paired: both rows are
 * measured on the same pairs, so the per-pair difference removes the pairs' own spread from the interval.
 */
export function learningChecks(results: readonly VariantResult[], seed = 0): string[] {
  const models = results.filter((r) => r.kind === 'model');
  if (models.length === 0) return [];
  const target = results.find((r) => r.variant === 'baseline:target');
  const f = (v: number): string => (Math.abs(v) < 5e-4 ? 0 : v).toFixed(3); // no "-0.000"
  const lines = ['## Learning checks', ''];
  for (const r of models) {
    const checks: string[] = [];
    if (r.recSame) {
      const falls = r.recSame.final < r.recSame.step0;
      checks.push(`reconstruction (rec_same) ${f(r.recSame.step0)} → ${f(r.recSame.final)}: ${falls ? 'falls ✓' : 'does not fall ✗'}`);
    }
    if (target) {
      const sim = r.summary.idSimilarity;
      const base = target.summary.idSimilarity;
      const a = r.pairIdSimilarity;
      const b = target.pairIdSimilarity;
      if (a && b && a.length === b.length && a.length > 0) {
        const d = meanCI(a.map((v, i) => v - b[i]!), { seed });
        const verdict = d.lo > 0 ? 'above ✓' : d.hi < 0 ? 'below ✗' : 'not distinguishable from it ✗';
        checks.push(`ID similarity to the source ${f(sim.mean)} vs ${f(base.mean)} for the target itself: Δ = ${f(d.mean).startsWith('-') ? '' : '+'}${f(d.mean)} (paired 95% CI ${f(d.lo)} to ${f(d.hi)}, ${d.n} pairs), ${verdict}`);
      } else {
        const verdict = sim.mean > base.mean ? 'above ✓' : 'not above ✗';
        checks.push(`ID similarity to the source ${f(sim.mean)} [${f(sim.lo)}, ${f(sim.hi)}] vs ${f(base.mean)} [${f(base.lo)}, ${f(base.hi)}] for the target itself: ${verdict}`);
      }
    }
    if (checks.length) lines.push(`- **${r.variant}**: ${checks.join('; ')}.`);
  }
  return [...lines, ''];
}

/**
 * Writes results.csv and results.md (atomically) from the per-variant result.json files present; results.md
 * names the variants still missing. Returns the paths and the names missing.
 */
export async function writeResults(experiment: Experiment, out?: string): Promise<{ csv: string; md: string; missing: string[]; rows: number }> {
  const dir = resultsDirOf(experiment, out);
  const collected = await collectResults(experiment, out);
  const done = collected.flatMap((c) => (c.result ? [c.result] : []));
  const missing = collected.filter((c) => !c.result).map((c) => c.name);
  const { columns, rows } = resultsTable(done);
  const csv = path.join(dir, 'results.csv');
  const md = path.join(dir, 'results.md');
  await writeFileAtomic(csv, [columns, ...rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n');
  const lines = [
    `# ${experiment.name}`,
    '',
    `Base \`${experiment.base}\`; evaluated on \`${experiment.eval.dataset}\`${experiment.eval.limit ? ` (first ${experiment.eval.limit} pairs)` : ''}, seed ${experiment.eval.seed}. ` +
      'id_similarity: cos(faceres(Ŷ), faceres(X_s)); id_retrieval: top-1 %; pose_error: degrees; expression_error: % of the outer-eye distance. ' +
      'rec_same step 0 / final: L_rec of AEI-Net with X_s = X_t on the evaluation targets, for the untrained network (rebuilt from the seed) and the evaluated checkpoint. ' +
      `first/final <loss>: mean of the first/last ${LOSS_WINDOW} logged values of the run's metrics.csv (no step-0 checkpoint is written, so "first" starts at the first logged step; loss/rec leaves out steps whose batch had no same-identity pair, logged as 0).`,
    '',
    `| ${columns.join(' | ')} |`,
    `|${columns.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`),
    '',
    ...learningChecks(done, experiment.eval.seed),
    ...(missing.length ? [`Not finished yet: ${missing.join(', ')}.`, ''] : []),
  ];
  await writeFileAtomic(md, lines.join('\n'));
  return { csv, md, missing, rows: rows.length };
}

/** `yarn experiments run`: this shard's variants (and, on shard 0, the baselines); skips those already done. */
export async function runExperiment(fileOrExperiment: string | Experiment, options: ExperimentRunOptions = {}): Promise<ExperimentRunSummary> {
  const experiment = typeof fileOrExperiment === 'string' ? loadExperiment(fileOrExperiment) : fileOrExperiment;
  const log = options.log ?? (() => {});
  const shard = options.shard ?? { index: 0, count: 1 };
  const dir = resultsDirOf(experiment, options.out);
  // Resolve every variant's config first: a bad override fails now, not hours into the run.
  const planned = experiment.variants.map((v) => ({ v, ...variantOverrides(experiment, v, options.steps) }));
  const mine = variantsOfShard(experiment.variants.length, shard.index, shard.count).map((k) => planned[k]!);
  const summary: ExperimentRunSummary = { resultsDir: dir, evaluated: [], trained: [], skipped: [], failed: [], tables: null, interrupted: null };
  // Shards run side by side on disjoint variants; the same shard twice would write the same runs, so it is refused.
  await fs.mkdir(dir, { recursive: true });
  const lock = await acquireRunLock(dir, { name: `run-shard-${shard.index}-of-${shard.count}.lock`, command: `yarn experiments run --shard ${shard.index}/${shard.count}`, notice: log });
  const ctx = new EvalContext(experiment);
  try {
    for (const { v, overrides, config } of mine) {
      const runDir = runDirOf(dir, v.name);
      const resultFile = path.join(runDir, RESULT_FILE);
      if (await readResult(resultFile)) {
        summary.skipped.push(v.name);
        log(`[experiments] ${v.name}: done (${resultFile}), skipped`);
        continue;
      }
      // One variant failing (a diverging ablation, a bad HEAR-Net config) must not cost the others their run.
      try {
        log(`[experiments] ${v.name}: training (${overrides.join(' ')})`);
        if (await trainStage(v.name, experiment.base, overrides, config, runDir, options)) summary.trained.push(v.name);
        let hearRun: { dir: string; overrides: string[] } | null = null;
        if (v.hear) {
          const hearDir = hearRunDirOf(dir, v.name);
          const h = hearOverrides(v, runDir, config, options.steps);
          log(`[experiments] ${v.name}: training HEAR-Net (${h.overrides.join(' ')})`);
          if (await trainStage(`${v.name}/hear`, v.hear.config, h.overrides, h.config, hearDir, options)) summary.trained.push(`${v.name}/hear`);
          hearRun = { dir: hearDir, overrides: h.overrides };
        }
        log(`[experiments] ${v.name}: evaluating`);
        const result = await evaluateVariant(ctx, experiment, v, runDir, config, hearRun, overrides);
        await writeFileAtomic(resultFile, JSON.stringify(result, null, 2) + '\n');
        summary.evaluated.push(v.name);
      } catch (e) {
        if (e instanceof StageInterrupted) {
          summary.interrupted = e.stage;
          log(`[experiments] ${e.stage}: interrupted; its checkpoint is written, and running the same command again resumes it`);
          return summary;
        }
        const error = e instanceof Error ? e.message : String(e);
        summary.failed.push({ variant: v.name, error });
        log(`[experiments] ${v.name}: FAILED: ${error}`);
      }
    }
    if (shard.index === 0) {
      const resolution = experiment.eval.resolution ?? variantOverrides(experiment, { name: 'baseline', set: [], hear: undefined }).config.model.resolution;
      for (const method of experiment.eval.baselines) {
        const bdir = baselineDirOf(dir, method);
        const resultFile = path.join(bdir, RESULT_FILE);
        if (await readResult(resultFile)) {
          summary.skipped.push(`baseline:${method}`);
          continue;
        }
        log(`[experiments] baseline ${method}: evaluating`);
        const { summary: s, pairIdSimilarity } = await ctx.evaluate(method, resolution, undefined, bdir, { method });
        const result: VariantResult = {
          experiment: experiment.name,
          variant: `baseline:${method}`,
          kind: 'baseline',
          method,
          overrides: [],
          runDir: null,
          checkpoint: null,
          steps: null,
          summary: s,
          finalLosses: {},
          firstLosses: {},
          pairIdSimilarity,
          finishedAt: new Date().toISOString(),
        };
        await writeFileAtomic(resultFile, JSON.stringify(result, null, 2) + '\n');
        summary.evaluated.push(`baseline:${method}`);
      }
    }
  } finally {
    ctx.dispose();
    await lock.release();
  }
  const collected = await collectResults(experiment, options.out);
  if (collected.every((c) => c.result)) {
    const w = await writeResults(experiment, options.out);
    summary.tables = { csv: w.csv, md: w.md };
    log(`[experiments] wrote ${w.csv} and ${w.md}`);
  } else {
    const missing = collected.filter((c) => !c.result).map((c) => c.name);
    log(`[experiments] ${missing.length} result(s) pending (${missing.join(', ')}), e.g. on other shards; when all are done, \`yarn experiments report ${experiment.file}\` writes the tables.`);
  }
  return summary;
}
