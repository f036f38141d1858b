import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { OBJECTIVE_CASES, type ObjectiveCaseName } from './test_fixtures/aei_objective_f64/cases.js';
import { buildObjectiveCase, objective, project, withKinks, type KinkPin, type ObjectiveVariant } from './test_utils/aei_objective.js';

interface Fixture {
  case: ObjectiveCaseName;
  variant: ObjectiveVariant;
  spec: unknown;
  band: number;
  lossFloat64: number;
  kinkElements: number;
  pins: KinkPin[];
  fingerprints: Record<string, [number, number]>;
  gradients: Record<string, { norm: number; projections: number[]; condition?: number; termScale?: number }>;
}

const fixture = (variant: ObjectiveVariant): Fixture =>
  JSON.parse(readFileSync(new URL(`./test_fixtures/aei_objective_f64/${variant}.json`, import.meta.url), 'utf8')) as Fixture;

const relative = (a: number, b: number): number => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
// cpu holds the event loop for the whole backward pass; turning it between phases lets vitest's RPC replies in.
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const l2 = (v: ArrayLike<number>): number => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

/**
 * Issue 11 reported that cpu's gradients of this objective (AEI-Net + the multi-scale D, tiny, batch 2) differ from
 * wasm's and webgpu's by 2.4e-2 on D's second scale and 1.7e-2 on AAD mask-conv biases, and suspected a faulty cpu
 * kernel. No cpu kernel is faulty. The differences come from float32 rounding at the kinks of ReLU, LeakyReLU and |x|.
 *
 * Evidence, at the issue's size (make_fixture.py re-implements both networks in float64 PyTorch and runs them on the
 * exact weights and inputs):
 * - Seed set 8 reproduces the report: cpu vs wasm 2.4e-2 on `discriminator.layer0.*` and 4.4e-2 on a mask-conv bias;
 *   wasm vs webgpu 8e-5.
 * - One element of 256,448 kink inputs causes it: a LeakyReLU input of the 4×4 map at D's second scale, conv 8.
 *   Its float64 value is 3.5e-7 (1e-7 of the tensor's largest). cpu computes −5.8e-7, wasm 2.6e-6. Both are normal
 *   float32 errors (8e-6 of scale is the worst seen), but they land on opposite sides of 0.
 * - cpu's gradient is exact for the branch it took. Against float64 on cpu's own branches it is within 2.8e-6 (D),
 *   1.7e-5 (encoder) and 1.8e-4 (generator, mask-conv biases). On float64's branches it is 2.4e-2 off, where wasm
 *   and webgpu are within 1e-4.
 *
 * Why one element moves so much: the slope it gets (1 or 0.2) changes its channel's gradient, and through the
 * InstanceNorm's backward pass every gradient upstream of it. In a 4×4 map that is ~1e-2.
 *
 * How often, at the issue's width:
 * - cpu and wasm put one element on different sides in 1 of 11 seed sets tried (0–10).
 * - A float32 backend and float64 disagree on some element's side in both seed sets examined. In seed set 0 (seeds
 *   1–4), cpu and wasm share one flipped ReLU input inside the generator, float64 value 2.5e-9 of its tensor's
 *   largest. Both are then 6e-3 off float64 and webgpu, and within 3e-4 of float64 on their own branches.
 * - At a quarter of the width (73,184 kink elements instead of 256,448) cpu flipped none in 13 seed sets.
 *
 * The L1 + relu(1 + D) variant: inside the networks it has the same kinks as the squared one, so the issue's
 * "agrees everywhere" was a draw of rounding, not a property of the loss. On seed set 8 it disagrees too (cpu vs
 * wasm 1.7e-2 on D), and it adds kinks of its own: wasm flips a |Ŷ| element (float64 1.7e-7), which moves a
 * mask-conv bias by 3.3e-2.
 *
 * So an end-to-end gradient comparison through these networks means something only with the kink branches fixed.
 * This test does that, on the draw that reproduces the issue (cases.ts `regression`), against float64 rather than
 * another float32 backend. Without the pins, cpu fails it on both variants and wasm fails the L1 one:
 * - The fixture lists every kink input within `band` of 0 (1e-4 of its tensor's largest value), with its float64
 *   value.
 * - {@link withKinks} moves those elements to float64's side, by at most their rounding error.
 *
 * Tolerances:
 * - 1e-4 relative L2, estimated from 8 random ±1 projections of each gradient. A wrong kernel shows far above it:
 *   an AvgPoolGrad given the wrong padding failed 187 of 208 gradients, by 1e-1 and more (at a quarter width).
 * - For a bias, widened by 1e-5 × the condition Σ|terms| / |Σ terms| of the sum that makes its gradient. The terms
 *   carry the upstream gradients' float32 error (up to ~2e-5 here), and a cancelling sum amplifies it. The AAD
 *   mask-conv biases reach conditions of 10²–10³: that accounts for the issue's 1.7e-2 on them when a flip is added.
 * - Biases right before a normalisation have an exact gradient of 0 (the normalisation removes a shift). Theirs must
 *   be rounding-small against their terms.
 */
