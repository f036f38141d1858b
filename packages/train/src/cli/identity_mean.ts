/**
 * `yarn identity-mean --dataset <dir> [--encoder face-api-recognition]`: the population mean μ of an identity
 * encoder's embeddings over a prepared dataset (mean of the per-identity means), printed as JSON, with the
 * same-person and different-person cosine similarities before and after centring on it. This is how
 * `FACE_API_DESCRIPTOR_MEAN` (core, identity/descriptor_means.ts) was made from datasets/embedded.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BACKEND_CHOICES, THREADS_OPTION, IDENTITY_ENCODERS, decodeImage, identityMean, imageToTensor, l2Normalize, loadIdentityEncoder, runCli, usageFailure, selectBackend, type BackendRequest } from '@faceshifter/core/node';
import { readManifest } from '../data/manifest.js';

runCli(async () => {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('yarn identity-mean')
    .usage('$0 --dataset <dir> [--encoder face-api-recognition]\n\nPrints the mean embedding of a dataset (per identity, then over identities) and the cosine statistics it centres.')
    .option('dataset', { type: 'string', demandOption: true, describe: 'prepared dataset (manifest.csv with an identity column)' })
    .option('encoder', { choices: IDENTITY_ENCODERS, default: 'face-api-recognition' as (typeof IDENTITY_ENCODERS)[number], describe: 'identity encoder' })
    .option('weights', { type: 'string', describe: 'PyTorch weights (.pth or safetensors) of an InsightFace encoder' })
    .option('backend', { choices: BACKEND_CHOICES, default: 'auto' as BackendRequest, describe: 'tfjs backend' })
    .option('threads', THREADS_OPTION)
    .strict()
    .fail(usageFailure)
    .parse();
  await selectBackend(argv.backend, { threads: argv.threads });
  const { root, rows } = await readManifest(argv.dataset);
  const encoder = await loadIdentityEncoder(argv.encoder, { weights: argv.weights });
  try {
    const embedded: tf.Tensor2D[] = [];
    for (const row of rows) {
      const image = await decodeImage(path.join(root, row.path));
      embedded.push(tf.tidy(() => encoder.embed(tf.expandDims(imageToTensor(image)) as tf.Tensor4D)));
    }
    const z = tf.concat(embedded) as tf.Tensor2D;
    tf.dispose(embedded);
    const identities = rows.map((r) => r.identity);
    const mean = await identityMean(z, identities);
    const centred = tf.tidy(() => l2Normalize(tf.sub(z, tf.tensor1d(mean))));
    const stats = async (e: tf.Tensor2D): Promise<string> => {
      // Asynchronous reads: GPU backends (webgpu in Node) have no synchronous readback.
      const product = tf.tidy(() => tf.matMul(e, e, false, true));
      const sim = (await product.array()) as number[][];
      product.dispose();
      const same: number[] = [];
      const different: number[] = [];
      for (let i = 0; i < sim.length; i++) for (let j = i + 1; j < sim.length; j++) (identities[i] === identities[j] ? same : different).push(sim[i]![j]!);
      const avg = (v: number[]): string => (v.length ? (v.reduce((a, b) => a + b, 0) / v.length).toFixed(3) : 'n/a');
      return `same person ${avg(same)} (${same.length} pairs), different people ${avg(different)} (${different.length} pairs)`;
    };
    const norm = Math.hypot(...mean);
    process.stderr.write(`${rows.length} faces, ${new Set(identities).size} identities; |mean| = ${norm.toFixed(3)}\n`);
    process.stderr.write(`cosine, raw:     ${await stats(z)}\ncosine, centred: ${await stats(centred)}\n`);
    process.stdout.write(`${JSON.stringify(Array.from(mean, (v) => Number(v.toFixed(6))))}\n`);
    tf.dispose([z, centred]);
  } finally {
    encoder.dispose();
  }
});
