/**
 * A bad-input corpus for every command: missing files, unreadable, truncated and non-image files, a checkpoint of
 * the wrong kind, bad YAML, wrong types, unknown keys and a --set of a key that does not exist. Each must end in
 * exactly one line `error: ...` that names the thing, an exit code other than 0, and nothing written: the command's
 * output paths do not exist afterwards, and the fixtures it read are byte for byte as they were.
 *
 * The short form (in `yarn test`) tries six of them over five commands; `yarn test:faults` tries all 41 over ten.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AEINet, HEARNet, MultiscaleDiscriminator, resolveModelConfig, saveCheckpoint } from '@faceshifter/core/node';
import { LONG, REPO, runCliToEnd, treeSnapshot } from '../../../train/src/test_utils/faults.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'faults-inputs-'));
const fx = path.join(tmp, 'fixtures');
const out = path.join(tmp, 'out');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const f = (name: string): string => path.join(fx, name);
// The reference's G_latest.pth / D_latest.pth at a small config (c_id 16) and a small seeded IR-SE (32-d), as torch.save wrote them.
const REF_G = path.join(REPO, 'packages/core/src/weights/test_fixtures/reference_pth/G_tiny.pth');
const REF_D = path.join(REPO, 'packages/core/src/weights/test_fixtures/reference_pth/D_tiny.pth');
const REF_ID = path.join(REPO, 'packages/core/src/identity/test_fixtures/ir_se_small.pth');
const o = (name: string): string => path.join(out, name);

beforeAll(async () => {
  mkdirSync(fx, { recursive: true });
  mkdirSync(out, { recursive: true });
  const model = resolveModelConfig({ preset: 'tiny', resolution: 32, widthMultiplier: 0.0625 }, 'model');
  const aei = new AEINet(model, { seed: 1 });
  const d = new MultiscaleDiscriminator(model, { seed: 2 });
  const hear = new HEARNet(model, { seed: 3 });
  await saveCheckpoint(f('aei-ckpt'), { config: model, networks: { aei, discriminator: d }, step: 1 });
  await saveCheckpoint(f('hear-ckpt'), { config: model, networks: { hearnet: hear }, step: 1 });
  [aei, d, hear].forEach((m) => m.dispose());
  mkdirSync(f('corrupt-ckpt'));
  for (const n of ['meta.json', 'config.yaml', 'aei.safetensors', 'discriminator.safetensors']) {
    const bytes = readFileSync(path.join(f('aei-ckpt'), n));
    writeFileSync(path.join(f('corrupt-ckpt'), n), n.endsWith('.safetensors') ? bytes.subarray(0, 1000) : bytes);
  }
  const face = path.join(REPO, 'datasets/embedded/faces/face-api-sample1_f0.png');
  copyFileSync(face, f('face.png'));
  const png = readFileSync(face);
  writeFileSync(f('truncated.png'), png.subarray(0, Math.floor(png.length / 3)));
  writeFileSync(f('text.jpg'), 'not a photo\n');
  writeFileSync(f('empty.png'), '');
  writeFileSync(f('bad.yaml'), 'name: x\ntrain: [unclosed\n');
  writeFileSync(f('unknown-key.yaml'), readFileSync(path.join(REPO, 'configs/aei-tiny.yaml'), 'utf8').replace('  steps: 400', '  stepz: 400'));
  writeFileSync(f('wrong-type.yaml'), readFileSync(path.join(REPO, 'configs/aei-tiny.yaml'), 'utf8').replace('  batchSize: 4', '  batchSize: four'));
  writeFileSync(f('model-unknown.yaml'), 'model:\n  preset: tiny\n  widthMultipler: 0.25\n');
  writeFileSync(f('not-safetensors.safetensors'), 'PK\u0003\u0004 this is a zip, not safetensors');
  writeFileSync(f('hostile.pth'), Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.from('cos\nsystem\n(S"echo pwned"\ntR.')]));
  writeFileSync(f('pairs-ok.csv'), 'source,target\nface.png,face.png\n');
  writeFileSync(f('pairs-missing.csv'), 'source,target\nface.png,nowhere.png\n');
  writeFileSync(f('pairs-bad.csv'), 'source,target\nface.png,text.jpg\n');
  writeFileSync(f('experiment-unknown.yaml'), `base: ${path.join(REPO, 'configs/aei-tiny.yaml')}\nvariants:\n  - name: a\n    set: [train.nosuch=1]\neval:\n  dataset: ${path.join(REPO, 'datasets/embedded')}\n`);
  writeFileSync(f('experiment-bad.yaml'), 'base: [\n');
  mkdirSync(f('only-bad-images'));
  for (const n of ['a.png', 'b.png', 'c.jpg']) writeFileSync(path.join(f('only-bad-images'), n), 'garbage');
  mkdirSync(f('no-manifest'));
  writeFileSync(f('points-outside.json'), JSON.stringify({ source: [[20, 25], [40, 25], [30, 35], [22, 45], [38, 45]], target: [[20, 25], [900, 40], [30, 35], [22, 45], [38, 45]] }));
  copyFileSync(path.join(REPO, 'packages/core/src/weights/test_fixtures/pth/state_dict_zip.pth'), f('state_dict.pth'));
});

interface Case {
  args: string[];
  /** What the one error line must say. */
  says: RegExp;
  /** Paths the command would write; none may exist afterwards. */
  writes?: string[];
}

