/**
 * Names, layouts and order of every network's weights, for checkpoint export/import (safetensors, the PyTorch
 * reference) and for summaries. The order is the order of the layers in the graph, and within a layer the order
 * of its weights (kernel before bias; BatchNorm γ, β, moving mean, moving variance), which for these networks is
 * also the reference's state_dict order.
 */
import * as tf from '@tensorflow/tfjs';

/** How a weight is laid out: tfjs's layout, whose PyTorch counterpart differs by a fixed permutation. */
export type WeightKind = 'conv2d' | 'conv2dTranspose' | 'dense' | 'vector';

export interface NamedWeight {
  /** The tfjs name, as model.save writes it: `encoder.conv1.0/kernel`, `generator.AADBlk1/AAD1/conv1/kernel`. */
  name: string;
  /** The PyTorch reference's state_dict key: `encoder.conv1.0.weight`, `generator.AADBlk1.AAD1.conv1.weight`. */
  referenceName: string;
  kind: WeightKind;
  shape: number[];
  trainable: boolean;
  variable: tf.LayerVariable;
}

const REFERENCE_LEAF: Record<string, string> = {
  kernel: 'weight',
  bias: 'bias',
  gamma: 'weight',
  beta: 'bias',
  moving_mean: 'running_mean',
  moving_variance: 'running_var',
};

/** The reference's key for a tfjs weight name, with `stripPrefix` (e.g. `hearnet.`) removed from its start. */
export function referenceName(name: string, stripPrefix = ''): string {
  const parts = name.split('/');
  const leaf = parts.pop()!;
  const key = [...parts, REFERENCE_LEAF[leaf] ?? leaf].join('.');
  return stripPrefix && key.startsWith(stripPrefix) ? key.slice(stripPrefix.length) : key;
}

function isContainer(layer: tf.layers.Layer): layer is tf.LayersModel {
  return layer instanceof tf.LayersModel;
}

/**
 * The leaf layers that own weights, depth first, through nested models and composite layers (those with `layers`).
 * A network with `subnetworks` (AEINet: encoder, generator) is walked through those, in that order.
 */
export function weightedLayers(root: tf.layers.Layer): tf.layers.Layer[] {
  const out: tf.layers.Layer[] = [];
  const visit = (layer: tf.layers.Layer): void => {
    const children = (layer as { subnetworks?: tf.layers.Layer[] }).subnetworks ?? (isContainer(layer) ? layer.layers : ((layer as { layers?: tf.layers.Layer[] }).layers ?? null));
    if (Array.isArray(children)) {
      children.forEach(visit);
      return;
    }
    if (layer.weights.length > 0) out.push(layer);
  };
  visit(root);
  return out;
}

/**
 * Every weight of a network (a model or a layer) with its tfjs name, reference name, layout kind and shape,
 * in a stable order. `stripPrefix` drops a network prefix from the reference names: the reference's HEAR-Net and
 * discriminator state_dicts have none (`down1.0.weight`, `layer2.0.weight`), AEI-Net's keeps `encoder.`/`generator.`.
 */
export function namedWeights(root: tf.layers.Layer, options: { stripPrefix?: string } = {}): NamedWeight[] {
  const out: NamedWeight[] = [];
  const seen = new Set<tf.LayerVariable>();
  for (const layer of weightedLayers(root)) {
    const trainable = new Set(layer.trainableWeights);
    for (const variable of layer.weights) {
      if (seen.has(variable)) continue;
      seen.add(variable);
      const shape = variable.shape.map((d) => d ?? -1);
      const kind: WeightKind =
        shape.length === 1 ? 'vector' : shape.length === 2 ? 'dense' : layer.getClassName() === 'Conv2DTranspose' ? 'conv2dTranspose' : 'conv2d';
      out.push({
        name: variable.originalName,
        referenceName: referenceName(variable.originalName, options.stripPrefix),
        kind,
        shape,
        trainable: trainable.has(variable),
        variable,
      });
    }
  }
  return out;
}

/** The number of trainable parameters (BatchNorm moving statistics excluded), as the design's section 7 counts them. */
export function countTrainableParams(root: tf.layers.Layer): number {
  return root.trainableWeights.reduce((sum, w) => sum + w.shape.reduce<number>((a, d) => a * (d ?? 0), 1), 0);
}
