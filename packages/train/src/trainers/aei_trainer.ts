import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { AEINet, loadCheckpoint, MultiscaleDiscriminator, writeCheckpointFiles, writeStagedFile, type IdentityEncoder, type RawImage } from '@faceshifter/core/node';
import type { AEIWeights, TrainConfig } from '../config/train_config.js';
import { sampleGrid } from '../logging/sample_grid.js';
import { discriminatorLoss, generatorLosses, type AEINetworks } from '../models/aei_model.js';
import type { PairBatch, PairBatchSource } from '../models/pair_batch.js';
import { loadOptimizer, optimizerStep, saveOptimizer, trainableVariables } from './optimization.js';
import type { TrainingTask } from './training_loop.js';

const DATA_STATE = 'data_state.json';
const OPT_G = 'optimizer_g.safetensors';
const OPT_D = 'optimizer_d.safetensors';

/**
 * Trains AEI-Net against the multi-scale discriminator (faceshifter.md §10): alternating G and D steps, Adam with
 * β = (0, 0.999), hinge loss, and L_att, L_id, L_rec weighted by the config.
 */
export class AEITrainer implements TrainingTask {
  readonly nets: AEINetworks;
  private readonly optG: tf.Optimizer;
  private readonly optD: tf.Optimizer;
  private readonly gVars: tf.Variable[];
  private readonly dVars: tf.Variable[];
  private readonly weights: AEIWeights;
  private preview: { source: tf.Tensor4D; target: tf.Tensor4D; swap: tf.Tensor4D } | null = null;

  constructor(
    readonly config: TrainConfig,
    identity: IdentityEncoder,
    private readonly data: PairBatchSource,
  ) {
    if (config.stage !== 'aei') throw new Error(`AEITrainer: config stage is '${config.stage}'; use the HEAR trainer.`);
    const seed = config.seed;
    this.nets = {
      aei: new AEINet(config.model, { seed }),
      discriminator: new MultiscaleDiscriminator(config.model, { seed: seed + 1 }),
      identity,
    };
    const t = config.train;
    this.weights = t.weights as AEIWeights;
    this.optG = tf.train.adam(t.lr, t.beta1, t.beta2, 1e-8);
    this.optD = tf.train.adam(t.lrD, t.beta1, t.beta2, 1e-8);
    this.gVars = trainableVariables(this.nets.aei);
    this.dVars = trainableVariables(this.nets.discriminator);
  }

  async trainStep(): Promise<Record<string, number>> {
    const batch = await this.data.next();
    // z_id(X_s) is the identity target: computed outside the gradient tape, it is a constant for G.
    const zIdSource = tf.tidy(() => this.nets.identity.embed(batch.source));
    const g = await optimizerStep(this.optG, this.gVars, () => {
      const l = generatorLosses(this.nets, batch, zIdSource, this.weights);
      return { total: l.total, scalars: { adv_g: l.adv, id: l.id, att: l.att, rec: l.rec, g_total: l.total }, keep: [l.swap] };
    });
    const [swap] = g.kept as [tf.Tensor4D];
    const d = await optimizerStep(this.optD, this.dVars, () => {
      const loss = discriminatorLoss(this.nets, batch.source, swap);
      return { total: loss, scalars: { adv_d: loss } };
    });
    this.keepPreview(batch, swap);
    tf.dispose([zIdSource, batch.same]);
    const v = { ...g.values, ...d.values };
    return {
      'loss/adv_g': v.adv_g, 'loss/adv_d': v.adv_d, 'loss/id': v.id, 'loss/att': v.att, 'loss/rec': v.rec, 'loss/g_total': v.g_total,
    };
  }

  extraScalars(): Record<string, number> {
    return { lr: this.config.train.lr, ...(this.data.skipped !== undefined ? { 'data/skipped': this.data.skipped } : {}) };
  }

  async sampleGrid(): Promise<RawImage> {
    if (!this.preview) throw new Error('AEITrainer: no step has run yet, so there is nothing to show.');
    return await sampleGrid([this.preview.source, this.preview.target, this.preview.swap], 8, this.config.faces.channels);
  }

  async saveState(dir: string): Promise<void> {
    await writeCheckpointFiles(dir, {
      config: this.config.model,
      networks: { aei: this.nets.aei, discriminator: this.nets.discriminator },
      step: this.optG.iterations,
      faces: this.config.faces,
      extra: { stage: 'aei', name: this.config.name },
    });
    await saveOptimizer(path.join(dir, OPT_G), this.optG);
    await saveOptimizer(path.join(dir, OPT_D), this.optD);
    await writeStagedFile(path.join(dir, DATA_STATE), JSON.stringify(this.data.state()));
  }

  async loadState(dir: string): Promise<void> {
    await loadCheckpoint(dir, { aei: this.nets.aei, discriminator: this.nets.discriminator });
    await loadOptimizer(path.join(dir, OPT_G), this.optG);
    await loadOptimizer(path.join(dir, OPT_D), this.optD);
    this.data.restore(JSON.parse(await fs.readFile(path.join(dir, DATA_STATE), 'utf8')));
  }

  dispose(): void {
    this.disposePreview();
    this.optG.dispose();
    this.optD.dispose();
    this.nets.aei.dispose();
    this.nets.discriminator.dispose();
    this.data.dispose();
  }

  private keepPreview(batch: PairBatch, swap: tf.Tensor4D): void {
    this.disposePreview();
    this.preview = { source: batch.source, target: batch.target, swap };
  }

  private disposePreview(): void {
    if (this.preview) tf.dispose([this.preview.source, this.preview.target, this.preview.swap]);
    this.preview = null;
  }
}