const tiny = ['--set', 'train.steps=2', '--set', 'train.batchSize=1', '--set', 'model.resolution=32', '--set', 'model.widthMultiplier=0.0625', '--set', 'identity.encoder=face-api-recognition'];
const trainCfg = path.join(REPO, 'configs/aei-tiny.yaml');

/** Per command, its cases; the short form runs the first of each (and the first two of train). */
const CORPUS: Record<string, Case[]> = {
  train: [
    { args: ['--config', f('nope.yaml'), '--out', o('t1')], says: /Config file .*nope\.yaml does not exist/, writes: [o('t1')] },
    { args: ['--config', trainCfg, '--out', o('t2'), ...tiny, '--set', 'train.nosuch=3'], says: /train\.nosuch: unknown key/, writes: [o('t2')] },
    { args: ['--config', f('bad.yaml'), '--out', o('t3')], says: /bad\.yaml/, writes: [o('t3')] },
    { args: ['--config', f('unknown-key.yaml'), '--out', o('t4')], says: /train\.stepz: unknown key.*unknown-key\.yaml/, writes: [o('t4')] },
    { args: ['--config', f('wrong-type.yaml'), '--out', o('t5')], says: /train\.batchSize: expected an integer.*got string "four"/, writes: [o('t5')] },
    { args: ['--config', trainCfg, '--out', o('t6'), ...tiny, '--set', 'train.steps=abc'], says: /train\.steps: expected an integer >= 1, got string "abc"/, writes: [o('t6')] },
    { args: ['--config', trainCfg, '--out', o('t7'), ...tiny, '--set', `data.root=${f('nowhere')}`], says: /Dataset .*nowhere does not exist/, writes: [o('t7')] },
    { args: ['--config', trainCfg, '--out', o('t8'), ...tiny, '--set', `data.root=${f('only-bad-images')}`], says: /Training data: 3 of 3 files .* unreadable .*a\.png \(not an image/, writes: [o('t8')] },
    { args: ['--resume', f('no-manifest')], says: /config\.yaml does not exist; is this a run directory made by `yarn train`\?/ },
    { args: ['--config', path.join(REPO, 'configs/hear-tiny.yaml'), '--out', o('t10'), ...tiny, '--set', `hear.aeiCheckpoint=${f('hear-ckpt')}`, '--set', `data.root=${path.join(REPO, 'datasets/embedded')}`], says: /hear-ckpt: has no aei weights \(it holds hearnet\)/, writes: [o('t10')] },
    { args: ['--config', trainCfg, '--bogus'], says: /Unknown argument: bogus/ },
  ],
  swap: [
    { args: ['--checkpoint', f('hear-ckpt'), '--source', f('face.png'), '--target', f('face.png'), '--out', o('s1.png')], says: /hear-ckpt: has no aei weights|hear-ckpt.*not an AEI-Net/, writes: [o('s1.png')] },
    { args: ['--checkpoint', f('nowhere'), '--source', f('face.png'), '--target', f('face.png'), '--out', o('s2.png')], says: /nowhere/, writes: [o('s2.png')] },
    { args: ['--checkpoint', f('aei-ckpt'), '--source', f('text.jpg'), '--target', f('face.png'), '--out', o('s3.png')], says: /text\.jpg.*not an image/, writes: [o('s3.png')] },
    { args: ['--checkpoint', f('aei-ckpt'), '--source', f('face.png'), '--target', f('truncated.png'), '--out', o('s4.png')], says: /truncated\.png: cannot decode the target image/, writes: [o('s4.png')] },
    { args: ['--checkpoint', f('aei-ckpt'), '--source', f('missing.png'), '--target', f('face.png'), '--out', o('s5.png')], says: /missing\.png/, writes: [o('s5.png')] },
    { args: ['--checkpoint', f('corrupt-ckpt'), '--source', f('face.png'), '--target', f('face.png'), '--out', o('s6.png')], says: /corrupt-ckpt: corrupted checkpoint \(aei\.safetensors is truncated/, writes: [o('s6.png')] },
    // The reference's published files used as they are (--weights): the wrong file in either place, the wrong c_id, points off the photo.
    { args: ['--weights', REF_D, '--id-weights', REF_ID, '--source', f('face.png'), '--target', f('face.png'), '--out', o('s7.png')], says: /D_tiny\.pth: not an AEI-Net generator \(G_latest\.pth\): it holds a discriminator \(D_latest\.pth\) \(missing encoder\.conv1\.0\.weight, generator\.up1\.weight, generator\.AADBlk1\.AAD1\.conv1\.weight\); a swap needs the generator/, writes: [o('s7.png')] },
    { args: ['--weights', REF_ID, '--id-weights', REF_G, '--source', f('face.png'), '--target', f('face.png'), '--out', o('s8.png')], says: /G_tiny\.pth: is an AEI-Net generator \(G_latest\.pth\), not a face-recognition network; pass it as --weights and the identity network \(model_ir_se50\.pth\) as --id-weights/, writes: [o('s8.png')] },
    { args: ['--weights', REF_G, '--id-weights', REF_ID, '--source', f('face.png'), '--target', f('face.png'), '--out', o('s9.png')], says: /G_tiny\.pth: AEI-Net takes 16-d identities but arcface-ir-se gives 32-d; pass the identity network it was trained with/, writes: [o('s9.png')] },
    { args: ['--weights', REF_G, '--id-weights', REF_ID, '--source', f('face.png'), '--target', f('face.png'), '--out', o('s10.png'), '--landmarks', f('points-outside.json')], says: /face\.png: landmark 1 of face 0 is \(900\.5, 40\.5\), outside the 256×256 photo/, writes: [o('s10.png')] },
    { args: ['--weights', f('state_dict.pth'), '--id-weights', REF_ID, '--source', f('face.png'), '--target', f('face.png'), '--out', o('s11.png')], says: /state_dict\.pth: not an AEI-Net generator \(G_latest\.pth\): it holds no network this project knows \(missing encoder\.conv1\.0\.weight, generator\.up1\.weight/, writes: [o('s11.png')] },
  ],
  eval: [
    { args: ['--checkpoint', f('hear-ckpt'), '--pairs', f('pairs-ok.csv'), '--out', o('e1')], says: /hear-ckpt: (has no aei weights|not an AEI-Net checkpoint)/, writes: [o('e1')] },
    { args: ['--method', 'target', '--pairs', f('pairs-missing.csv'), '--out', o('e2')], says: /nowhere\.png/, writes: [o('e2')] },
    { args: ['--method', 'target', '--pairs', f('pairs-bad.csv'), '--out', o('e3')], says: /text\.jpg.*not an image/, writes: [o('e3')] },
    { args: ['--method', 'target', '--pairs', f('nope.csv'), '--out', o('e4')], says: /nope\.csv/, writes: [o('e4')] },
  ],
  weights: [
    { args: ['export', '--checkpoint', f('corrupt-ckpt'), '--out', o('w1.safetensors')], says: /corrupted checkpoint \(aei\.safetensors is truncated \(1000 of \d+ bytes\)/, writes: [o('w1.safetensors')] },
    { args: ['import', '--in', f('hostile.pth'), '--config', trainCfg, '--out', o('w2')], says: /hostile\.pth/, writes: [o('w2')] },
    { args: ['inspect', '--in', f('not-safetensors.safetensors')], says: /not-safetensors\.safetensors/ },
    { args: ['import', '--in', f('not-safetensors.safetensors'), '--config', f('model-unknown.yaml'), '--out', o('w4')], says: /model\.widthMultipler: unknown key|not-safetensors/, writes: [o('w4')] },
    { args: ['export', '--checkpoint', f('nowhere'), '--out', o('w5.safetensors')], says: /nowhere: no such checkpoint directory/, writes: [o('w5.safetensors')] },
  ],
  'model-summary': [
    { args: ['--config', f('model-unknown.yaml')], says: /model\.widthMultipler: unknown key/ },
    { args: ['--config', f('bad.yaml')], says: /bad\.yaml/ },
    { args: ['--config', f('nope.yaml')], says: /nope\.yaml/ },
  ],
  'hear-select': [
    { args: ['--checkpoint', f('hear-ckpt'), '--dataset', path.join(REPO, 'datasets/embedded'), '--out', o('h1/m.csv')], says: /hear-ckpt: has no aei weights/, writes: [o('h1')] },
    { args: ['--checkpoint', f('aei-ckpt'), '--dataset', f('nowhere'), '--out', o('h2/m.csv')], says: /Dataset .*nowhere does not exist/, writes: [o('h2')] },
    { args: ['--checkpoint', f('corrupt-ckpt'), '--dataset', path.join(REPO, 'datasets/embedded'), '--out', o('h3/m.csv')], says: /corrupted checkpoint/, writes: [o('h3')] },
  ],
  'identity-mean': [
    { args: ['--dataset', f('nowhere')], says: /nowhere/ },
    { args: ['--dataset', f('no-manifest')], says: /no-manifest/ },
  ],
  'prepare-data': [
    { args: ['--input', f('nowhere'), '--output', o('p1')], says: /nowhere/, writes: [o('p1')] },
    { args: ['--input', f('only-bad-images'), '--output', o('p2'), '--shard', 'x'], says: /shard/, writes: [o('p2')] },
  ],
  'build-embedded': [{ args: ['--backend', 'nope'], says: /Invalid values: Argument: backend/ }],
  experiments: [
    { args: ['run', f('experiment-unknown.yaml'), '--out', o('x1')], says: /train\.nosuch: unknown key/, writes: [o('x1')] },
    { args: ['run', f('experiment-bad.yaml'), '--out', o('x2')], says: /experiment-bad\.yaml/, writes: [o('x2')] },
    { args: ['run', f('nope.yaml'), '--out', o('x3')], says: /nope\.yaml/, writes: [o('x3')] },
    { args: ['report', f('experiment-unknown.yaml'), '--out', o('x4'), '--steps', '2'], says: /Unknown argument: steps|train\.nosuch/, writes: [o('x4')] },
  ],
};

/** The short form: one case of each kind that matters most (a --set of a missing key, bad data, a wrong or damaged checkpoint). */
const SHORT: Record<string, number[]> = { train: [1, 7], swap: [0, 6, 7, 8, 9, 10], weights: [0], experiments: [0], 'model-summary': [0] };
const pick = (command: string, cases: Case[]): Case[] => (LONG ? cases : (SHORT[command] ?? []).map((i) => cases[i]!));
const tried = new Map<string, number>();
afterAll(() => {
  if (tried.size) console.log(`[faults] bad inputs tried: ${[...tried.values()].reduce((x, y) => x + y, 0)} (${[...tried].map(([c, k]) => `${c} ${k}`).join(', ')}); each one line, exit != 0, nothing written`);
});

type Result = Case & { command: string; code: number | null; lines: string[] };
const results = new Map<string, Result[]>();
let fixturesBefore: Record<string, number> = {};

// Every selected case of every command, two at a time (the commands start tfjs, which is most of their time);
// each command's test below then judges its own.
beforeAll(async () => {
  fixturesBefore = treeSnapshot(fx);
  const queue = Object.keys(CORPUS).flatMap((command) => pick(command, CORPUS[command]!).map((c) => ({ command, ...c })));
  const worker = async (): Promise<void> => {
    for (let c = queue.shift(); c; c = queue.shift()) {
      const r = await runCliToEnd(c.command, [...c.args, ...(c.args.includes('--backend') ? [] : ['--backend', 'wasm'])]);
      const lines = r.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('[faceshifter] backend:'));
      results.set(c.command, [...(results.get(c.command) ?? []), { ...c, code: r.code, lines }]);
    }
  };
  await Promise.all([worker(), worker()]);
}, 900_000);

describe.each(Object.keys(CORPUS).filter((c) => pick(c, CORPUS[c]!).length > 0))('bad inputs to yarn %s', (command) => {
  it(`${pick(command, CORPUS[command]!).length} bad input(s): one line naming the problem, exit code != 0, nothing written`, () => {
    const mine = results.get(command) ?? [];
    expect(mine).toHaveLength(pick(command, CORPUS[command]!).length);
    const problems: string[] = [];
    for (const r of mine) {
      const label = `yarn ${command} ${r.args.map((a) => a.replace(tmp, '<tmp>')).join(' ')}`;
      if (LONG) console.log(`${label}\n  -> ${r.lines.join(' | ').replace(tmp, '<tmp>')}`);
      if (r.code === 0) problems.push(`${label}: exit code 0`);
      if (r.lines.length !== 1 || !r.lines[0]!.startsWith('error: ')) problems.push(`${label}: expected one 'error: ' line, got ${r.lines.length}:\n  ${r.lines.join('\n  ')}`);
      else if (!r.says.test(r.lines[0]!)) problems.push(`${label}: '${r.lines[0]}' does not match ${r.says}`);
      for (const w of r.writes ?? []) if (existsSync(w)) problems.push(`${label}: left ${w} behind`);
    }
    expect(problems, problems.join('\n')).toEqual([]);
    tried.set(command, mine.length);
  });
});

it('the fixtures the commands read are unchanged, and nothing was written anywhere', () => {
  expect(treeSnapshot(fx)).toEqual(fixturesBefore);
  expect(Object.keys(treeSnapshot(out))).toEqual([]);
});
