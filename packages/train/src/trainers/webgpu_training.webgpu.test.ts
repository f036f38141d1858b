import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as tf from '@tensorflow/tfjs';
import { AEINet, selectBackend } from '@faceshifter/core/node';
import { afterAll, expect, it } from 'vitest';
import { describeOnWebGPU, readAndDispose, relativeL2, webgpuMemory } from '../../../core/src/test_utils/webgpu_tests.js';
import { applyOverrides, resolveTrainConfig, type TrainConfig } from '../config/train_config.js';
import { OcclusionAugmenter } from '../data/occlusion.js';
import { discriminatorLoss, generatorLosses } from '../models/aei_model.js';
import { hearInputs, hearLosses } from '../models/hear_model.js';
import { projectionIdentity, SyntheticPairs } from '../test_utils/synthetic.js';
import { AEITrainer } from './aei_trainer.js';
import { HEARTrainer } from './hear_trainer.js';
import { trainableVariables } from './optimization.js';
import { runTrainingLoop } from './training_loop.js';

/**
 * Full AEI and HEAR training steps on webgpu against cpu at tiny shapes (SwiftShader emulates the GPU on the CPU):
 * the losses, and the gradient of every trainable variable, agree to a relative L2 of 1e-4; webgpu leaks neither
 * tensors nor GPU bytes across steps; an interrupted and resumed run repeats an uninterrupted one exactly.
 *
 * Biases followed by an InstanceNorm have a true gradient of zero (the norm subtracts them out); numerically it is
 * float32 noise, so those tensors (reference norm under 1e-3 of the network's largest) are compared against 1e-4
 * of the network's largest gradient norm instead of their own (reported as "zero-gradient").
 */
const TOLERANCE = 1e-4;
/** Below this fraction of the network's largest gradient norm, a gradient is the zero of a bias before a norm. */
const ZERO_GRADIENT = 1e-3;

const aeiConfig = resolveTrainConfig(
  applyOverrides(
    { name: 'unit', seed: 3, model: { preset: 'tiny' }, data: { root: 'unused' }, train: { steps: 3, batchSize: 2 } },
    ['model.resolution=32', 'model.widthMultiplier=0.0625', 'model.discriminator.baseChannels=8', 'model.discriminator.nLayers=2'],
  ),
);
/**
 * The same run at lr 1e-5. At the paper's 4e-4 an AEI run is chaotic in float32 from its first Adam update: Adam's
 * first steps move every weight by about ±lr whatever its gradient's size, so the ~0.1% of components whose gradient
 * sign is decided by rounding (measured on aei-tiny on wasm: 3135 of 4.2M flip under a 1e-7 relative weight
 * perturbation) move 2·lr apart, and two runs of the same backend, one perturbed at 1e-7, differ by 1e-3 to 2e-2
 * from step 2 or 3 (experiments/float32-chaos/README.md). That spread scales with lr, so at 1e-5 five steps of two
 * float32 implementations can be held to 1e-3, and through them the whole step: G and D updates, Adam, the data.
 */
const smallLrConfig = { ...aeiConfig, train: { ...aeiConfig.train, lr: 1e-5, lrD: 1e-5 } } as TrainConfig;
const hearConfig = resolveTrainConfig(
  applyOverrides({ name: 'unit', seed: 5, stage: 'hear', hear: { aeiCheckpoint: 'unused' }, model: { preset: 'tiny' }, data: { root: 'unused' }, train: { steps: 3, batchSize: 2 } }, [
    'model.resolution=32',
    'model.widthMultiplier=0.0625',
  ]),
);
const quiet = new Writable({ write: (_c, _e, cb) => cb() }) as unknown as NodeJS.WriteStream;
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

async function on(backend: 'cpu' | 'wasm' | 'webgpu'): Promise<void> {
  await selectBackend(backend, { log: () => {} });
  // On SwiftShader one tf.grad call can block this worker for a minute (shader compilation, emulated dispatches);
  // vitest's worker RPC times out when a call to it is pending across such a block, so let pending calls settle.
  if (backend === 'webgpu') await new Promise((resolve) => setTimeout(resolve, 1000));
}

/**
 * HEAR-Net's down5 sees a 1×1 map at 32²: its BatchNorm normalises each channel over the batch's 2 values, whose
 * normalised forms are ±1 to within ε, and its backward is the small remainder of dy − mean(dy) − x̂·mean(dy·x̂), a
 * cancellation that float32 reordering moves by 4e-4. Those tensors get 1e-3.
 */
const CANCELLING = /^hearnet\.down5\./;

