import * as tf from '@tensorflow/tfjs';
import { loadGraphModelFiles, type GraphNode, type ModelFiles } from '../faces/model_files.js';
import type { CropBox } from './crop.js';
import { FrozenFaceEncoder } from './identity_encoder.js';

/**
 * Human's faceres (@vladmandic/human `models/faceres.json`, from HSE FaceRec: a MobileNet trained on VGGFace2):
 * 224x224 RGB in 0-255 (not 0-1), the 1024-d `global_pooling/Mean` as the embedding. The identity encoder for
 * evaluation (ID retrieval), a different network and training set from the training encoder, as the paper
 * trains with ArcFace and evaluates with CosFace.
 *
 * The graph is run by a small interpreter over its nodes rather than by tf.GraphModel: GraphModel.execute
 * disposes intermediate tensors as it goes, which breaks tf.grad, and its weights would be fed through fused
 * kernels whose gradients also differentiate the weights. The age/gender heads are never evaluated.
 */

/**
 * Where the net looks in an FFHQ-aligned crop. Human hands faceres its own detector's face box, enlarged, so the
 * net expects the whole head. Chosen on the embedded dataset's one multi-image identity (9 faces against 26 faces of
 * others): the cosine margin between the least similar same-person pair and the most similar different-person pair
 * was 0.035 / 0.035 / 0.054 / 0.082 / 0.017 for squares of 0.6 / 0.7 / 0.8 / 0.9 / 1.0 of the side; 0.9, centred
 * at (0.5, 0.55), is used.
 */
export const FACERES_CROP: CropBox = { x: 0.05, y: 0.1, size: 0.9 };

const INPUT_SIZE = 224;
const OUTPUT_NODE = 'global_pooling/Mean';
const SUPPORTED_OPS = new Set(['Placeholder', 'Const', 'Conv2D', 'DepthwiseConv2dNative', 'Add', 'AddV2', 'Mul', 'Relu', 'Minimum', 'Maximum', 'Mean']);

function decodeAttrString(s: string | undefined): string {
  return s ? new TextDecoder().decode(Uint8Array.from(atob(s), (c) => c.charCodeAt(0))) : '';
}

function strides(node: GraphNode): [number, number] {
  const list = node.attr?.strides?.list?.i?.map(Number) ?? [1, 1, 1, 1];
  return [list[1]!, list[2]!];
}

function padding(node: GraphNode): 'same' | 'valid' {
  const p = decodeAttrString(node.attr?.padding?.s);
  if (p === 'SAME') return 'same';
  if (p === 'VALID') return 'valid';
  throw new Error(`faceres: node ${node.name} has padding '${p}', which this interpreter does not handle.`);
}

/**
 * TF 'same' padding before the first row/column for one spatial dimension.
 */
function samePadBefore(inSize: number, k: number, s: number): number {
  const out = Math.ceil(inSize / s);
  return Math.floor(Math.max((out - 1) * s + k - inSize, 0) / 2);
}

/** Inserts s-1 zeros between the rows and columns of dy ([B,H,W,C] -> [B,(H-1)s+1,(W-1)s+1,C]). */
function dilate(dy: tf.Tensor4D, s: number): tf.Tensor4D {
  if (s === 1) return dy;
  const [b, h, w, c] = dy.shape as [number, number, number, number];
  const zerosH = tf.zeros([b, h, s - 1, w, c]);
  let t = tf.reshape(tf.concat([tf.expandDims(dy, 2), zerosH], 2), [b, h * s, w, c]);
  t = tf.slice(t, [0, 0, 0, 0], [b, (h - 1) * s + 1, w, c]);
  const h2 = t.shape[1]!;
  const zerosW = tf.zeros([b, h2, w, s - 1, c]);
  t = tf.reshape(tf.concat([tf.expandDims(t, 3), zerosW], 3), [b, h2, w * s, c]);
  return tf.slice(t, [0, 0, 0, 0], [b, h2, (w - 1) * s + 1, c]) as tf.Tensor4D;
}

