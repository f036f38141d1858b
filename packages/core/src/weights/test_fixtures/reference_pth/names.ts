/**
 * Writes names.json: the reference state_dict keys and shapes of AEI-Net and the discriminator at the small config
 * of the .pth import test, for make_reference_pth.py to fill (so the fixture needs no copy of the reference's code).
 * `TSX_TSCONFIG_PATH=tsconfig.check.json node --import tsx packages/core/src/weights/test_fixtures/reference_pth/names.ts`
 */
import { writeFileSync } from 'node:fs';
import { resolveModelConfig } from '../../../config/model_config.js';
import { buildNetwork } from '../../checkpoint.js';
import { referenceTensors } from '../../reference_mapping.js';
import { REFERENCE_PTH_CONFIG } from './config.js';

const config = resolveModelConfig(REFERENCE_PTH_CONFIG);
const out: Record<string, { name: string; shape: number[] }[]> = {};
for (const n of ['aei', 'discriminator'] as const) {
  const model = buildNetwork(n, config);
  out[n] = referenceTensors(n, model).map((t) => ({ name: t.name, shape: t.shape }));
  model.dispose();
}
writeFileSync(new URL('./names.json', import.meta.url), JSON.stringify(out));
for (const [n, list] of Object.entries(out)) console.log(n, list.length, 'tensors', list.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0), 'values');
