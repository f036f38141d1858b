/**
 * The mapping between this project's networks and the state_dicts of the public PyTorch reference
 * (reference/faceshifter_reference_parameters.tsv lists them at the paper preset).
 *
 * It is systematic, not a table: the networks name their layers after the reference's modules
 * (`encoder.conv1.0`, `generator.AADBlk4.AAD3.conv1`, `hearnet.up2.0`, `discriminator.layer2.17`), so for any
 * config the reference key of a weight is its tfjs name with `/` → `.` and the tfjs leaf renamed (kernel → weight,
 * gamma → weight, beta → bias, moving_mean → running_mean, moving_variance → running_var); the reference's
 * HEAR-Net and discriminator state_dicts have no network prefix, AEI-Net's keeps `encoder.`/`generator.`
 * ({@link namedWeights} does the renaming). Values are permuted between layouts (see layout.ts), and every
 * BatchNorm gets PyTorch's `num_batches_tracked` counter (an I64 scalar; written on export, ignored on import).
 *
 * One structural difference is handled here rather than by renaming: the order of the two halves of a U-Net
 * skip concatenation. The reference's AEI encoder concatenates (up ‖ skip) and its HEAR-Net (skip ‖ up)
 * (`torch.cat((c4, m1))`). Where one of our concatenations orders its inputs differently from the reference,
 * the input-channel axis of the convolutions that read it is reordered on export and import, so that reference
 * weights compute the same function here. The order is read from the network's graph, not assumed.
 */
import * as tf from '@tensorflow/tfjs';
import { namedWeights, type NamedWeight } from '../models/named_weights.js';
import { fromTorchLayout, toTorchLayout, torchShape, type LayoutKind } from './layout.js';
import type { SafetensorsFile, SafetensorsTensor } from './safetensors.js';
import { assignTensors, writeVariable, type ExpectedTensor } from './tensor_set.js';

/** The networks a checkpoint or a reference file can hold (the reference tsv's `network` column). */
export type NetworkName = 'aei' | 'hearnet' | 'discriminator';
export const NETWORK_NAMES: readonly NetworkName[] = ['aei', 'hearnet', 'discriminator'];

/** The PyTorch layout of each kind, for error messages. */
export const TORCH_LAYOUT: Record<LayoutKind, string> = {
  conv2d: 'PyTorch OIHW',
  conv2dTranspose: 'PyTorch ConvTranspose IOHW',
  dense: 'PyTorch Linear [out,in]',
  vector: '',
};

/** Input channels of a kernel split into consecutive segments, and the order the reference stores them in. */
export interface InputReorder {
  /** Our axis of the input channels: 2 for a conv2d HWIO kernel, 3 for a conv2dTranspose [kh,kw,out,in] kernel. */
  axis: number;
  /** Segment lengths in our order. */
  segments: number[];
  /** For each reference position, the index of our segment stored there. */
  referenceOrder: number[];
}

/** One tensor of the reference state_dict of a network of ours. */
export interface ReferenceTensor {
  /** The reference's key, e.g. `generator.AADBlk1.AAD1.conv1.weight`. */
  name: string;
  /** Its PyTorch shape. */
  shape: number[];
  /** `param`/`buffer` as in the tsv: BatchNorm running statistics and counters are buffers, the rest params. */
  role: 'param' | 'buffer';
  /** Our weight, or null for num_batches_tracked. */
  weight: NamedWeight | null;
  /** Set where our concatenation order differs from the reference's (see the module comment). */
  reorder?: InputReorder;
}

/** The network prefix the reference state_dict lacks: none for AEI-Net, the model name for the others. */
function stripPrefix(network: NetworkName, model: tf.LayersModel): string {
  return network === 'aei' ? '' : `${model.name}.`;
}

/** All layers of a model, through nested models and composite layers. */
function allLayers(root: tf.layers.Layer): tf.layers.Layer[] {
  const out: tf.layers.Layer[] = [];
  const visit = (layer: tf.layers.Layer): void => {
    out.push(layer);
    const children = layer instanceof tf.LayersModel ? layer.layers : (layer as { layers?: tf.layers.Layer[] }).layers;
    if (Array.isArray(children)) children.forEach(visit);
  };
  visit(root);
  return out;
}

/**
 * Whether the reference puts the block's own (upsampled) branch first in a skip concatenation named
 * `<block>.concat`: the AEI encoder's deconv blocks do, the HEAR-Net's up blocks do not.
 */
