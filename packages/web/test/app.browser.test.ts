import type * as tf from '@tensorflow/tfjs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AEINet,
  countTrainableParams,
  decodeImage,
  decodePng,
  encodePng,
  FaceSwapPipeline,
  HEARNet,
  loadCheckpointNetworks,
  loadFaceDetector,
  loadIdentityEncoder,
  packageFile,
  readPngText,
  type AnalysedPhoto,
  type FaceAlignment,
  type FaceDetector,
  type IdentityEncoder,
  type LoadedCheckpoint,
  type RawImage,
} from '@faceshifter/core/node';
import { AEI_CHECKPOINT, HEAR_CHECKPOINT, makeTinyRuns } from './fixtures.js';
import { buildApp, launchChromium, PAGE_SETTLED, REPO_ROOT, serveStatic, type StaticServer } from './harness.js';

/**
 * The web app in a real browser (Debian's chromium through playwright-core), built as `yarn web:build` builds it
 * and served from 127.0.0.1, with a tiny checkpoint made here. The browser runs tfjs's wasm backend, so its swaps
 * can be compared with the same swap run here in Node (FaceSwapPipeline, what `yarn swap` runs).
 */

// Aligned crops from the embedded dataset stand in for photos (one face each); sample1.jpg has three faces.
const FACES = path.join(REPO_ROOT, 'datasets', 'embedded', 'faces');
const SOURCE = path.join(FACES, 'face-api-sample1_f1.png');
const TARGET = path.join(FACES, 'human-faceid_f0.png');
const GROUP = packageFile('@vladmandic/face-api', 'demo/sample1.jpg');

let root: string;
let runs: string;
let app: { dir: string; built: boolean };
let server: StaticServer;
let browser: Browser;
let aei: LoadedCheckpoint;
let hear: LoadedCheckpoint;
let identity: IdentityEncoder;
let detector: FaceDetector;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'faceshifter-web-test-'));
  runs = path.join(root, 'runs');
  await makeTinyRuns(runs);
  // An incomplete checkpoint: its weights file is missing.
  await mkdir(path.join(root, 'incomplete'));
  for (const f of ['meta.json', 'config.yaml']) await copyFile(path.join(runs, AEI_CHECKPOINT, f), path.join(root, 'incomplete', f));
  await mkdir(path.join(root, 'not-a-checkpoint'));
  await writeFile(path.join(root, 'not-a-checkpoint', 'notes.txt'), 'nothing here');
  await mkdir(path.join(root, 'photos'));
  await writeFile(path.join(root, 'photos', 'grey.png'), encodePng({ width: 96, height: 96, channels: 3, data: new Uint8Array(96 * 96 * 3).fill(128) }));
  await writeFile(path.join(root, 'photos', 'garbage.jpg'), 'not an image at all');

  // The same networks, encoder and detector in Node, on the same backend (wasm: vitest.setup.ts selects it).
  aei = await loadCheckpointNetworks(path.join(runs, AEI_CHECKPOINT), { only: ['aei'] });
  hear = await loadCheckpointNetworks(path.join(runs, HEAR_CHECKPOINT), { only: ['hearnet'] });
  identity = await loadIdentityEncoder('face-api-recognition-centred');
  detector = await loadFaceDetector();

  app = await buildApp();
  server = await serveStatic(app.dir, { '/runs/': runs });
  browser = await launchChromium();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  aei?.dispose();
  hear?.dispose();
  identity?.dispose();
  if (root) await rm(root, { recursive: true, force: true });
  if (app?.built) await rm(app.dir, { recursive: true, force: true });
});

/** Opens the app on wasm, with a fresh browser context (no state from another test). */
async function openApp(query = ''): Promise<Page> {
  const page = await (await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 1000 } })).newPage();
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') console.error(`[page console] ${m.text()}`);
  });
  await page.goto(`${server.url}?backend=wasm${query}`);
  await settled(page);
  await expect.poll(() => page.locator('#backend-used').getAttribute('data-backend')).toBe('wasm');
  return page;
}

/** Waits until the page has no action queued or running (it counts them on <body data-pending>). */
async function settled(page: Page): Promise<void> {
  await page.waitForFunction(PAGE_SETTLED, undefined, { timeout: 110_000 });
}

/** The page's message line ('' when none is shown). */
async function message(page: Page): Promise<string> {
  return (await page.locator('#message').isVisible()) ? await text(page, '#message') : '';
}

async function text(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).textContent()) ?? '';
}

