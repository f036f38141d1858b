/**
 * Forward passes of the PyTorch reference networks, written from the reference's module definitions (its
 * state_dict keys, nn.Sequential slots and torch.cat orders) and evaluated with tfjs ops on reference-layout
 * weights. Used to check that weights exported by reference_mapping.ts compute the same function in the
 * reference as in our networks: names, layouts and concatenation orders all at once.
 *
 * Semantics, as in the reference (eval mode):
 * - AEI encoder: conv{k} = Sequential(Conv 4×4/2 p1 no bias, BN, LReLU 0.1); deconv{k}: ConvTranspose 4×4/2 p1
 *   no bias → BN → LReLU 0.1 → cat((up, skip)); z_att^last = bilinear ×2 (align_corners) of the one before.
 * - AEI generator: up1 = ConvTranspose 2×2/1 (bias) of z_id as 1×1; AADBlk{k} then bilinear ×2 except after the
 *   last; tanh. AAD: h̄ = IN(h); A = conv1(z)·h̄ + conv2(z); I = fc1(id)·h̄ + fc2(id); M = σ(conv_h(h̄));
 *   (1 − M)·A + M·I. ResBlk: conv1(relu(AAD1(h))) → conv2(relu(AAD2(·))), plus conv3(relu(AAD3(h))) when present,
 *   else h.
 * - HEAR-Net: down{k} = Sequential(Conv 4×4/2 p1, BN, LReLU 0.1); up{k} = Sequential(ConvTranspose 4×4/2 p1, BN,
 *   LReLU 0.1) then cat((skip, up)); bilinear ×2; up5 = Conv 3×3 p1; tanh.
 * - Discriminator (pix2pixHD): scale i runs `layer{num_D − 1 − i}` on the input avg-pooled i times (3×3/2 p1,
 *   count_include_pad=False); each a Sequential of 4×4 p2 convs at slots 0, 2, 5, 8, ... with IN + LReLU 0.2.
 */
import * as tf from '@tensorflow/tfjs';
import type { SafetensorsFile } from '../safetensors.js';

export type StateDict = Map<string, tf.Tensor>;

/** The float tensors of a parsed reference-layout file, under `prefix` (stripped). Dispose with tf.dispose. */
export function stateDict(file: SafetensorsFile, prefix = ''): StateDict {
  const out: StateDict = new Map();
  for (const [name, e] of file.tensors) {
    if (!name.startsWith(prefix) || e.dtype !== 'F32') continue;
    out.set(name.slice(prefix.length), tf.tensor(e.toFloat32(), [...e.shape]));
  }
  return out;
}

function get(sd: StateDict, name: string): tf.Tensor {
  const t = sd.get(name);
  if (!t) throw new Error(`reference forward: no tensor '${name}'`);
  return t;
}

/** Conv2d with an OIHW weight, symmetric zero padding. */
function conv(sd: StateDict, x: tf.Tensor4D, name: string, stride: number, pad: number, bias = true): tf.Tensor4D {
  const w = get(sd, `${name}.weight`).transpose([2, 3, 1, 0]) as tf.Tensor4D;
  let y = tf.conv2d(x, w, stride, [[0, 0], [pad, pad], [pad, pad], [0, 0]]);
  if (bias) y = tf.add(y, get(sd, `${name}.bias`));
  return y;
}

/** ConvTranspose2d with an IOHW weight: 4×4/2 padding 1 ("same") or k×k/1 padding 0 ("valid"). */
function convT(sd: StateDict, x: tf.Tensor4D, name: string, k: number, stride: number, pad: 0 | 1, bias: boolean): tf.Tensor4D {
  const w = get(sd, `${name}.weight`);
  const cOut = w.shape[1]!;
  const [b, h, wd] = x.shape;
  const size = (n: number): number => (n - 1) * stride - 2 * pad + k;
  let y = tf.conv2dTranspose(x, w.transpose([2, 3, 1, 0]) as tf.Tensor4D, [b, size(h), size(wd), cOut], stride, pad === 1 ? 'same' : 'valid');
  if (bias) y = tf.add(y, get(sd, `${name}.bias`));
  return y;
}

function batchNorm(sd: StateDict, x: tf.Tensor4D, name: string): tf.Tensor4D {
  const scale = tf.div(get(sd, `${name}.weight`), tf.sqrt(tf.add(get(sd, `${name}.running_var`), 1e-5)));
  return tf.add(tf.mul(tf.sub(x, get(sd, `${name}.running_mean`)), scale), get(sd, `${name}.bias`));
}

function instanceNorm(x: tf.Tensor4D): tf.Tensor4D {
  const { mean, variance } = tf.moments(x, [1, 2], true);
  return tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5)));
}

function up2(x: tf.Tensor4D): tf.Tensor4D {
  return tf.image.resizeBilinear(x, [x.shape[1] * 2, x.shape[2] * 2], true);
}

function linear(sd: StateDict, x: tf.Tensor2D, name: string): tf.Tensor2D {
  return tf.add(tf.matMul(x, get(sd, `${name}.weight`) as tf.Tensor2D, false, true), get(sd, `${name}.bias`));
}