function referenceUpFirst(network: NetworkName): boolean {
  return network !== 'hearnet';
}

/** Kernel variables (by variable) whose input channels must be reordered for the reference. */
function concatReorders(network: NetworkName, model: tf.LayersModel): Map<tf.LayerVariable, InputReorder> {
  const reorders = new Map<tf.LayerVariable, InputReorder>();
  const layers = allLayers(model);
  const inModel = new Set(layers);
  for (const concat of layers) {
    if (concat.getClassName() !== 'Concatenate' || !concat.name.endsWith('.concat')) continue;
    const block = concat.name.slice(0, -'.concat'.length);
    const node = concat.inboundNodes[0];
    if (!node || node.inboundLayers.length !== 2) continue;
    const ownFirst = node.inboundLayers[0]!.name.startsWith(`${block}.`);
    const ownSecond = node.inboundLayers[1]!.name.startsWith(`${block}.`);
    if (ownFirst === ownSecond) continue; // not a skip concatenation (e.g. HEAR-Net's input concat)
    if (ownFirst === referenceUpFirst(network)) continue; // same order as the reference
    const shapes = node.inputShapes as tf.Shape[];
    const segments = shapes.map((s) => s[s.length - 1]!);
    // Follow the concatenation's output through channel-preserving layers (upsampling, activations) to the
    // convolutions that read it; those are the kernels whose input axis holds the two halves.
    const queue = [...concat.outboundNodes.map((n) => n.outboundLayer)];
    while (queue.length > 0) {
      const layer = queue.shift()!;
      if (!inModel.has(layer)) continue;
      const cls = layer.getClassName();
      if (cls === 'Conv2D' || cls === 'Conv2DTranspose') {
        const kernel = layer.weights.find((w) => w.originalName.endsWith('/kernel'));
        if (kernel) reorders.set(kernel, { axis: cls === 'Conv2D' ? 2 : 3, segments, referenceOrder: [1, 0] });
      } else if (layer.weights.length === 0 && !(layer instanceof tf.LayersModel)) {
        queue.push(...layer.outboundNodes.map((n) => n.outboundLayer));
      } else {
        throw new Error(
          `${model.name}: cannot map '${concat.name}' to the reference: its inputs are in the opposite order and it feeds ` +
            `'${layer.name}' (${cls}), whose input channels this mapping cannot reorder`,
        );
      }
    }
  }
  return reorders;
}

/**
 * Moves consecutive segments along `axis` of a row-major array: output segment i is input segment order[i].
 * `segments` are the input's segment lengths (summing to shape[axis]).
 */
export function reorderSegments(data: Float32Array, shape: readonly number[], axis: number, segments: readonly number[], order: readonly number[]): Float32Array {
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const total = shape[axis]!;
  const starts: number[] = [];
  segments.reduce((acc, len) => (starts.push(acc), acc + len), 0);
  const out = new Float32Array(data.length);
  for (let o = 0; o < outer; o++) {
    let dst = o * total * inner;
    for (const s of order) {
      const src = (o * total + starts[s]!) * inner;
      const len = segments[s]! * inner;
      out.set(data.subarray(src, src + len), dst);
      dst += len;
    }
  }
  return out;
}

/** The inverse of an order (position → segment) as used by {@link reorderSegments}. */
function inverseOrder(order: readonly number[]): number[] {
  const inv = new Array<number>(order.length);
  order.forEach((s, i) => (inv[s] = i));
  return inv;
}

/**
 * Every tensor of the reference state_dict for `model`, in state_dict order: our weights mapped by name and
 * layout, plus a `num_batches_tracked` after each BatchNorm's running_var.
 */
