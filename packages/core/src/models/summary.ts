/** Keras-style summaries of the networks, and one call that builds all of them from a model config. */
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../config/model_config.js';
import { AEINet } from './aei_net.js';
import type { BuildOptions } from './builder.js';
import { HEARNet } from './hear_net.js';
import { MultiscaleDiscriminator } from './multiscale_discriminator.js';
import { countTrainableParams } from './named_weights.js';

export interface SummaryRow {
  name: string;
  /** The layer's class (for nested networks, the network's class, e.g. NLayerDiscriminator). */
  type: string;
  outputShape: string;
  /** All parameters of the layer, BatchNorm moving statistics included (as Keras counts them). */
  params: number;
  /** Nesting depth: 0 for the network's own layers, 1 inside a nested network. */
  depth: number;
}

export interface NetworkSummary {
  name: string;
  rows: SummaryRow[];
  /** Trainable parameters (the design's section 7 figures). */
  trainable: number;
  nonTrainable: number;
}

function shapeText(layer: tf.layers.Layer): string {
  try {
    const shape = layer.outputShape as tf.Shape | tf.Shape[];
    const one = (s: tf.Shape): string => `[${s.map((d) => (d == null ? 'B' : String(d))).join(',')}]`;
    return Array.isArray(shape[0]) ? (shape as tf.Shape[]).map(one).join(' ') : one(shape as tf.Shape);
  } catch {
    return '(several)';
  }
}

function typeName(layer: tf.layers.Layer): string {
  return layer instanceof tf.LayersModel && layer.constructor !== tf.LayersModel ? layer.constructor.name : layer.getClassName();
}

/** One row per layer (nested networks expanded beneath their own row) and the trainable/non-trainable totals. */
export function summarizeNetwork(model: tf.LayersModel): NetworkSummary {
  const rows: SummaryRow[] = [];
  const visit = (layers: tf.layers.Layer[], depth: number): void => {
    for (const layer of layers) {
      rows.push({ name: layer.name, type: typeName(layer), outputShape: shapeText(layer), params: layer.countParams(), depth });
      if (layer instanceof tf.LayersModel) visit(layer.layers, depth + 1);
    }
  };
  visit(model.layers, 0);
  const trainable = countTrainableParams(model);
  const total = model.countParams();
  return { name: model.name, rows, trainable, nonTrainable: total - trainable };
}

/** The three networks of a FaceShifter setup. */
export interface Networks {
  aei: AEINet;
  hearnet: HEARNet;
  discriminator: MultiscaleDiscriminator;
  dispose(): void;
}

/** Builds AEI-Net, HEAR-Net and the discriminator of one model config (same seed for all). */
export function buildNetworks(config: ModelConfig, options: BuildOptions = {}): Networks {
  const aei = new AEINet(config, options);
  const hearnet = new HEARNet(config, options);
  const discriminator = new MultiscaleDiscriminator(config, options);
  return {
    aei,
    hearnet,
    discriminator,
    dispose: () => {
      aei.dispose();
      hearnet.dispose();
      discriminator.dispose();
    },
  };
}

/** The networks `yarn model-summary` reports, in its order. */
export const SUMMARIZED_NETWORKS = ['encoder', 'generator', 'hearnet', 'discriminator'] as const;
export type SummarizedNetwork = (typeof SUMMARIZED_NETWORKS)[number];

export const NETWORK_TITLES: Readonly<Record<SummarizedNetwork, string>> = {
  encoder: 'Multi-level attribute encoder',
  generator: 'AAD generator',
  hearnet: 'HEAR-Net',
  discriminator: 'Multi-scale discriminator',
};

/** Builds each network in turn (zero weights), summarises it and disposes it, so at most one is in memory. */
export function summarizeModelConfig(config: ModelConfig): Record<SummarizedNetwork, NetworkSummary> {
  const out = {} as Record<SummarizedNetwork, NetworkSummary>;
  const aei = new AEINet(config, { fastInit: true });
  out.encoder = summarizeNetwork(aei.encoder);
  out.generator = summarizeNetwork(aei.generator);
  aei.dispose();
  const hearnet = new HEARNet(config, { fastInit: true });
  out.hearnet = summarizeNetwork(hearnet);
  hearnet.dispose();
  const discriminator = new MultiscaleDiscriminator(config, { fastInit: true });
  out.discriminator = summarizeNetwork(discriminator);
  discriminator.dispose();
  return out;
}

const fmt = (n: number): string => n.toLocaleString('en-US');

/** A Keras-style table of one network. */
export function formatSummary(title: string, s: NetworkSummary): string {
  const header = ['Layer', 'Type', 'Output shape', 'Params'];
  const rows = s.rows.map((r) => [`${'  '.repeat(r.depth)}${r.name}`, r.type, r.outputShape, fmt(r.params)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  const rule = '-'.repeat(widths.reduce((a, w) => a + w, 0) + 6);
  return [
    `${title} (${s.name})`,
    rule,
    line(header),
    rule,
    ...rows.map(line),
    rule,
    `Trainable params: ${fmt(s.trainable)}   Non-trainable params (BatchNorm statistics): ${fmt(s.nonTrainable)}`,
    '',
  ].join('\n');
}