describe('gradients of the AEI + discriminator objective against float64 (issue 11)', () => {
  it('withKinks moves pinned kink inputs to the reference side of 0, and the gradient follows them to x', () => {
    const x = tf.tensor1d([-1e-8, 2, -3, 1e-9, 5e-9]);
    const f = (pins: KinkPin[]): number[] =>
      tf.tidy(() => {
        const { result, inputs } = withKinks(() => tf.grad((t: tf.Tensor) => tf.add(tf.sum(tf.leakyRelu(tf.mul(t, 1), 0.2)), tf.sum(tf.abs(t))))(x), pins);
        expect(inputs.map((k) => k.kernel)).toEqual(['LeakyRelu', 'Abs']);
        return Array.from(result.dataSync());
      });
    // d/dx [leakyRelu(x) + |x|]: slope (1 or 0.2) plus sign(x).
    expect(f([])).toEqual([0.2 - 1, 2, 0.2 - 1, 2, 2].map((v) => Math.fround(v)));
    const pins: KinkPin[] = [
      { call: 0, kernel: 'LeakyRelu', shape: [5], index: [0, 3], value: [3e-8, -2e-9] },
      { call: 1, kernel: 'Abs', shape: [5], index: [4], value: [-1e-9] },
    ];
    expect(f(pins)).toEqual([1 - 1, 2, 0.2 - 1, 0.2 + 1, 1 - 1].map((v) => Math.fround(v)));
    x.dispose();
  });

  for (const variant of ['squared', 'l1-hinge'] as const) {
    it(`${variant}: every gradient equals float64's on the same kink branches`, async () => {
      const f = fixture(variant);
      expect(f.spec).toEqual(OBJECTIVE_CASES[f.case]);
      const c = buildObjectiveCase(OBJECTIVE_CASES[f.case]);
      try {
        // The seeded initialisers make the weights the fixture was made from; a changed initialiser is a stale fixture.
        const stale: string[] = [];
        const tensors: [string, tf.Tensor][] = [...c.variables.map((v): [string, tf.Tensor] => [`w:${v.originalName}`, v.read()]), ['in:xt', c.xt], ['in:zid', c.zId]];
        for (const [name, t] of tensors) {
          const values = t.dataSync() as Float32Array;
          const sum = values.reduce((s, x) => s + x, 0);
          const sumSquares = values.reduce((s, x) => s + x * x, 0);
          const [s64, q64] = f.fingerprints[name] ?? [NaN, NaN];
          if (!(relative(sumSquares, q64) <= 1e-6 && Math.abs(sum - s64) <= 1e-6 * Math.sqrt(q64 * values.length))) stale.push(name);
        }
        expect(stale, 'weights or inputs differ from the fixture: rerun make_fixture.py (see there)').toEqual([]);
        await turn();

        const { result, inputs } = withKinks(() => tf.variableGrads(() => objective(c, variant)), f.pins);
        try {
          await turn();
          expect(relative(result.value.dataSync()[0]!, f.lossFloat64)).toBeLessThanOrEqual(1e-5);
          // Outside the pinned elements every kink input must be clear of 0 here too, or a pin is missing (or the
          // forward pass is wrong).
          const pinned = new Map(f.pins.map((p) => [p.call, new Set(p.index)]));
          const unpinnedNearZero = inputs.flatMap(({ kernel, values }, call) => {
            const scale = values.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
            const near = values.filter((x, i) => Math.abs(x) < 0.5 * f.band * scale && !pinned.get(call)?.has(i)).length;
            return near ? [`${kernel} call ${call}: ${near}`] : [];
          });
          expect(unpinnedNearZero).toEqual([]);
          expect(inputs.reduce((n, k) => n + k.values.length, 0)).toBe(f.kinkElements);

          const failures: string[] = [];
          const worst: Record<string, number> = {};
          for (const v of c.variables) {
            const ref = f.gradients[v.originalName]!;
            const g = result.grads[v.name]!.dataSync();
            if (ref.termScale !== undefined && ref.norm < 1e-9 * ref.termScale) {
              const residue = l2(g) / ref.termScale;
              if (!(residue <= 1e-5)) failures.push(`${v.originalName}: exact gradient 0, got ${residue.toExponential(2)} of its terms' scale`);
              continue;
            }
            const p = project(g);
            const error = l2(p.map((x, j) => x - ref.projections[j]!)) / l2(ref.projections);
            const tolerance = 1e-4 + 1e-5 * (ref.condition ?? 1);
            const normError = relative(l2(g), ref.norm);
            const group = v.originalName.startsWith('discriminator.') ? v.originalName.split('.').slice(0, 2).join('.') : v.originalName.split('.')[0]!;
            worst[group] = Math.max(worst[group] ?? 0, error);
            if (!(error <= tolerance && normError <= tolerance)) {
              failures.push(`${v.originalName}: relative L2 ${error.toExponential(2)}, norm ${normError.toExponential(2)} (tolerance ${tolerance.toExponential(1)})`);
            }
          }
          const summary = Object.entries(worst).map(([k, e]) => `${k} ${e.toExponential(1)}`).join(', ');
          process.stderr.write(`[faceshifter] ${variant} objective on ${tf.getBackend()} vs float64, ${f.pins.reduce((n, p) => n + p.index.length, 0)} kink inputs pinned: worst relative L2 ${summary}\n`);
          expect(failures).toEqual([]);
          expect(Object.keys(result.grads).length).toBe(Object.keys(f.gradients).length);
        } finally {
          tf.dispose([result.value, ...Object.values(result.grads)]);
        }
      } finally {
        c.dispose();
      }
    });
  }
});