export function referenceTensors(network: NetworkName, model: tf.LayersModel): ReferenceTensor[] {
  const weights = namedWeights(model, { stripPrefix: stripPrefix(network, model) });
  const reorders = concatReorders(network, model);
  const out: ReferenceTensor[] = [];
  for (const w of weights) {
    // By name, not by trainability: a frozen network's weights are still the reference's parameters.
    const role = /\.running_(mean|var)$/.test(w.referenceName) ? 'buffer' : 'param';
    const entry: ReferenceTensor = { name: w.referenceName, shape: torchShape(w.kind, w.shape), role, weight: w };
    const reorder = reorders.get(w.variable);
    if (reorder) entry.reorder = reorder;
    out.push(entry);
    if (w.referenceName.endsWith('.running_var')) {
      out.push({ name: w.referenceName.replace(/running_var$/, 'num_batches_tracked'), shape: [], role: 'buffer', weight: null });
    }
  }
  // The reference registers its discriminator scales as layer0, layer1, ...; ours are built full resolution
  // (layer{num_D−1}) first. Sort by scale so exported files list tensors in the reference's order.
  if (network === 'discriminator') {
    const scale = (name: string): number => Number(/^layer(\d+)\./.exec(name)?.[1] ?? 0);
    out.sort((a, b) => scale(a.name) - scale(b.name)); // stable: keeps the order within a scale
  }
  const seen = new Set<string>();
  for (const t of out) {
    if (seen.has(t.name)) throw new Error(`${model.name}: two weights map to the reference name '${t.name}'`);
    seen.add(t.name);
  }
  return out;
}

export interface ExportReferenceOptions {
  /** Value of every BatchNorm's num_batches_tracked (the reference only reads it when momentum is None). Default 0. */
  numBatchesTracked?: number;
  /** Prepended to every name (used for files holding several networks, e.g. `hearnet.`). Default none. */
  prefix?: string;
}

/** The network's weights as the reference's state_dict: names, PyTorch layouts, float32 (+ I64 counters). */
export function exportReferenceTensors(network: NetworkName, model: tf.LayersModel, options: ExportReferenceOptions = {}): [string, SafetensorsTensor][] {
  const prefix = options.prefix ?? '';
  const counter = BigInt(options.numBatchesTracked ?? 0);
  return referenceTensors(network, model).map((t): [string, SafetensorsTensor] => {
    if (!t.weight) return [prefix + t.name, { dtype: 'I64', shape: [], data: new BigInt64Array([counter]) }];
    const w = t.weight;
    let values = w.variable.read().dataSync() as Float32Array;
    if (t.reorder) {
      const r = t.reorder;
      values = reorderSegments(values, w.shape, r.axis, r.segments, r.referenceOrder);
    }
    return [prefix + t.name, { dtype: 'F32', shape: t.shape, data: toTorchLayout(w.kind, values, w.shape) }];
  });
}

export interface ImportReferenceOptions {
  /** The names in the file carry this prefix (files holding several networks). Default none. */
  prefix?: string;
}

/**
 * Loads reference-layout tensors from a parsed safetensors file into `model`. Everything is checked first
 * (names, shapes, dtypes); a mismatch throws one line naming the tensor and both shapes, and leaves the model
 * unchanged. F16, BF16 and F64 tensors are converted to float32; num_batches_tracked is ignored.
 */
export function importReferenceTensors(network: NetworkName, model: tf.LayersModel, file: SafetensorsFile, options: ImportReferenceOptions = {}): void {
  const expected: ExpectedTensor[] = referenceTensors(network, model).map((t) => {
    if (!t.weight) return { name: t.name, shape: t.shape, layout: '', optional: true };
    const w = t.weight;
    return {
      name: t.name,
      shape: t.shape,
      layout: TORCH_LAYOUT[w.kind],
      assign: (values: Float32Array) => {
        let ours = fromTorchLayout(w.kind, values, t.shape);
        if (t.reorder) {
          const r = t.reorder;
          // In the reference's segment order the lengths are our lengths permuted.
          const refSegments = r.referenceOrder.map((s) => r.segments[s]!);
          ours = reorderSegments(ours, w.shape, r.axis, refSegments, inverseOrder(r.referenceOrder));
        }
        writeVariable(w.variable, ours, w.shape);
      },
    };
  });
  assignTensors(file, expected, {
    prefix: options.prefix ?? '',
    what: `the ${network} network (PyTorch reference layout)`,
    hint: 'was the file made for another model config? (check --config: resolution, widthMultiplier, cId, discriminator)',
  });
}

/** Guesses which network a reference-layout file holds from its tensor names; null when it cannot tell. */
export function detectReferenceNetwork(names: readonly string[]): NetworkName | 'all' | null {
  if (names.length === 0) return null;
  const all = (re: RegExp): boolean => names.every((n) => re.test(n));
  if (all(/^(aei|hearnet|discriminator)\./)) return 'all';
  if (all(/^(encoder|generator)\./)) return 'aei';
  if (all(/^(down|up)\d+\./)) return 'hearnet';
  if (all(/^layer\d+\./)) return 'discriminator';
  return null;
}

