/**
 * Writes what make_fixture.py needs to recompute an objective case in float64: every weight, X_t and z_id exactly as
 * the seeded builders make them, each kink call's input (Relu, LeakyRelu, Abs) as this backend computed it, and this
 * backend's float32 gradients (for the report).
 * `node --import tsx packages/core/src/backend/test_fixtures/aei_objective_f64/dump_case.ts <issue|regression> <squared|l1-hinge> <cpu|wasm|webgpu> OUT_PREFIX [SEED_SET]`
 * writes OUT_PREFIX.json (the index) and OUT_PREFIX.bin (float32 values, in index order).
 */
import { writeFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../select_backend.js';
import { buildObjectiveCase, objective, withKinks, type ObjectiveVariant } from '../../test_utils/aei_objective.js';
import { OBJECTIVE_CASES, type ObjectiveCaseName } from './cases.js';

const [caseName, variant, backend, out, seedSet] = process.argv.slice(2) as [ObjectiveCaseName, ObjectiveVariant, 'cpu' | 'wasm' | 'webgpu', string, string?];
if (!OBJECTIVE_CASES[caseName] || !['squared', 'l1-hinge'].includes(variant) || !out) {
  throw new Error('usage: dump_case.ts <issue|regression> <squared|l1-hinge> <cpu|wasm|webgpu> OUT_PREFIX [SEED_SET]');
}
await selectBackend(backend, { log: () => {} });
const base = OBJECTIVE_CASES[caseName];
const shift = 10 * Number(seedSet ?? 0);
const spec = { ...base, seeds: { aei: base.seeds.aei + shift, discriminator: base.seeds.discriminator + shift, xt: base.seeds.xt + shift, zId: base.seeds.zId + shift } };
const c = buildObjectiveCase(spec);
const { result, inputs } =
  backend === 'webgpu' ? { result: tf.variableGrads(() => objective(c, variant)), inputs: [] } : withKinks(() => tf.variableGrads(() => objective(c, variant)));
const read = async (t: tf.Tensor): Promise<Float32Array> => (await t.data()) as Float32Array;
const arrays: { name: string; shape: number[]; values: Float32Array }[] = [];
for (const v of c.variables) arrays.push({ name: `w:${v.originalName}`, shape: [...v.shape] as number[], values: await read(v.read()) });
arrays.push({ name: 'in:xt', shape: c.xt.shape, values: await read(c.xt) });
arrays.push({ name: 'in:zid', shape: c.zId.shape, values: await read(c.zId) });
inputs.forEach((k, i) => arrays.push({ name: `kink:${i}:${k.kernel}`, shape: k.shape, values: k.values }));
for (const v of c.variables) arrays.push({ name: `g:${v.originalName}`, shape: [...v.shape] as number[], values: await read(result.grads[v.name]!) });
const loss = await read(result.value);
arrays.push({ name: 'loss', shape: [], values: loss });
writeFileSync(`${out}.json`, JSON.stringify({ case: caseName, variant, backend, spec, config: c.config, arrays: arrays.map(({ name, shape, values }) => ({ name, shape, n: values.length })) }));
writeFileSync(`${out}.bin`, Buffer.concat(arrays.map((x) => Buffer.from(new Float32Array(x.values).buffer))));
process.stderr.write(`${caseName} (seeds ${Object.values(spec.seeds).join(", ")}) ${variant} on ${backend}: loss ${loss[0]}, ${inputs.length} kink calls, ${c.variables.length} variables -> ${out}.{json,bin}\n`);
process.exit(0);