/**
 * Depthwise conv whose input gradient is itself a depthwise conv (of the zero-dilated dy with the 180°-rotated
 * filter), for backends without a DepthwiseConv2dNativeBackpropInput kernel (wasm in tfjs 4.22). The filter is a
 * constant, so no filter gradient is computed.
 */
export function depthwiseWithInputGrad(x: tf.Tensor4D, filter: tf.Tensor4D, s: [number, number], pad: 'same' | 'valid'): tf.Tensor4D {
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xi = args[0] as tf.Tensor4D;
    const value = tf.depthwiseConv2d(xi as tf.Tensor4D, filter, s, pad);
    const gradFunc = (dy: tf.Tensor): tf.Tensor => {
      const [, inH, inW] = xi.shape as [number, number, number, number];
      const [kh, kw] = filter.shape;
      const [, outH, outW] = dy.shape as [number, number, number, number];
      const pbH = pad === 'same' ? samePadBefore(inH, kh, s[0]) : 0;
      const pbW = pad === 'same' ? samePadBefore(inW, kw, s[1]) : 0;
      // Dilating by s on both axes needs equal strides, which every MobileNet layer has.
      const dyd = dilate(dy as tf.Tensor4D, s[0]);
      const padTop = kh - 1 - pbH;
      const padLeft = kw - 1 - pbW;
      const padBottom = inH + pbH - (outH - 1) * s[0] - 1;
      const padRight = inW + pbW - (outW - 1) * s[1] - 1;
      const padded = tf.pad(dyd, [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, 0]]);
      return tf.depthwiseConv2d(padded, tf.reverse(filter, [0, 1]), 1, 'valid');
    };
    return { value, gradFunc };
  });
  return f(x) as tf.Tensor4D;
}

/** One step of the simplified program: a graph op, or a conv whose batch-norm scale and shift are folded in. */
interface Step {
  name: string;
  op: string;
  inputs: string[];
  node?: GraphNode;
  filter?: tf.Tensor4D;
  bias?: tf.Tensor;
  /** A Mean's reduction axes, from its constant second input. */
  axes?: number[];
}

/**
 * The values of the graph's small constants (scalars, reduction axes), which the compiler reads. Read once, at load,
 * asynchronously: GPU backends (webgpu in Node) have no synchronous readback.
 */
export type GraphConstants = ReadonlyMap<string, readonly number[]>;

/** Constants of at most this many elements are read back for the compiler; the weights stay where they are. */
const SMALL_CONSTANT = 8;

export async function readSmallConstants(weights: tf.NamedTensorMap): Promise<GraphConstants> {
  const small = Object.entries(weights).filter(([, t]) => t.size <= SMALL_CONSTANT);
  return new Map(await Promise.all(small.map(async ([k, t]): Promise<[string, number[]]> => [k, Array.from(await t.data())])));
}

/**
 * Rewrites the converter's graph into fewer, cheaper ops with the same function: conv -> (Mul by a per-channel
 * constant) -> Add constant becomes one conv with the scale folded into its filter plus a bias add, and
 * Relu -> Minimum 6 -> Maximum 0 becomes relu6. Fewer full-size elementwise passes: on wasm the forward takes
 * ~90 ms per 224² image against ~120 ms for tf.GraphModel, and the gradient tape is shorter. Anything that does
 * not match is kept as the graph's own op.
 */
