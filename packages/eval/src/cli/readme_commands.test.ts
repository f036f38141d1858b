/**
 * The smoke suite: every command the README shows, run as a user types it (`yarn -s <command> ...`, a child
 * process from the repository root, with nothing imported into the test process), on its success path, at tiny
 * sizes. A command that crashes on the way to its result (a missing platform adapter, an import that only the
 * library path sets up) fails here even where its library functions are tested elsewhere. Commands are chained as
 * a user chains them: train → swap, eval, hear-select → train HEAR-Net; weights export → inspect → import.
 * Video (`swap --video`, `eval --videos`) and the reference's files (`swap --weights`) have their own command
 * tests beside their code.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPngText } from '@faceshifter/core/node';
import { REPO, tinyTrainArgs } from '../../../train/src/test_utils/faults.js';

const FACES = path.join(REPO, 'datasets/embedded/faces');
const IDENTITY_FIXTURES = path.join(REPO, 'packages/core/src/identity/test_fixtures');
let root: string;
const at = (...p: string[]): string => path.join(root, ...p);
const walls: Record<string, number> = {};

/** `yarn -s <command> ...args` from the repository root; the backend as a user gets it (no test override). */
function yarn(command: string, args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  const t = performance.now();
  const r = spawnSync('yarn', ['-s', command, ...args], { cwd: REPO, encoding: 'utf8', env: { ...process.env, FACESHIFTER_BACKEND: '' }, maxBuffer: 64 << 20 });
  walls[command] = (walls[command] ?? 0) + (performance.now() - t) / 1000;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(command: string, args: readonly string[]): { stdout: string; stderr: string } {
  const r = yarn(command, args);
  expect(r.status, `yarn ${command} ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r;
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'faceshifter-readme-'));
});

afterAll(async () => {
  process.stderr.write(`[smoke] wall time per command (s): ${JSON.stringify(Object.fromEntries(Object.entries(walls).map(([k, v]) => [k, +v.toFixed(1)])))}\n`);
  await rm(root, { recursive: true, force: true });
});

describe("the README's commands, each as a subprocess on its success path", () => {
  it('yarn model-summary --config configs/aei-tiny.yaml --json', () => {
    const r = ok('model-summary', ['--config', 'configs/aei-tiny.yaml', '--json', '--backend', 'wasm']);
    const counts = JSON.parse(r.stdout) as Record<string, number>;
    expect(counts['cId']).toBe(128);
    for (const network of ['encoder', 'generator', 'hearnet', 'discriminator']) expect(counts[network]).toBeGreaterThan(0);
  });

  it('yarn prepare-data --input <photos> --output <dataset> (detect, align, crop)', async () => {
    await mkdir(at('photos'));
    const photos = ['face-api-sample1_f0.png', 'human-faceid_f0.png'];
    for (const p of photos) await writeFile(at('photos', p), readFileSync(path.join(FACES, p)));
    ok('prepare-data', ['--input', at('photos'), '--output', at('prepared'), '--backend', 'wasm']);
    const manifest = readFileSync(at('prepared', 'manifest.csv'), 'utf8').trim().split('\n');
    expect(manifest.length).toBe(1 + photos.length);
  });

  it('yarn train --config configs/aei-tiny.yaml (tiny overrides)', () => {
    ok('train', tinyTrainArgs(at('runs'), 2, ['name=aei']));
    expect(existsSync(at('runs', 'aei', 'metrics.csv'))).toBe(true);
    expect(readdirSync(at('runs', 'aei')).some((n) => n.startsWith('checkpoint'))).toBe(true);
  });

  it('yarn swap --checkpoint runs/<aei> --source a --target b --out out.png: a marked PNG', () => {
    const r = ok('swap', ['--checkpoint', at('runs', 'aei'), '--source', path.join(FACES, 'face-api-sample1_f1.png'), '--target', path.join(FACES, 'human-faceid_f0.png'), '--out', at('swap.png'), '--backend', 'wasm']);
    expect(r.stdout).toMatch(/swap\.png/);
    expect(readPngText(readFileSync(at('swap.png')))['faceshifter:synthetic']).toBe('true');
  });

  it('yarn eval --checkpoint runs/<aei> --pairs pairs.csv --out <dir>', async () => {
    await writeFile(at('pairs.csv'), `source,target\n${path.join(FACES, 'face-api-sample1_f1.png')},${path.join(FACES, 'human-faceid_f0.png')}\n${path.join(FACES, 'human-faceid_f0.png')},${path.join(FACES, 'face-api-sample1_f0.png')}\n`);
    const r = ok('eval', ['--checkpoint', at('runs', 'aei'), '--pairs', at('pairs.csv'), '--out', at('eval'), '--backend', 'wasm']);
    expect(r.stdout).toMatch(/ID retrieval top-1/);
    expect((JSON.parse(readFileSync(at('eval', 'report.json'), 'utf8')) as { summary: { pairs: number } }).summary.pairs).toBe(2);
  });

  it('yarn hear-select, then yarn train --config configs/hear-tiny.yaml on its manifest', () => {
    ok('hear-select', ['--checkpoint', at('runs', 'aei'), '--dataset', path.join(REPO, 'datasets/embedded'), '--top', '0.1', '--out', at('manifest-hear.csv'), '--backend', 'wasm']);
    const rows = readFileSync(at('manifest-hear.csv'), 'utf8').trim().split('\n');
    expect(rows.length).toBeGreaterThanOrEqual(2);
    const sets = ['name=hear', 'train.steps=2', 'train.batchSize=1', 'model.resolution=32', 'model.widthMultiplier=0.0625', 'identity.encoder=face-api-recognition', `hear.aeiCheckpoint=${at('runs', 'aei')}`, `data.root=${at('manifest-hear.csv')}`, 'train.logEvery=1', 'train.checkpointEvery=2', 'train.sampleEvery=2'];
    ok('train', ['--config', 'configs/hear-tiny.yaml', '--out', at('runs'), '--backend', 'wasm', ...sets.flatMap((s) => ['--set', s])]);
    expect(existsSync(at('runs', 'hear', 'metrics.csv'))).toBe(true);
  });

  it('yarn weights export, inspect and import: the reference names and back', () => {
    // A run folder is not a checkpoint: the error names the one to give.
    const run = yarn('weights', ['export', '--checkpoint', at('runs', 'aei'), '--out', at('aei.safetensors'), '--backend', 'wasm']);
    expect(run.status).toBe(1);
    const checkpoint = /e\.g\. (\S+)$/.exec(run.stderr.trim())?.[1];
    expect(checkpoint, run.stderr).toMatch(/checkpoints\/step-0*2$/);
    ok('weights', ['export', '--checkpoint', checkpoint!, '--out', at('aei.safetensors'), '--backend', 'wasm']);
    const inspected = ok('weights', ['inspect', '--in', at('aei.safetensors')]);
    expect(inspected.stdout).toMatch(/encoder|generator/);
    ok('weights', ['import', '--in', at('aei.safetensors'), '--out', at('imported'), '--backend', 'wasm']);
    expect(readdirSync(at('imported')).length).toBeGreaterThan(0);
  });

  it('yarn identity import and yarn identity-embed --weights <pth> --aligned-112 --json', () => {
    ok('identity', ['import', '--encoder', 'arcface-ir-se', '--in', path.join(IDENTITY_FIXTURES, 'ir_se_small.pth'), '--out', at('ir_se.safetensors'), '--backend', 'wasm']);
    expect(existsSync(at('ir_se.safetensors'))).toBe(true);
    const r = ok('identity-embed', ['--encoder', 'arcface-ir-se', '--weights', path.join(IDENTITY_FIXTURES, 'ir_se_small.pth'), '--image', path.join(IDENTITY_FIXTURES, 'face112.png'), '--aligned-112', '--json', '--backend', 'wasm']);
    const out = JSON.parse(r.stdout) as { embedding: number[] };
    expect(Math.hypot(...out.embedding)).toBeCloseTo(1, 4);
  });

  it('yarn identity-mean --dataset <dir>', () => {
    const r = ok('identity-mean', ['--dataset', path.join(REPO, 'datasets/embedded'), '--backend', 'wasm']);
    const mean = JSON.parse(r.stdout) as number[];
    expect(mean).toHaveLength(128);
    expect(r.stderr).toMatch(/cosine, centred/);
  });

  it('yarn experiments run <file> --steps 2, then report', async () => {
    await writeFile(
      at('smoke.yaml'),
      [
        `base: ${path.join(REPO, 'configs/aei-tiny.yaml')}`,
        'set: [model.resolution=32, model.widthMultiplier=0.0625, train.batchSize=1, identity.encoder=face-api-recognition]',
        'variants:',
        '  - name: a',
        'eval:',
        `  dataset: ${path.join(REPO, 'datasets/embedded')}`,
        '  limit: 2',
        '  baselines: [target]',
        '',
      ].join('\n'),
    );
    ok('experiments', ['run', at('smoke.yaml'), '--steps', '2', '--out', at('experiment'), '--backend', 'wasm']);
    ok('experiments', ['report', at('smoke.yaml'), '--out', at('experiment')]);
    expect(readFileSync(at('experiment', 'results.md'), 'utf8')).toMatch(/\ba\b/);
  });

  it('yarn bench --figures aeiTinyTrainStepMs --runs 1 --json', () => {
    const r = ok('bench', ['--figures', 'aeiTinyTrainStepMs', '--runs', '1', '--json', '--backend', 'wasm']);
    const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { aeiTinyTrainStepMs: number };
    expect(report.aeiTinyTrainStepMs).toBeGreaterThan(0);
  });
});
