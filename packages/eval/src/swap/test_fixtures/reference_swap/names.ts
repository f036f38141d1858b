/**
 * Writes names.json: the reference state_dict keys and shapes of AEI-Net at the small 256² config of the whole-swap
 * fixture (config.ts), for make_fixture.py, whose transcription of the reference's modules must load them strictly.
 * `TSX_TSCONFIG_PATH=tsconfig.check.json node --import tsx packages/eval/src/swap/test_fixtures/reference_swap/names.ts`
 */
import { writeFileSync } from 'node:fs';
import { buildNetwork, referenceTensors, resolveModelConfig } from '@faceshifter/core/node';
import { REFERENCE_SWAP_CONFIG } from './config.js';

const config = resolveModelConfig(REFERENCE_SWAP_CONFIG);
const model = buildNetwork('aei', config);
const names = referenceTensors('aei', model).map((t) => ({ name: t.name, shape: t.shape }));
model.dispose();
writeFileSync(new URL('./names.json', import.meta.url), JSON.stringify({ config, aei: names }));
console.log('aei', names.length, 'tensors', names.reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0), 'values');
