import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { HEARNet, loadCheckpoint, writeCheckpointFiles, writeStagedFile, type AEINet, type IdentityEncoder, type RawImage } from '@faceshifter/core/node';
import type { HEARWeights, TrainConfig } from '../config/train_config.js';
import type { OcclusionAugmenter } from '../data/occlusion.js';
import { sampleGrid } from '../logging/sample_grid.js';
import { hearInputs, hearLosses, type HEARNetworks } from '../models/hear_model.js';
import type { PairBatch, PairBatchSource } from '../models/pair_batch.js';
import { loadOptimizer, optimizerStep, saveOptimizer, trainableVariables } from './optimization.js';
import type { TrainingTask } from './training_loop.js';

const DATA_STATE = 'data_state.json';
const OPT = 'optimizer_hear.safetensors';

/**
 * Trains HEAR-Net on a frozen AEI-Net (faceshifter.md §10): half the pairs are the same image, targets get
 * synthetic occlusions, and the losses are L′_id, L_chg and L′_rec.
 */
export class HEARTrainer implements TrainingTask {
  readonly nets: HEARNetworks;
  private readonly opt: tf.Optimizer;
  private readonly vars: tf.Variable[];
  private readonly weights: HEARWeights;
  private preview: tf.Tensor4D[] | null = null;

  constructor(
    readonly config: TrainConfig,
    aei: AEINet,
    identity: IdentityEncoder,
    private readonly data: PairBatchSource,
    private readonly occlusion: OcclusionAugmenter,
  ) {
    if (config.stage !== 'hear') throw new Error(`HEARTrainer: config stage is '${config.stage}'; use the AEI trainer.`);
    if (aei.modelConfig.resolution !== config.model.resolution) {
      throw new Error(`HEARTrainer: the AEI-Net checkpoint is ${aei.modelConfig.resolution}px but model.resolution is ${config.model.resolution}; they must match.`);
    }
    this.nets = { aei, hearnet: new HEARNet(config.model, { seed: config.seed + 2 }), identity };
    this.weights = config.train.weights as HEARWeights;
    this.opt = tf.train.adam(config.train.lr, config.train.beta1, config.train.beta2, 1e-8);
    this.vars = trainableVariables(this.nets.hearnet);
  }

  async trainStep(): Promise<Record<string, number>> {
    const batch = await this.occlude(await this.data.next());
    const inputs = hearInputs(this.nets, batch);
    const r = await optimizerStep(this.opt, this.vars, () => {
      const l = hearLosses(this.nets, batch, inputs, this.weights);
      return { total: l.total, scalars: { id: l.id, chg: l.chg, rec: l.rec, total: l.total }, keep: [l.refined] };
    });
    this.disposePreview();
    this.preview = [batch.source, batch.target, inputs.swap, r.kept[0] as tf.Tensor4D];
    tf.dispose([batch.same, inputs.heuristicError, inputs.zIdSource]);
    return { 'loss/id': r.values.id, 'loss/chg': r.values.chg, 'loss/rec': r.values.rec, 'loss/total': r.values.total };
  }

  /** Occludes X_t; a same-image pair keeps X_s = X_t, occlusion included. */
  private async occlude(batch: PairBatch): Promise<PairBatch> {
    const [b, h, w] = batch.target.shape;
    const [pixels, same, sourcePixels] = await Promise.all([batch.target.data(), batch.same.data(), batch.source.data()]);
    const per = h * w * 3;
    const images = Array.from({ length: b }, (_, i) => ({ width: w, height: h, data: pixels.slice(i * per, (i + 1) * per) as Float32Array }));
    const occluded = this.occlusion.apply(images).images;
    const target = new Float32Array(b * per);
    occluded.forEach((img, i) => target.set(img.data, i * per));
    const source = sourcePixels.slice() as Float32Array;
    same.forEach((s, i) => s && source.set(target.subarray(i * per, (i + 1) * per), i * per));
    tf.dispose([batch.source, batch.target]);
    return { source: tf.tensor4d(source, batch.source.shape), target: tf.tensor4d(target, batch.target.shape), same: batch.same };
  }

  extraScalars(): Record<string, number> {
    return { lr: this.config.train.lr, ...(this.data.skipped !== undefined ? { 'data/skipped': this.data.skipped } : {}) };
  }

  async sampleGrid(): Promise<RawImage> {
    if (!this.preview) throw new Error('HEARTrainer: no step has run yet, so there is nothing to show.');
    return await sampleGrid(this.preview, 8, this.config.faces.channels);
  }

  async saveState(dir: string): Promise<void> {
    await writeCheckpointFiles(dir, { config: this.config.model, networks: { hearnet: this.nets.hearnet }, step: this.opt.iterations, faces: this.config.faces, extra: { stage: 'hear', name: this.config.name } });
    await saveOptimizer(path.join(dir, OPT), this.opt);
    await writeStagedFile(path.join(dir, DATA_STATE), JSON.stringify({ data: this.data.state(), occlusion: this.occlusion.state() }));
  }

  async loadState(dir: string): Promise<void> {
    await loadCheckpoint(dir, { hearnet: this.nets.hearnet });
    await loadOptimizer(path.join(dir, OPT), this.opt);
    const state = JSON.parse(await fs.readFile(path.join(dir, DATA_STATE), 'utf8')) as { data: unknown; occlusion: object };
    this.data.restore(state.data);
    this.occlusion.restore(state.occlusion);
  }

  dispose(): void {
    this.disposePreview();
    this.opt.dispose();
    this.nets.hearnet.dispose();
    this.nets.aei.dispose();
    this.data.dispose();
  }

  private disposePreview(): void {
    if (this.preview) tf.dispose(this.preview);
    this.preview = null;
  }
}