function compile(nodes: Map<string, GraphNode>, weights: tf.NamedTensorMap, constants: GraphConstants, output: string): { steps: Step[]; owned: tf.Tensor[] } {
  const owned: tf.Tensor[] = [];
  const consumers = new Map<string, number>();
  for (const n of nodes.values()) for (const i of n.input ?? []) consumers.set(i.split(':')[0]!, (consumers.get(i.split(':')[0]!) ?? 0) + 1);
  const nodeOf = (ref: string): GraphNode => {
    const n = nodes.get(ref.split(':')[0]!);
    if (!n) throw new Error(`faceres.json: node '${ref}' is referenced but missing.`);
    return n;
  };
  const isConst = (ref: string): boolean => nodeOf(ref).op === 'Const';
  const scalar = (ref: string): number | undefined => {
    const v = constants.get(ref.split(':')[0]!);
    return isConst(ref) && v && v.length === 1 ? v[0] : undefined;
  };
  const single = (ref: string): boolean => consumers.get(ref.split(':')[0]!) === 1;
  const steps: Step[] = [];
  const emitted = new Set<string>();
  const emit = (ref: string): string => {
    const node = nodeOf(ref);
    const name = node.name;
    if (emitted.has(name)) return name;
    const [a, b] = node.input ?? [];
    // relu6: Maximum(Minimum(Relu(x), 6), 0)
    if (node.op === 'Maximum' && a && b && scalar(b) === 0 && nodeOf(a).op === 'Minimum' && single(a)) {
      const [ma, mb] = nodeOf(a).input ?? [];
      if (ma && mb && scalar(mb) === 6 && nodeOf(ma).op === 'Relu' && single(ma)) {
        const x = emit(nodeOf(ma).input![0]!);
        steps.push({ name, op: 'Relu6', inputs: [x] });
        emitted.add(name);
        return name;
      }
    }
    // conv (+ per-channel scale) + shift
    if ((node.op === 'Add' || node.op === 'AddV2') && a && b && isConst(b)) {
      let conv = nodeOf(a);
      let scale: tf.Tensor | undefined;
      if (conv.op === 'Mul' && single(a) && conv.input?.[1] && isConst(conv.input[1])) {
        scale = weights[nodeOf(conv.input[1]).name];
        const inner = conv.input[0]!;
        conv = single(inner) ? nodeOf(inner) : conv;
      }
      const convLike = conv.op === 'Conv2D' || conv.op === 'DepthwiseConv2dNative';
      if (convLike && single(conv.name) && conv.input?.[1] && isConst(conv.input[1]) && (scale !== undefined) === (nodeOf(a).op === 'Mul')) {
        const filter0 = weights[nodeOf(conv.input[1]).name] as tf.Tensor4D;
        let filter = filter0;
        if (scale) {
          // Conv2D filters are [kh, kw, in, out], depthwise ones [kh, kw, in, 1]: the per-channel scale goes on out / in.
          const shape = conv.op === 'Conv2D' ? [1, 1, 1, scale.size] : [1, 1, scale.size, 1];
          filter = tf.tidy(() => tf.mul(filter0, tf.reshape(scale!, shape)) as tf.Tensor4D);
          owned.push(filter);
        }
        const x = emit(conv.input[0]!);
        steps.push({ name, op: conv.op, inputs: [x], node: conv, filter, bias: weights[nodeOf(b).name] });
        emitted.add(name);
        return name;
      }
    }
    const inputs = (node.input ?? []).map((i) => (isConst(i) ? i.split(':')[0]! : emit(i)));
    if (!SUPPORTED_OPS.has(node.op)) throw new Error(`faceres.json: node '${name}' has op ${node.op}, which this interpreter does not implement.`);
    if (node.op === 'Mean') {
      const axes = b && isConst(b) ? constants.get(b.split(':')[0]!) : undefined;
      if (!axes) throw new Error(`faceres.json: Mean node '${name}' has no constant reduction axes.`);
      steps.push({ name, op: node.op, inputs, node, axes: [...axes] });
    } else if (node.op !== 'Const') {
      steps.push({ name, op: node.op, inputs, node });
    }
    emitted.add(name);
    return name;
  };
  emit(output);
  return { steps, owned };
}

export class HumanFaceres extends FrozenFaceEncoder {
  readonly name = 'human-faceres' as const;
  readonly dim = 1024;
  private readonly weights: tf.NamedTensorMap;
  private readonly steps: Step[];
  private readonly owned: tf.Tensor[];

