import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listDatasetItems } from '@faceshifter/train';
import { formatSummary } from '../report/report.js';
import { FaceMetrics, evaluatePairs, sameNetworkWarning } from './evaluate.js';
import type { EvalPair } from './pairs.js';

const EMBEDDED = path.resolve(__dirname, '../../../../datasets/embedded');
/** A seeded random arcface_torch iresnet at reduced width (core's identity fixtures): any ID network plugs in. */
const IRESNET = path.resolve(__dirname, '../../../core/src/identity/test_fixtures/iresnet_small.pth');

describe('sameNetworkWarning', () => {
  it('warns when ID retrieval would use the training network, and only then', () => {
    expect(sameNetworkWarning('face-api-recognition-centred', undefined, 'face-api-recognition', undefined)).toMatch(/^warning: ID retrieval uses the training identity network \(face-api-recognition\).*--id-network/);
    expect(sameNetworkWarning('iresnet100', 'w/arcface_r100.pth', 'iresnet100', './w/arcface_r100.pth')).toMatch(/training identity network \(iresnet100, \.\/w\/arcface_r100\.pth\)/);
    // ArcFace trains, CosFace evaluates: the same architecture with other weights is another network.
    expect(sameNetworkWarning('iresnet100', 'w/arcface_r100.pth', 'iresnet100', 'w/cosface_r100.pth')).toBeNull();
    expect(sameNetworkWarning('arcface-ir-se50', 'w/model_ir_se50.pth', 'human-faceres', undefined)).toBeNull();
  });
});

describe('yarn eval --id-network', () => {
  let metrics: FaceMetrics;
  let pairs: EvalPair[];
  beforeAll(async () => {
    metrics = await FaceMetrics.load({ idNetwork: 'iresnet', idWeights: IRESNET });
    const items = (await listDatasetItems(EMBEDDED)).slice(0, 3);
    pairs = [
      { source: items[0]!.file, target: items[1]!.file, sourceIdentity: items[0]!.identity, targetIdentity: items[1]!.identity },
      { source: items[2]!.file, target: items[0]!.file, sourceIdentity: items[2]!.identity, targetIdentity: items[0]!.identity },
    ];
  });
  afterAll(() => metrics.dispose());

  it('measures ID retrieval and similarity with the named network, and says which in the summary', async () => {
    const r = await evaluatePairs(pairs, { method: 'source', metrics, resolution: 128 });
    expect(r.summary.idNetwork).toBe('iresnet');
    expect(r.summary.idSimilarity.mean).toBeCloseTo(1, 4); // Ŷ = X_s: the source's own embedding
    expect(formatSummary(r.summary)).toContain('ID network iresnet');
    expect(formatSummary(r.summary)).toContain('ID similarity (iresnet cos)');
  });

  it('needs the weights of an InsightFace ID network', async () => {
    await expect(FaceMetrics.load({ idNetwork: 'iresnet100' })).rejects.toThrow(/identity encoder 'iresnet100' needs its weights: set --id-weights <file> to an insightface arcface_torch backbone\.pth/);
  });
});
