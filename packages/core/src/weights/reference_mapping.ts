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
 * The networks also concatenate their U-Net skips in the reference's order (the AEI encoder up ‖ skip, HEAR-Net
 * skip ‖ up), so input channels line up without any reordering.
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
}

/** The network prefix the reference state_dict lacks: none for AEI-Net, the model name for the others. */
function stripPrefix(network: NetworkName, model: tf.LayersModel): string {
  return network === 'aei' ? '' : `${model.name}.`;
}

/**
 * Every tensor of the reference state_dict for `model`, in state_dict order: our weights mapped by name and
 * layout, plus a `num_batches_tracked` after each BatchNorm's running_var.
 */
export function referenceTensors(network: NetworkName, model: tf.LayersModel): ReferenceTensor[] {
  const weights = namedWeights(model, { stripPrefix: stripPrefix(network, model) });
  const out: ReferenceTensor[] = [];
  for (const w of weights) {
    // By name, not by trainability: a frozen network's weights are still the reference's parameters.
    const role = /\.running_(mean|var)$/.test(w.referenceName) ? 'buffer' : 'param';
    out.push({ name: w.referenceName, shape: torchShape(w.kind, w.shape), role, weight: w });
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

/**
 * The network's weights as the reference's state_dict: names, PyTorch layouts, float32 (+ I64 counters). Async:
 * the weights are read back with `data()`, as GPU backends (webgpu in Node) have no synchronous readback.
 */
export async function exportReferenceTensors(network: NetworkName, model: tf.LayersModel, options: ExportReferenceOptions = {}): Promise<[string, SafetensorsTensor][]> {
  const prefix = options.prefix ?? '';
  const counter = BigInt(options.numBatchesTracked ?? 0);
  const tensors = referenceTensors(network, model);
  const values = await Promise.all(tensors.map((t) => (t.weight ? (t.weight.variable.read().data() as Promise<Float32Array>) : null)));
  return tensors.map((t, i): [string, SafetensorsTensor] => {
    if (!t.weight) return [prefix + t.name, { dtype: 'I64', shape: [], data: new BigInt64Array([counter]) }];
    const w = t.weight;
    return [prefix + t.name, { dtype: 'F32', shape: t.shape, data: toTorchLayout(w.kind, values[i]!, w.shape) }];
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
        writeVariable(w.variable, fromTorchLayout(w.kind, values, t.shape), w.shape);
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