/** Per-tensor errors of `actual` against `reference` (gradients listed by variable), as "name: error". */
function gradientErrors(names: string[], actual: Float32Array[], reference: Float32Array[]): { worst: number; failures: string[] } {
  const norms = reference.map((r) => Math.sqrt(r.reduce((s, v) => s + v * v, 0)));
  const largest = Math.max(...norms);
  const floor = ZERO_GRADIENT * largest;
  let worst = 0;
  const failures: string[] = [];
  actual.forEach((a, i) => {
    const zero = norms[i]! < floor;
    const e = zero ? relativeL2(a, reference[i]!) * (norms[i]! / largest) : relativeL2(a, reference[i]!);
    worst = Math.max(worst, e);
    if (!(e <= (CANCELLING.test(names[i]!) ? 1e-3 : TOLERANCE))) failures.push(`${names[i]}${zero ? ' (zero-gradient)' : ''}: ${e}`);
  });
  return { worst, failures };
}

/** Gradients of `loss` w.r.t. `variables`, in order, read back. */
async function gradients(variables: tf.Variable[], loss: () => tf.Scalar): Promise<Float32Array[]> {
  const { value, grads } = tf.variableGrads(loss, variables);
  value.dispose();
  return readAndDispose(variables.map((v) => grads[v.name]!));
}

interface AEIStep {
  names: string[];
  g: Float32Array[];
  d: Float32Array[];
  losses: Record<string, number>[];
  memory: ReturnType<typeof webgpuMemory>[];
}

/** G and D gradients on the first batch, then two trainer steps (losses, and memory after each). */
async function aeiStep(): Promise<AEIStep> {
  const trainer = new AEITrainer(aeiConfig, projectionIdentity(128), new SyntheticPairs(2, 32, 11));
  const nets = trainer.nets;
  const batch = await new SyntheticPairs(2, 32, 11).next();
  const zId = tf.tidy(() => nets.identity.embed(batch.source));
  const gVars = trainableVariables(nets.aei);
  const dVars = trainableVariables(nets.discriminator);
  const weights = aeiConfig.train.weights as Parameters<typeof generatorLosses>[3];
  const g = await gradients(gVars, () => tf.tidy(() => generatorLosses(nets, batch, zId, weights).total));
  const swap = tf.tidy(() => nets.aei.forward(batch.target, zId, { training: true }).swap);
  const d = await gradients(dVars, () => discriminatorLoss(nets, batch.source, swap));
  tf.dispose([batch.source, batch.target, batch.same, zId, swap]);
  const losses: Record<string, number>[] = [];
  const memory: ReturnType<typeof webgpuMemory>[] = [];
  for (let i = 0; i < 2; i++) {
    losses.push(await trainer.trainStep());
    memory.push(webgpuMemory());
  }
  const names = [...gVars, ...dVars].map((v) => v.name);
  trainer.dispose();
  return { names, g, d, losses, memory };
}

/**
 * Step 1's losses come from identical weights: 1e-4. Later steps follow Adam updates, whose first steps move every
 * weight by about ±lr whatever its gradient's size, so components whose gradient is float32 noise (the zero-gradient
 * biases, and any near-zero entry) take either sign on either backend: 1e-3, the bound the issue sets for the
 * first losses of webgpu and wasm runs, relative to max(|loss|, 1).
 */
function lossErrors(actual: Record<string, number>[], reference: Record<string, number>[]): string[] {
  const failures: string[] = [];
  actual.forEach((step, i) => {
    for (const [k, v] of Object.entries(step)) {
      const r = reference[i]![k]!;
      // Relative to the loss, or to 1 for the small ones (the hinge G loss is a mean of signed logits near 0).
      const e = Math.abs(v - r) / Math.max(Math.abs(r), i === 0 ? 1e-6 : 1);
      if (!(e <= (i === 0 ? TOLERANCE : 1e-3))) failures.push(`step ${i + 1} ${k}: ${v} vs reference ${r}`);
    }
  });
  return failures;
}

