import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatChunks, decodePng, encodeSafetensors, exportReferenceTensors, HEARNet, inferAEIConfig, readPngText, readWeightsFile, type RawImage } from '@faceshifter/core/node';
import { buildApp, launchChromium, PAGE_SETTLED, REPO_ROOT, serveStatic, type StaticServer } from './harness.js';

/**
 * The web app with the PyTorch reference's files, as a user who has G_latest.pth and model_ir_se50.pth opens them:
 * small seeded files of the same layouts (torch.save), picked and dropped, then a swap whose downloaded PNG must
 * equal, pixel for pixel, what `yarn swap --weights G --id-weights ir` writes for the same photos (both on wasm).
 */

const FIXTURE_GENERATOR = path.join(REPO_ROOT, 'packages/eval/src/swap/test_fixtures/reference_swap/G_small.pth');
const FIXTURE_IDENTITY = path.join(REPO_ROOT, 'packages/core/src/identity/test_fixtures/ir_se_small.pth');
// For development against other files of the same layouts (e.g. G_tiny.pth with a 16-d IR-SE).
const GENERATOR = process.env.FACESHIFTER_WEB_REF_GENERATOR ?? FIXTURE_GENERATOR;
const IDENTITY = process.env.FACESHIFTER_WEB_REF_IDENTITY ?? FIXTURE_IDENTITY;
const MISSING = [GENERATOR, IDENTITY].filter((f) => !existsSync(f));
if (MISSING.length) console.warn(`[reference.browser.test] skipped: no ${MISSING.map((f) => path.relative(REPO_ROOT, f)).join(', ')}`);

const FACES = path.join(REPO_ROOT, 'datasets', 'embedded', 'faces');
const SOURCE = path.join(FACES, 'face-api-sample1_f1.png');
const TARGET = path.join(FACES, 'human-faceid_f0.png');
const G_NAME = path.basename(GENERATOR);
const ID_NAME = path.basename(IDENTITY);

const run = promisify(execFile);

let root: string;
let hearFile: string;
let app: { dir: string; built: boolean };
let server: StaticServer;
let browser: Browser;

/** `yarn swap` with the reference's files, as a user runs it (a subprocess, on wasm like the page); its PNG. */
async function cliSwap(out: string, extra: string[] = []): Promise<Uint8Array> {
  await run('yarn', ['-s', 'swap', '--backend', 'wasm', '--weights', GENERATOR, '--id-weights', IDENTITY, ...extra, '--source', SOURCE, '--target', TARGET, '--out', out], {
    cwd: REPO_ROOT,
    env: { ...process.env, FACESHIFTER_BACKEND: 'wasm' },
    maxBuffer: 16 << 20,
  });
  return new Uint8Array(await readFile(out));
}

async function settled(page: Page): Promise<void> {
  await page.waitForFunction(PAGE_SETTLED, undefined, { timeout: 110_000 });
}

async function text(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).textContent()) ?? '';
}

async function message(page: Page): Promise<string> {
  return (await page.locator('#message').isVisible()) ? await text(page, '#message') : '';
}

/** Drops a file onto an element, as dragging it from the desktop does. */
async function dropFile(page: Page, selector: string, file: string, type = 'application/octet-stream'): Promise<void> {
  const b64 = (await readFile(file)).toString('base64');
  const dataTransfer = await page.evaluateHandle(`(() => {
    const dt = new DataTransfer();
    const bytes = Uint8Array.from(atob(${JSON.stringify(b64)}), (c) => c.charCodeAt(0));
    dt.items.add(new File([bytes], ${JSON.stringify(path.basename(file))}, { type: ${JSON.stringify(type)} }));
    return dt;
  })()`);
  await page.dispatchEvent(selector, 'drop', { dataTransfer });
}

async function download(page: Page): Promise<Uint8Array> {
  const [file] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  return new Uint8Array(await readFile(await file.path()));
}

function diffStats(a: RawImage, b: RawImage): { max: number; differing: number } {
  expect([a.width, a.height, a.channels]).toEqual([b.width, b.height, b.channels]);
  let max = 0;
  let differing = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i]! - b.data[i]!);
    if (d > 0) differing++;
    max = Math.max(max, d);
  }
  return { max, differing };
}

