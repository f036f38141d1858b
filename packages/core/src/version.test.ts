import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CORE_VERSION } from './version.js';

describe('CORE_VERSION', () => {
  it("is every package's package.json version (checkpoints and the synthetic mark record it)", () => {
    for (const pkg of ['core', 'train', 'eval']) {
      const json = JSON.parse(readFileSync(new URL(`../../${pkg}/package.json`, import.meta.url), 'utf8')) as { version: string };
      expect(json.version, pkg).toBe(CORE_VERSION);
    }
  });
});