describeOnWebGPU('training on webgpu', () => {
  afterAll(async () => {
    await on('webgpu');
  });

  it('one AEI step: every G and D gradient and two steps of losses match cpu; no tensor or GPU-byte growth', { timeout: 600_000 }, async () => {
    await on('cpu');
    const reference = await aeiStep();
    await on('webgpu');
    const actual = await aeiStep();
    const nG = actual.g.length;
    const g = gradientErrors(actual.names.slice(0, nG), actual.g, reference.g);
    const d = gradientErrors(actual.names.slice(nG), actual.d, reference.d);
    process.stderr.write(`[faceshifter] webgpu AEI step: ${nG} G + ${actual.d.length} D gradients, worst rel. L2 G ${g.worst.toExponential(2)}, D ${d.worst.toExponential(2)}\n`);
    expect([...g.failures, ...d.failures, ...lossErrors(actual.losses, reference.losses)]).toEqual([]);
    // Steps 1 and 2 end with the same live tensors and GPU bytes (Adam's slots are made within step 1).
    expect(actual.memory[1]).toEqual(actual.memory[0]);
  });

  // Ten emulated training steps cost minutes on SwiftShader (about 600 s at load 14 on 2 cores), too much for every
  // CI run: `yarn test:webgpu-long` runs it (measured worst error 1.8e-6). The default run checks steps 1 and 2 above.
  it.runIf(process.env.FACESHIFTER_WEBGPU === 'long')('five AEI steps at lr 1e-5: every loss matches wasm to 1e-3', { timeout: 900_000 }, async () => {
    const fiveSteps = async (): Promise<Record<string, number>[]> => {
      const trainer = new AEITrainer(smallLrConfig, projectionIdentity(128), new SyntheticPairs(2, 32, 11));
      const losses: Record<string, number>[] = [];
      for (let i = 0; i < 5; i++) losses.push(await trainer.trainStep());
      trainer.dispose();
      return losses;
    };
    await on('wasm');
    const reference = await fiveSteps();
    await on('webgpu');
    const actual = await fiveSteps();
    const worst = Math.max(...actual.flatMap((step, i) => Object.entries(step).map(([k, v]) => Math.abs(v - reference[i]![k]!) / Math.max(Math.abs(reference[i]![k]!), 1))));
    process.stderr.write(`[faceshifter] webgpu vs wasm, 5 AEI steps at lr 1e-5: worst loss error ${worst.toExponential(2)}\n`);
    expect(lossErrors(actual, reference)).toEqual([]);
  });

  it('one HEAR step: every HEAR-Net gradient and two steps of losses match cpu; no growth', { timeout: 600_000 }, async () => {
    const hearStep = async (): Promise<{ names: string[]; grads: Float32Array[]; losses: Record<string, number>[]; memory: ReturnType<typeof webgpuMemory>[] }> => {
      const aei = new AEINet(hearConfig.model, { seed: 1 });
      const trainer = new HEARTrainer(hearConfig, aei, projectionIdentity(128), new SyntheticPairs(2, 32, 4, 0.5), new OcclusionAugmenter(hearConfig.seed));
      const batch = await new SyntheticPairs(2, 32, 4, 0.5).next();
      const nets = trainer.nets;
      const inputs = hearInputs(nets, batch);
      const vars = trainableVariables(nets.hearnet);
      const weights = hearConfig.train.weights as Parameters<typeof hearLosses>[3];
      const grads = await gradients(vars, () => tf.tidy(() => hearLosses(nets, batch, inputs, weights).total));
      tf.dispose([batch.source, batch.target, batch.same, inputs.swap, inputs.heuristicError, inputs.zIdSource]);
      const losses: Record<string, number>[] = [];
      const memory: ReturnType<typeof webgpuMemory>[] = [];
      for (let i = 0; i < 2; i++) {
        losses.push(await trainer.trainStep());
        memory.push(webgpuMemory());
      }
      const names = vars.map((v) => v.name);
      trainer.dispose();
      return { names, grads, losses, memory };
    };
    await on('cpu');
    const reference = await hearStep();
    await on('webgpu');
    const actual = await hearStep();
    const e = gradientErrors(actual.names, actual.grads, reference.grads);
    process.stderr.write(`[faceshifter] webgpu HEAR step: ${actual.grads.length} gradients, worst rel. L2 ${e.worst.toExponential(2)}\n`);
    expect([...e.failures, ...lossErrors(actual.losses, reference.losses)]).toEqual([]);
    expect(actual.memory[1]).toEqual(actual.memory[0]);
  });

  it('an interrupted and resumed AEI run on webgpu repeats the uninterrupted one exactly', { timeout: 600_000 }, async () => {
    await on('webgpu');
    const run = async (stops: number[]): Promise<string[]> => {
      const runDir = mkdtempSync(join(tmpdir(), 'aei-webgpu-'));
      dirs.push(runDir);
      let resume = false;
      for (const stopAfter of stops) {
        const trainer = new AEITrainer(aeiConfig as TrainConfig, projectionIdentity(128), new SyntheticPairs(2, 32, 11));
        await runTrainingLoop(trainer, { runDir, steps: 2, logEvery: 1, sampleEvery: 100, checkpointEvery: 100, keepLast: 2, monitor: 'loss/g_total', resume, stopAfter, progressStream: quiet });
        trainer.dispose();
        resume = true;
      }
      return readFileSync(join(runDir, 'metrics.csv'), 'utf8').trim().split('\n').map((r) => r.split(',').slice(0, 7).join(','));
    };
    const straight = await run([2]);
    const resumed = await run([1, 1]);
    expect(straight).toHaveLength(3);
    expect(resumed).toEqual(straight);
  });
});