/** Drops a file onto an element, as dragging it from the desktop does. */
async function dropFile(page: Page, selector: string, file: string): Promise<void> {
  const b64 = (await readFile(file)).toString('base64');
  // A string: it runs in the page, with the page's DataTransfer and File.
  const dataTransfer = await page.evaluateHandle(`(() => {
    const dt = new DataTransfer();
    const bytes = Uint8Array.from(atob(${JSON.stringify(b64)}), (c) => c.charCodeAt(0));
    dt.items.add(new File([bytes], ${JSON.stringify(path.basename(file))}, { type: 'image/png' }));
    return dt;
  })()`);
  await page.dispatchEvent(selector, 'drop', { dataTransfer });
}

/** Clicks Download and returns the PNG's bytes. */
async function download(page: Page): Promise<Uint8Array> {
  const [file] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  return new Uint8Array(await readFile(await file.path()));
}

/** The Node swap of the same photos: FaceSwapPipeline, as `yarn swap` runs it. */
async function nodeSwap(withHear: boolean, align?: FaceAlignment): Promise<{ image: RawImage; target: AnalysedPhoto }> {
  // Another alignment takes the identity encoder made for crops in it, as the page (and `yarn swap --align`) does.
  const encoder = align ? await loadIdentityEncoder('face-api-recognition-centred', { input: align }) : identity;
  const faces = align ? { align, channels: 'rgb' as const } : undefined;
  const pipeline = new FaceSwapPipeline({ aei: aei.networks.aei as AEINet, hear: withHear ? (hear.networks.hearnet as HEARNet) : null, identity: encoder, detector, ...(faces ? { faces } : {}) });
  const source = await pipeline.analyse(SOURCE, await decodeImage(SOURCE));
  const target = await pipeline.analyse(TARGET, await decodeImage(TARGET));
  const zId = pipeline.sourceIdentity(source);
  try {
    return { image: (await pipeline.swap(zId, target)).image, target };
  } finally {
    zId.dispose();
    if (encoder !== identity) encoder.dispose();
  }
}

function maxAbsDiff(a: RawImage, b: RawImage): number {
  expect([a.width, a.height, a.channels]).toEqual([b.width, b.height, b.channels]);
  let max = 0;
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs(a.data[i]! - b.data[i]!));
  return max;
}