function aad(sd: StateDict, h: tf.Tensor4D, z: tf.Tensor4D, id: tf.Tensor2D, p: string): tf.Tensor4D {
  const hBar = instanceNorm(h);
  const c = h.shape[3];
  const a = tf.add(tf.mul(conv(sd, z, `${p}.conv1`, 1, 0), hBar), conv(sd, z, `${p}.conv2`, 1, 0));
  const gid = linear(sd, id, `${p}.fc1`).reshape([-1, 1, 1, c]);
  const bid = linear(sd, id, `${p}.fc2`).reshape([-1, 1, 1, c]);
  const i = tf.add(tf.mul(gid, hBar), bid);
  const m = tf.sigmoid(conv(sd, hBar, `${p}.conv_h`, 1, 0));
  return tf.add(tf.mul(tf.sub(1, m), a), tf.mul(m, i));
}

function resBlk(sd: StateDict, h: tf.Tensor4D, z: tf.Tensor4D, id: tf.Tensor2D, p: string): tf.Tensor4D {
  let x = conv(sd, tf.relu(aad(sd, h, z, id, `${p}.AAD1`)), `${p}.conv1`, 1, 1, false);
  x = conv(sd, tf.relu(aad(sd, x, z, id, `${p}.AAD2`)), `${p}.conv2`, 1, 1, false);
  const shortcut = sd.has(`${p}.conv3.weight`) ? conv(sd, tf.relu(aad(sd, h, z, id, `${p}.AAD3`)), `${p}.conv3`, 1, 1, false) : h;
  return tf.add(x, shortcut);
}

/** The reference AEI_Net: returns [Ŷ, z_att^1, ..]. */
export function referenceAEI(sd: StateDict, xt: tf.Tensor4D, zId: tf.Tensor2D): tf.Tensor4D[] {
  return tf.tidy(() => {
    const lrelu = (x: tf.Tensor4D): tf.Tensor4D => tf.leakyRelu(x, 0.1);
    const feats: tf.Tensor4D[] = [];
    let x = xt;
    for (let k = 1; sd.has(`encoder.conv${k}.0.weight`); k++) {
      x = lrelu(batchNorm(sd, conv(sd, x, `encoder.conv${k}.0`, 2, 1, false), `encoder.conv${k}.1`));
      feats.push(x);
    }
    const z: tf.Tensor4D[] = [x];
    for (let k = 1; sd.has(`encoder.deconv${k}.deconv.weight`); k++) {
      const y = lrelu(batchNorm(sd, convT(sd, x, `encoder.deconv${k}.deconv`, 4, 2, 1, false), `encoder.deconv${k}.bn`));
      x = tf.concat([y, feats[feats.length - 1 - k]!], 3);
      z.push(x);
    }
    z.push(up2(x));
    let h = convT(sd, zId.reshape([-1, 1, 1, zId.shape[1]]) as tf.Tensor4D, 'generator.up1', 2, 1, 0, true);
    for (let k = 1; k <= z.length; k++) {
      h = resBlk(sd, h, z[k - 1]!, zId, `generator.AADBlk${k}`);
      if (k < z.length) h = up2(h);
    }
    return [tf.tanh(h), ...z];
  });
}

/** The reference HearNet on cat((Ŷ, ΔY)). */
export function referenceHEAR(sd: StateDict, swap: tf.Tensor4D, error: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const block = (y: tf.Tensor4D, name: string): tf.Tensor4D => tf.leakyRelu(batchNorm(sd, y, `${name}.1`), 0.1);
    const c: tf.Tensor4D[] = [];
    let x = tf.concat([swap, error], 3);
    for (let k = 1; k <= 5; k++) {
      x = block(conv(sd, x, `down${k}.0`, 2, 1), `down${k}`);
      c.push(x);
    }
    for (let k = 1; k <= 4; k++) {
      const m = block(convT(sd, x, `up${k}.0`, 4, 2, 1, true), `up${k}`);
      x = tf.concat([c[4 - k]!, m], 3);
    }
    return tf.tanh(conv(sd, up2(x), 'up5', 1, 1));
  });
}

function avgPoolExcludePad(x: tf.Tensor4D): tf.Tensor4D {
  const pad: [number, number][] = [[0, 0], [1, 1], [1, 1], [0, 0]];
  const sum = tf.avgPool(tf.pad(x, pad), 3, 2, 'valid');
  const count = tf.avgPool(tf.pad(tf.onesLike(x), pad), 3, 2, 'valid');
  return tf.div(sum, count);
}

/** The reference pix2pixHD MultiscaleDiscriminator: logit maps, full resolution first. */
export function referenceDiscriminator(sd: StateDict, input: tf.Tensor4D, numD: number, nLayers: number): tf.Tensor4D[] {
  return tf.tidy(() => {
    const out: tf.Tensor4D[] = [];
    let x = input;
    for (let i = 0; i < numD; i++) {
      const p = `layer${numD - 1 - i}`;
      let y = tf.leakyRelu(conv(sd, x, `${p}.0`, 2, 2), 0.2);
      for (let n = 1; n <= nLayers; n++) y = tf.leakyRelu(instanceNorm(conv(sd, y, `${p}.${3 * n - 1}`, n < nLayers ? 2 : 1, 2)), 0.2);
      out.push(conv(sd, y, `${p}.${3 * nLayers + 2}`, 1, 2));
      if (i < numD - 1) x = avgPoolExcludePad(x);
    }
    return out;
  });
}
