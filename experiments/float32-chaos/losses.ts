/**
 * Per-step losses of `yarn train --config configs/aei-tiny.yaml` (the embedded data, face-api-recognition-centred),
 * optionally with AEI-Net's initial weights perturbed by a relative ±p (uniform): how far two float32 runs drift.
 *
 *   node --import tsx experiments/float32-chaos/losses.ts backend=wasm steps=5 perturb=1e-7 set=train.lr=1e-5 out=f.json
 */
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import seedrandom from 'seedrandom';
import { loadIdentityEncoder, selectBackend, type BackendRequest } from '@faceshifter/core/node';
import { AEITrainer, FacePairLoader, loadTrainConfig } from '@faceshifter/train';

const args = Object.fromEntries(process.argv.slice(2).map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
const backend = (args.backend ?? 'wasm') as BackendRequest;
const steps = Number(args.steps ?? 5);
const perturb = Number(args.perturb ?? 0);
const sets = args.set ? args.set.split(',') : [];
await selectBackend(backend);
const config = loadTrainConfig('configs/aei-tiny.yaml', sets);
const identity = await loadIdentityEncoder(config.identity.encoder);
const d = config.data;
const loader = await FacePairLoader.open({
  source: d.root, batchSize: config.train.batchSize, resolution: config.model.resolution, sameProbability: d.sameProbability, seed: config.seed,
  jitter: d.colorJitter, flip: d.flip, prefetch: d.prefetch, maxSkipFraction: d.maxSkipFraction, checkFiles: d.checkFiles,
});
const trainer = new AEITrainer(config, identity, loader);
if (perturb > 0) {
  const rng = seedrandom('perturb');
  for (const w of trainer.nets.aei.trainableWeights) {
    const v = w.read() as tf.Variable;
    const values = (await v.data()) as Float32Array;
    const perturbed = tf.tensor(values.map((x) => x * (1 + perturb * (rng() * 2 - 1))), v.shape);
    v.assign(perturbed);
    perturbed.dispose();
  }
}
const rows: Record<string, number>[] = [];
for (let s = 0; s < steps; s++) {
  rows.push(await trainer.trainStep());
  process.stderr.write(`step ${s + 1} ${JSON.stringify(rows[s])}\n`);
}
if (args.out) writeFileSync(args.out, JSON.stringify({ backend, perturb, sets, rows }, null, 1));
trainer.dispose();
identity.dispose();
