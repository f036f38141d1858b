/**
 * Step-1 gradients of G (aei-tiny, embedded data, on wasm), and again after a relative ±p perturbation of the
 * weights: how many components change sign. Adam's first update is lr·g/(|g|+ε) ≈ ±lr whatever |g| is, so each
 * flipped component moves 2·lr apart between two runs.
 *
 *   node --import tsx experiments/float32-chaos/sign_flips.ts 1e-6,1e-7
 */
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import { loadIdentityEncoder, selectBackend } from '@faceshifter/core/node';
import { AEITrainer, FacePairLoader, loadTrainConfig, generatorLosses, trainableVariables, type AEIWeights } from '@faceshifter/train';

const perturbs = (process.argv[2] ?? '1e-6,1e-7').split(',').map(Number);
await selectBackend('wasm');
const config = loadTrainConfig('configs/aei-tiny.yaml', (process.argv[3] ?? '').split(',').filter(Boolean));
const identity = await loadIdentityEncoder(config.identity.encoder);
const loader = await FacePairLoader.open({ source: config.data.root, batchSize: config.train.batchSize, resolution: config.model.resolution, sameProbability: config.data.sameProbability, seed: config.seed, jitter: config.data.colorJitter, flip: config.data.flip, prefetch: config.data.prefetch, maxSkipFraction: config.data.maxSkipFraction, checkFiles: config.data.checkFiles });
const trainer = new AEITrainer(config, identity, loader);
const batch = await loader.next();
const nets = trainer.nets;
const vars = trainableVariables(nets.aei);
const zId = tf.tidy(() => nets.identity.embed(batch.source));
const grads = async (): Promise<Float32Array[]> => {
  const { value, grads } = tf.variableGrads(() => tf.tidy(() => generatorLosses(nets, batch, zId, config.train.weights as AEIWeights).total), vars);
  value.dispose();
  const out = await Promise.all(vars.map((v) => grads[v.name]!.data() as Promise<Float32Array>));
  tf.dispose(Object.values(grads));
  return out;
};
const base = await grads();
const original = await Promise.all(vars.map((v) => v.data() as Promise<Float32Array>));
const total = base.reduce((s, g) => s + g.length, 0);
for (const p of perturbs) {
  const rng = seedrandom('perturb');
  vars.forEach((v, i) => {
    const perturbed = tf.tensor(original[i]!.map((x) => x * (1 + p * (rng() * 2 - 1))), v.shape);
    v.assign(perturbed);
    perturbed.dispose();
  });
  const g = await grads();
  let flips = 0;
  const perVar: [string, number, number, number][] = [];
  let maxFlipMag = 0;
  g.forEach((gi, i) => {
    const b = base[i]!;
    let f = 0, rms = 0, fmax = 0;
    for (let j = 0; j < b.length; j++) {
      rms += b[j]! * b[j]!;
      if (Math.sign(b[j]!) !== Math.sign(gi[j]!)) { f++; fmax = Math.max(fmax, Math.abs(b[j]!)); }
    }
    rms = Math.sqrt(rms / b.length);
    flips += f;
    if (f) perVar.push([vars[i]!.name, f, b.length, fmax / (rms || 1)]);
    maxFlipMag = Math.max(maxFlipMag, fmax / (rms || 1));
  });
  perVar.sort((a, b) => b[1] - a[1]);
  console.log(`perturb ${p}: ${flips} of ${total} G gradient components change sign (${(100 * flips / total).toFixed(3)}%); largest flipped |g| / rms(g of its tensor) = ${maxFlipMag.toExponential(2)}`);
  console.log(perVar.slice(0, 12).map(([n, f, len, m]) => `  ${n}: ${f}/${len}, max flipped |g|/rms ${m.toExponential(1)}`).join('\n'));
}
trainer.dispose();
identity.dispose();
