import type { ObjectiveCaseSpec } from '../../test_utils/aei_objective.js';

/**
 * `test`: the case gradient_f64.test.ts checks, issue 11's network at a quarter of its width (so that a cpu run takes
 * seconds); `issue`: issue 11's exact size (tiny preset at 32², width 0.25, D of 2 scales × 3 layers, ndf 16), which
 * make_fixture.py can check by hand (a cpu run takes about 40 s).
 */
export const OBJECTIVE_CASES: Record<'test' | 'issue', ObjectiveCaseSpec> = {
  test: {
    model: { preset: 'tiny', resolution: 32, widthMultiplier: 0.0625, discriminator: { baseChannels: 8 } },
    seeds: { aei: 1, discriminator: 2, xt: 3, zId: 4 },
    batch: 2,
  },
  issue: {
    model: { preset: 'tiny', resolution: 32, widthMultiplier: 0.25 },
    seeds: { aei: 1, discriminator: 2, xt: 3, zId: 4 },
    batch: 2,
  },
};