describe.skipIf(MISSING.length > 0)('the web app with the PyTorch reference\u2019s .pth files', () => {
  let page: Page;
  /** The page's `[weights]` console lines: where each file was parsed. */
  const weightLog: string[] = [];

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'faceshifter-web-ref-'));
    // A seeded HEAR-Net for this generator, in the reference's layout (what `yarn weights export` writes).
    const config = inferAEIConfig(await readWeightsFile(GENERATOR));
    const hear = new HEARNet(config, { seed: 3 });
    try {
      hearFile = path.join(root, 'hear_small.safetensors');
      await writeFile(hearFile, concatChunks(encodeSafetensors(await exportReferenceTensors('hearnet', hear))));
    } finally {
      hear.dispose();
    }
    app = await buildApp();
    server = await serveStatic(app.dir);
    browser = await launchChromium();
    page = await (await browser.newContext({ acceptDownloads: true, viewport: { width: 1200, height: 1000 } })).newPage();
    page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') console.error(`[page console] ${m.text()}`);
      if (m.text().startsWith('[weights]')) weightLog.push(m.text());
    });
    await page.goto(`${server.url}?backend=wasm`);
    await settled(page);
    await page.waitForFunction("document.getElementById('backend-used').dataset.backend === 'wasm'", undefined, { timeout: 60_000 });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (root) await rm(root, { recursive: true, force: true });
    if (app?.built) await rm(app.dir, { recursive: true, force: true });
  });

  it('names the field a file belongs in when the generator and the identity network are swapped', async () => {
    await page.setInputFiles('#ref-generator-file', IDENTITY);
    await settled(page);
    expect(await message(page)).toMatch(new RegExp(`^${ID_NAME.replace('.', '\\.')}: not an AEI-Net generator \\(G_latest\\.pth\\): it holds a face-recognition network .*open it in the identity network field \\(model_ir_se50\\.pth\\) and the generator \\(G_latest\\.pth\\) in the AEI-Net generator field`));
    await page.setInputFiles('#ref-identity-file', GENERATOR);
    await settled(page);
    expect(await message(page)).toMatch(new RegExp(`^${G_NAME.replace('.', '\\.')}: is an AEI-Net generator \\(G_latest\\.pth\\), not a face-recognition network; pass it as the AEI-Net generator field`));
    expect(await text(page, '#checkpoint-status')).toBe('No checkpoint open.');
  });

  it('opens the generator by file input and the identity network by drag-and-drop, with progress to the last byte', async () => {
    await page.setInputFiles('#ref-generator-file', GENERATOR);
    await settled(page);
    expect(await message(page)).toBe('');
    expect(await text(page, '#weights-status')).toBe(`${G_NAME} read; now open the identity network (model_ir_se50.pth)`);
    expect(await page.locator('#ref-generator-name').getAttribute('data-read')).toBe(String((await stat(GENERATOR)).size));
    await dropFile(page, '#ref-identity-drop', IDENTITY);
    await settled(page);
    expect(await message(page)).toBe('');
    expect(await page.locator('#ref-identity-name').getAttribute('data-read')).toBe(String((await stat(IDENTITY)).size));
    const config = inferAEIConfig(await readWeightsFile(GENERATOR));
    const status = await text(page, '#checkpoint-status');
    expect(status).toContain(`AEI-Net ${G_NAME} (${config.resolution} px, reference layout)`);
    expect(status).toContain(`identity encoder arcface-ir-se (${ID_NAME})`);
    expect(await text(page, '#run-config-title')).toContain('reference alignment, BGR');
    expect(await page.locator('#weights-progress').isHidden()).toBe(true);
    expect(weightLog.filter((l) => l.startsWith(`[weights] ${G_NAME}: parsed in a worker`) || l.startsWith(`[weights] ${ID_NAME}: parsed in a worker`)).length).toBeGreaterThanOrEqual(2);
  });

  it('swaps, and the downloaded PNG equals `yarn swap --weights --id-weights` on the same photos, pixel for pixel', async () => {
    await page.setInputFiles('#source-file', SOURCE);
    await page.setInputFiles('#target-file', TARGET);
    await settled(page);
    expect(await message(page)).toBe('');
    await page.click('#swap');
    await settled(page);
    expect(await message(page)).toBe('');
    const png = await download(page);
    const mark = readPngText(png, 'downloaded PNG');
    expect(mark).toMatchObject({ 'faceshifter:synthetic': 'true', 'faceshifter:method': 'FaceShifter AEI-Net', 'faceshifter:checkpoint': G_NAME, 'faceshifter:source': path.basename(SOURCE), 'faceshifter:target': path.basename(TARGET) });
    expect(mark['Software']).toMatch(/^faceshifter-ts \d+\.\d+\.\d+/);
    const cli = await cliSwap(path.join(root, 'cli.png'));
    const target = decodePng(await readFile(TARGET), 'target');
    const web = decodePng(png, 'downloaded PNG');
    const d = diffStats(web, decodePng(cli, 'yarn swap PNG'));
    console.info(`[web vs yarn swap, reference .pth, wasm] max abs pixel difference ${d.max}/255, ${d.differing} of ${web.data.length} values differ`);
    expect(d.max).toBe(0);
    // The swap did something: the face changed.
    expect(diffStats(web, target).differing).toBeGreaterThan(1000);
  });

  it('refines with the reference-layout HEAR-Net weights when given, as `yarn swap --hear-weights` does', async () => {
    await page.setInputFiles('#ref-hear-file', hearFile);
    await settled(page);
    expect(await message(page)).toBe('');
    expect(await text(page, '#checkpoint-status')).toContain(`HEAR-Net ${path.basename(hearFile)}`);
    await page.click('#swap');
    await settled(page);
    const png = await download(page);
    const mark = readPngText(png, 'downloaded PNG');
    expect(mark).toMatchObject({ 'faceshifter:method': 'FaceShifter AEI-Net + HEAR-Net', 'faceshifter:checkpoint': G_NAME, 'faceshifter:hear': path.basename(hearFile) });
    const cli = await cliSwap(path.join(root, 'cli_hear.png'), ['--hear-weights', hearFile]);
    const d = diffStats(decodePng(png, 'downloaded PNG'), decodePng(cli, 'yarn swap PNG'));
    console.info(`[web vs yarn swap, reference .pth + HEAR-Net, wasm] max abs pixel difference ${d.max}/255, ${d.differing} values differ`);
    expect(d.max).toBe(0);
  });

  it('reads a 170 MB file with progress, and the page keeps responding', async () => {
    // As large as G_latest.pth: a safetensors file of the wrong kind, so it is read and parsed in full, then refused.
    const big = path.join(root, 'big.safetensors');
    await writeFile(big, concatChunks(encodeSafetensors([['weight', { dtype: 'F32', shape: [42_500_000], data: new Float32Array(42_500_000).fill(0.5) }]])));
    // In the page: the longest gap between timer ticks (a frozen page stops them) and every progress line shown.
    await page.evaluate(`(() => {
      window.__probe = { maxGap: 0, lines: new Set() };
      let last = performance.now();
      window.__probe.timer = setInterval(() => { const now = performance.now(); window.__probe.maxGap = Math.max(window.__probe.maxGap, now - last); last = now; }, 10);
      window.__probe.observer = new MutationObserver(() => window.__probe.lines.add(document.getElementById('weights-status').textContent));
      window.__probe.observer.observe(document.getElementById('weights-status'), { childList: true, characterData: true, subtree: true });
    })()`);
    const start = Date.now();
    await page.setInputFiles('#ref-hear-file', big);
    await settled(page);
    const probe = (await page.evaluate(`(() => {
      clearInterval(window.__probe.timer);
      window.__probe.observer.disconnect();
      return { maxGap: window.__probe.maxGap, lines: [...window.__probe.lines] };
    })()`)) as { maxGap: number; lines: string[] };
    const reading = probe.lines.filter((l) => l.startsWith('Reading the HEAR-Net big.safetensors: '));
    console.info(`[170 MB read] ${Date.now() - start} ms, ${reading.length} progress lines, longest main-thread gap ${Math.round(probe.maxGap)} ms`);
    expect(reading.length).toBeGreaterThan(2);
    expect(reading.at(-1)).toMatch(/: 170\.0 MB of 170\.0 MB \(100%\)$/);
    expect(probe.lines).toContain('Parsing big.safetensors (170.0 MB)\u2026');
    expect(await message(page)).toMatch(/^big\.safetensors: not a HEAR-Net: it holds no network this project knows \(missing down1\.0\.weight, up5\.weight\)/);
    expect(weightLog.some((l) => l.startsWith('[weights] big.safetensors: parsed in a worker'))).toBe(true);
    // Timer ticks kept coming while 170 MB were read and parsed (generous: CI machines are shared).
    expect(probe.maxGap).toBeLessThan(1000);
    // The HEAR-Net opened before stays open, and its field holds it again.
    expect(await text(page, '#ref-hear-name')).toContain(path.basename(hearFile));
    expect(await text(page, '#checkpoint-status')).toContain(`HEAR-Net ${path.basename(hearFile)}`);
  });

  it('a newer pick replaces a read in progress', async () => {
    // Two picks in a row: the first read is aborted (or finishes first); the field holds the second, and it opens.
    await page.setInputFiles('#ref-generator-file', IDENTITY);
    await page.setInputFiles('#ref-generator-file', GENERATOR);
    await settled(page);
    expect(await message(page)).toBe('');
    expect(await text(page, '#ref-generator-name')).toContain(G_NAME);
    expect(await text(page, '#checkpoint-status')).toContain(`AEI-Net ${G_NAME}`);
  });
});
