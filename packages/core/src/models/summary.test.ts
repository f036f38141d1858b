import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { resolveModelConfig } from '../config/model_config.js';
import { formatSummary, summarizeModelConfig } from './summary.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

describe('model summary', () => {
  it('lists every layer with its type, output shape and parameters, and frees everything it built', () => {
    const before = tf.memory().numTensors;
    const s = summarizeModelConfig(resolveModelConfig({ preset: 'tiny' }));
    expect(tf.memory().numTensors).toBe(before);
    const blk = s.generator.rows.find((r) => r.name === 'generator.AADBlk1')!;
    expect(blk.type).toBe('AADResBlk');
    expect(blk.outputShape).toBe('[B,2,2,256]');
    expect(s.generator.rows.reduce((a, r) => a + r.params, 0)).toBe(s.generator.trainable + s.generator.nonTrainable);
    expect(s.discriminator.rows.filter((r) => r.type === 'NLayerDiscriminator').map((r) => r.name)).toEqual([
      'discriminator.layer1',
      'discriminator.layer0',
    ]);
    const text = formatSummary('AAD generator', s.generator);
    expect(text).toMatch(/generator\.AADBlk1\s+AADResBlk\s+\[B,2,2,256\]\s+1,444,354/);
  });

  it('`yarn model-summary --json` prints exactly the trainable counts of configs/aei.yaml', () => {
    const stdout = execFileSync(
      'npx',
      ['tsx', '--tsconfig', 'tsconfig.check.json', 'packages/core/src/node/cli/model_summary.ts', '--config', 'configs/aei.yaml', '--json', '--backend', process.env.FACESHIFTER_BACKEND ?? 'wasm'],
      { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    expect(JSON.parse(stdout)).toEqual({ cId: 128, encoder: 67_087_744, generator: 106_393_045, hearnet: 16_663_043, discriminator: 46_047_555 });
    expect(stdout.trim().startsWith('{')).toBe(true);
  });

  it('`yarn model-summary` names a bad config key in one line and exits 1', () => {
    let message = '';
    try {
      execFileSync('npx', ['tsx', '--tsconfig', 'tsconfig.check.json', 'packages/core/src/node/cli/model_summary.ts', '--config', 'configs/missing.yaml', '--backend', 'cpu'], {
        cwd: root,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (e) {
      message = String((e as { stderr: string }).stderr);
      expect((e as { status: number }).status).toBe(1);
    }
    expect(message).toMatch(/^error: cannot read config file configs\/missing\.yaml/m);
  });
});