  /** `constants`: {@link readSmallConstants} of `weights` (asynchronous, so it is read by the caller). */
  constructor(nodes: GraphNode[], weights: tf.NamedTensorMap, constants: GraphConstants, cropBox: CropBox = FACERES_CROP) {
    super(cropBox, INPUT_SIZE);
    const byName = new Map(nodes.map((n) => [n.name, n]));
    if (!byName.has(OUTPUT_NODE)) throw new Error(`faceres.json has no node '${OUTPUT_NODE}'; reinstall @vladmandic/human 3.3.6.`);
    const { steps, owned } = compile(byName, weights, constants, OUTPUT_NODE);
    const placeholders = steps.filter((st) => st.op === 'Placeholder');
    if (placeholders.length !== 1) throw new Error(`faceres.json: expected one input placeholder, found ${placeholders.length}.`);
    // Keep only the constants the program reads; the age/gender heads and folded-away scales are freed now.
    const used = new Set<tf.Tensor>(owned);
    for (const st of steps) {
      if (st.filter) used.add(st.filter);
      if (st.bias) used.add(st.bias);
      for (const i of st.inputs) if (weights[i]) used.add(weights[i]!);
    }
    this.weights = {};
    for (const [k, t] of Object.entries(weights)) {
      if (used.has(t)) this.weights[k] = t;
      else t.dispose();
    }
    this.steps = steps;
    this.owned = owned;
  }

  /** The raw 1024-d embeddings of [B, 224, 224, 3] images already in the net's 0-255 range. */
  features(pixels255: tf.Tensor4D): tf.Tensor2D {
    this.assertUsable();
    const useCustomDepthwiseGrad = tf.getKernel('DepthwiseConv2dNativeBackpropInput', tf.getBackend()) === undefined;
    return tf.tidy(() => {
      const values = new Map<string, tf.Tensor>();
      const get = (name: string): tf.Tensor => {
        const v = values.get(name) ?? this.weights[name];
        if (!v) throw new Error(`faceres: value '${name}' is not available.`);
        return v;
      };
      let last: tf.Tensor = pixels255;
      for (const st of this.steps) {
        const args = st.inputs.map(get);
        let out: tf.Tensor;
        switch (st.op) {
          case 'Placeholder':
            out = pixels255;
            break;
          case 'Conv2D':
            out = tf.conv2d(args[0] as tf.Tensor4D, (st.filter ?? args[1]) as tf.Tensor4D, strides(st.node!), padding(st.node!));
            break;
          case 'DepthwiseConv2dNative': {
            const f = (st.filter ?? args[1]) as tf.Tensor4D;
            out = useCustomDepthwiseGrad
              ? depthwiseWithInputGrad(args[0] as tf.Tensor4D, f, strides(st.node!), padding(st.node!))
              : tf.depthwiseConv2d(args[0] as tf.Tensor4D, f, strides(st.node!), padding(st.node!));
            break;
          }
          case 'Relu6':
            out = tf.relu6(args[0]!);
            break;
          case 'Add':
          case 'AddV2':
            out = tf.add(args[0]!, args[1]!);
            break;
          case 'Mul':
            out = tf.mul(args[0]!, args[1]!);
            break;
          case 'Relu':
            out = tf.relu(args[0]!);
            break;
          case 'Minimum':
            out = tf.minimum(args[0]!, args[1]!);
            break;
          case 'Maximum':
            out = tf.maximum(args[0]!, args[1]!);
            break;
          case 'Mean':
            out = tf.mean(args[0]!, st.axes!, st.node!.attr?.keep_dims?.b ?? false);
            break;
          default:
            throw new Error(`faceres.json: op ${st.op} (node ${st.name}) is not implemented.`);
        }
        if (st.bias) out = tf.add(out, st.bias);
        values.set(st.name, out);
        last = out;
      }
      return last as tf.Tensor2D;
    });
  }

  protected network(pixels255: tf.Tensor4D): tf.Tensor2D {
    return this.features(pixels255);
  }

  protected releaseWeights(): void {
    tf.dispose([...Object.values(this.weights), ...this.owned]);
  }

}

/** Loads Human's faceres from @vladmandic/human's `models/` folder (offline). */
export async function loadHumanFaceres(options: { cropBox?: CropBox; files?: ModelFiles } = {}): Promise<HumanFaceres> {
  const { nodes, weights } = await loadGraphModelFiles('@vladmandic/human', 'models/faceres.json', options.files);
  return new HumanFaceres(nodes, weights, await readSmallConstants(weights), options.cropBox);
}