describe('the web app, in chromium', () => {
  let page: Page;
  const browserSwaps: Uint8Array[] = [];

  it('opens a run folder and shows the checkpoint: its networks, parameter counts and the run config', async () => {
    page = await openApp();
    await page.setInputFiles('#checkpoint-folder', path.join(runs, 'aei-tiny'));
    await settled(page);
    expect(await message(page)).toBe('');
    const status = await text(page, '#checkpoint-status');
    expect(status).toContain(`AEI-Net ${AEI_CHECKPOINT} (64 px, step 1)`);
    expect(status).toContain(`identity encoder face-api-recognition-centred (aei-tiny/config.yaml)`);
    const rows = await page.locator('#summary-table tbody tr').allTextContents();
    const net = aei.networks.aei as AEINet;
    // Trainable, then non-trainable (BatchNorm statistics) parameters, as `yarn model-summary` counts them.
    const counts = (m: tf.LayersModel): string => [countTrainableParams(m), m.countParams() - countTrainableParams(m)].map((n) => n.toLocaleString('en-US')).join('');
    expect(rows).toEqual([`Multi-level attribute encoder${AEI_CHECKPOINT}${counts(net.encoder)}`, `AAD generator${AEI_CHECKPOINT}${counts(net.generator)}`]);
    expect(await text(page, '#run-config')).toContain('encoder: face-api-recognition-centred');
    expect(await text(page, '#summary-layers')).toMatch(/Trainable params: [\d,]+/);
    expect(await text(page, '#responsible-use')).toContain('Face swapping is dual-use.');
  });

  it('swaps two photos (one dropped, one picked): the target keeps its size and every pixel away from the face; the face changes; the PNG is marked', async () => {
    await dropFile(page, '#source-drop', SOURCE);
    await page.setInputFiles('#target-file', TARGET);
    await settled(page);
    expect(await text(page, '#source-info')).toBe('face-api-sample1_f1.png (256\u00d7256): 1 face');
    expect(await text(page, '#target-info')).toBe('human-faceid_f0.png (256\u00d7256): 1 face');
    expect(await page.locator('#swap').isEnabled()).toBe(true);
    await page.click('#swap');
    await settled(page);
    expect(await message(page)).toBe('');
    expect(await text(page, '#result-info')).toMatch(/^AEI-Net on wasm: \d+ ms \(face detection: source \d+ ms, target \d+ ms\); face 0 of human-faceid_f0\.png$/);

    const png = await download(page);
    browserSwaps.push(png);
    const result = decodePng(png, 'downloaded PNG');
    const target = await decodeImage(TARGET);
    expect([result.width, result.height, result.channels]).toEqual([target.width, target.height, 3]);
    // Away from the face: outside the landmarks' bounding box grown by a tenth of its size on each side.
    const node = await nodeSwap(false);
    const xs = node.target.faces[0]!.landmarks68.map((p) => p[0]);
    const ys = node.target.faces[0]!.landmarks68.map((p) => p[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const [mx, my] = [(x1 - x0) / 10, (y1 - y0) / 10];
    let outside = 0;
    let outsideChanged = 0;
    let insideChanged = 0;
    for (let y = 0; y < result.height; y++) {
      for (let x = 0; x < result.width; x++) {
        const i = (y * result.width + x) * 3;
        const changed = [0, 1, 2].some((c) => result.data[i + c] !== target.data[i + c]);
        if (x < x0 - mx || x > x1 + mx || y < y0 - my || y > y1 + my) {
          outside++;
          if (changed) outsideChanged++;
        } else if (changed) insideChanged++;
      }
    }
    expect(outside).toBeGreaterThan(5000);
    expect(outsideChanged).toBe(0);
    expect(insideChanged).toBeGreaterThan(2000);

    const mark = readPngText(png, 'downloaded PNG');
    expect(mark).toMatchObject({
      'faceshifter:synthetic': 'true',
      'faceshifter:method': 'FaceShifter AEI-Net',
      'faceshifter:checkpoint': AEI_CHECKPOINT,
      'faceshifter:source': 'face-api-sample1_f1.png',
      'faceshifter:target': 'human-faceid_f0.png',
      'faceshifter:faces': '0',
    });
    expect(mark['Software']).toMatch(/^faceshifter-ts \d+\.\d+\.\d+/);
    expect(mark['Comment']).toMatch(/^Synthetic image generated by face swapping/);

    // The same checkpoint, photos and backend in Node: the same pixels, within 2/255.
    const diff = maxAbsDiff(result, node.image);
    console.info(`[browser vs Node, AEI-Net, wasm] max abs pixel difference: ${diff}/255`);
    expect(diff).toBeLessThanOrEqual(2);
  });

  it('aligns faces another way when chosen, warning once, and matches yarn swap --align on the same photos', async () => {
    expect(await text(page, '#align-note')).toBe('faces aligned as ffhq, as the model was trained');
    await page.selectOption('#align', 'reference');
    expect(await text(page, '#align-note')).toBe('aligning faces as reference, but the model was trained on ffhq crops: expect a worse swap');
    await page.click('#swap');
    await settled(page);
    expect(await message(page)).toBe('');
    const result = decodePng(await download(page), 'downloaded PNG');
    expect(result.data).not.toEqual(decodePng(browserSwaps[0]!, 'first swap').data);
    const diff = maxAbsDiff(result, (await nodeSwap(false, 'reference')).image);
    console.info(`[browser vs Node, --align reference, wasm] max abs pixel difference: ${diff}/255`);
    expect(diff).toBeLessThanOrEqual(2);
    await page.selectOption('#align', '');
    expect(await text(page, '#align-note')).toBe('faces aligned as ffhq, as the model was trained');
  });

  it('refines with HEAR-Net when its checkpoint is opened too, matching Node within 2/255', async () => {
    await page.setInputFiles('#hear-folder', path.join(runs, 'hear-tiny'));
    await settled(page);
    expect(await text(page, '#checkpoint-status')).toContain(`HEAR-Net ${HEAR_CHECKPOINT} (64 px, step 1)`);
    expect(await page.locator('#summary-table tbody tr').count()).toBe(3);
    await page.click('#swap');
    await settled(page);
    expect(await text(page, '#result-info')).toMatch(/^AEI-Net \+ HEAR-Net on wasm: \d+ ms/);
    const png = await download(page);
    const mark = readPngText(png, 'downloaded PNG');
    expect(mark['faceshifter:method']).toBe('FaceShifter AEI-Net + HEAR-Net');
    expect(mark['faceshifter:hear']).toBe(HEAR_CHECKPOINT);
    const result = decodePng(png, 'downloaded PNG');
    expect(result.data).not.toEqual(decodePng(browserSwaps[0]!, 'first swap').data);
    const diff = maxAbsDiff(result, (await nodeSwap(true)).image);
    console.info(`[browser vs Node, AEI-Net + HEAR-Net, wasm] max abs pixel difference: ${diff}/255`);
    expect(diff).toBeLessThanOrEqual(2);
  });

  it('asks which face to swap when the target has several, and swaps the one chosen', async () => {
    await page.click('#hear-remove');
    await page.setInputFiles('#target-file', GROUP);
    await settled(page);
    const info = await text(page, '#target-info');
    const n = Number(/: (\d+) faces, numbered left to right$/.exec(info)?.[1]);
    expect(n).toBeGreaterThanOrEqual(2);
    expect(await message(page)).toBe(`sample1.jpg: ${n} faces found in the target photo; choose the face to swap (numbered left to right), or all faces`);
    expect(await page.locator('#swap').isDisabled()).toBe(true);
    await page.selectOption('#target-face', '1');
    expect(await message(page)).toBe('');
    await page.click('#swap');
    await settled(page);
    expect(await text(page, '#result-info')).toMatch(/^AEI-Net on wasm: \d+ ms \(.+\); face 1 of sample1\.jpg$/);
    const png = await download(page);
    const group = await decodeImage(GROUP);
    const result = decodePng(png, 'downloaded PNG');
    expect([result.width, result.height]).toEqual([group.width, group.height]);
    expect(readPngText(png, 'downloaded PNG')['faceshifter:faces']).toBe('1');
  });

  it('says so when a photo has no face, or is not an image', async () => {
    await page.setInputFiles('#target-file', path.join(root, 'photos', 'grey.png'));
    await settled(page);
    expect(await message(page)).toBe('grey.png: no face found in the target photo; use a photo with a clearly visible, roughly frontal face');
    expect(await page.locator('#swap').isDisabled()).toBe(true);
    await page.setInputFiles('#target-file', path.join(root, 'photos', 'garbage.jpg'));
    await settled(page);
    expect(await message(page)).toMatch(/^garbage\.jpg: cannot decode the target image \(.+\); pick a JPEG, PNG, WebP or AVIF photo$/);
    expect(await page.locator('#swap').isDisabled()).toBe(true);
  });

  it('names the problem with a wrong or incomplete checkpoint', async () => {
    await page.setInputFiles('#checkpoint-folder', path.join(runs, 'hear-tiny'));
    await settled(page);
    expect(await message(page)).toBe(
      `${HEAR_CHECKPOINT}: not an AEI-Net checkpoint (it holds hearnet; this is a HEAR-Net checkpoint: open it as the HEAR-Net checkpoint)`,
    );
    await page.setInputFiles('#checkpoint-folder', path.join(root, 'incomplete'));
    await settled(page);
    expect(await message(page)).toMatch(/^incomplete: .*aei\.safetensors/);
    await page.setInputFiles('#checkpoint-folder', path.join(root, 'not-a-checkpoint'));
    await settled(page);
    expect(await message(page)).toBe(
      'not-a-checkpoint: no checkpoint in this folder (no meta.json); open a run folder (runs/<name>) or one of its checkpoints (runs/<name>/checkpoints/step-N)',
    );
    // The checkpoint opened before stays open.
    expect(await text(page, '#checkpoint-status')).toContain(`AEI-Net ${AEI_CHECKPOINT}`);
    await page.context().close();
  });
});

describe('the web app with a checkpoint served next to it', () => {
  it('opens ?checkpoint=<url>, reading the run config two levels up', async () => {
    const page = await openApp(`&checkpoint=runs/${AEI_CHECKPOINT}`);
    expect(await message(page)).toBe('');
    const status = await text(page, '#checkpoint-status');
    expect(status).toContain(`AEI-Net runs/${AEI_CHECKPOINT} (64 px, step 1)`);
    expect(status).toMatch(/identity encoder face-api-recognition-centred \(http:\/\/127\.0\.0\.1:\d+\/runs\/aei-tiny\/config\.yaml\)/);
    await page.goto(`${server.url}?backend=wasm&checkpoint=runs/missing`);
    await settled(page);
    expect(await message(page)).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/runs\/missing\/meta\.json: cannot fetch the checkpoint meta\.json \(HTTP 404\)/);
    await page.context().close();
  });
});
