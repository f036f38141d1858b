/**
 * Measures the web app in headless chromium: the bundle sizes of the build, and the time of a swap per backend
 * (wasm, webgl, webgpu: whichever this browser offers), and writes a screenshot of the app after a swap.
 *
 *   node --import tsx packages/web/scripts/measure.ts [--checkpoint <run or checkpoint folder>] [--screenshot docs/web-app.png]
 *
 * The page opens --checkpoint as a user does (the folder input). Without it, a randomly initialised tiny checkpoint
 * is used (the 64 px tiny model, like a trained configs/aei-tiny.yaml run). Speed is measured here, never asserted
 * in a test. Without a GPU, webgl and webgpu run on SwiftShader (CPU emulation), so their figures say that they
 * work, not how fast a GPU is.
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { selectBackend } from '@faceshifter/core/node';
import { AEI_CHECKPOINT, makeTinyRuns } from '../test/fixtures.js';
import { buildApp, launchChromium, PAGE_SETTLED, REPO_ROOT, serveStatic } from '../test/harness.js';

/** A page expression: the WebGPU adapter's vendor and architecture, or null. */
const WEBGPU_ADAPTER = `(async () => {
  const a = navigator.gpu ? await navigator.gpu.requestAdapter() : null;
  return a && a.info ? (a.info.vendor + ' ' + a.info.architecture).trim() : null;
})()`;

const FACES = path.join(REPO_ROOT, 'datasets', 'embedded', 'faces');
const SOURCE = path.join(FACES, 'face-api-sample1_f1.png');
const TARGET = path.join(FACES, 'human-faceid_f0.png');
const SWAPS = 4;

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

async function walk(dir: string, base = dir): Promise<{ rel: string; bytes: number; file: string }[]> {
  const out: { rel: string; bytes: number; file: string }[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(file, base)));
    else out.push({ rel: path.relative(base, file).split(path.sep).join('/'), bytes: (await stat(file)).size, file });
  }
  return out;
}

async function bundleSizes(dir: string): Promise<Record<string, { files: number; bytes: number; gzip: number }>> {
  const groups: Record<string, { files: number; bytes: number; gzip: number }> = {};
  for (const f of await walk(dir)) {
    const kind = f.rel.startsWith('models/') ? 'model files' : f.rel.startsWith('tfjs-wasm/') ? 'wasm' : f.rel.endsWith('.js') ? 'JS' : 'HTML + CSS';
    const g = (groups[kind] ??= { files: 0, bytes: 0, gzip: 0 });
    g.files++;
    g.bytes += f.bytes;
    g.gzip += gzipSync(await readFile(f.file)).length;
  }
  return groups;
}

const mb = (n: number): string => `${(n / 1e6).toFixed(2)} MB`;

async function main(): Promise<void> {
  process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
  process.env.XDG_RUNTIME_DIR ??= tmpdir();
  await selectBackend('wasm', { log: () => {} });
  const scratch = await mkdtemp(path.join(tmpdir(), 'faceshifter-web-measure-'));
  const app = await buildApp();
  const given = arg('checkpoint');
  // The folder the page opens, as a user picks it: a run (runs/<name>) or one of its checkpoints.
  let folder: string;
  if (given) folder = path.resolve(given);
  else {
    await makeTinyRuns(path.join(scratch, 'runs'));
    folder = path.join(scratch, 'runs', path.dirname(path.dirname(AEI_CHECKPOINT)));
  }
  const server = await serveStatic(app.dir);
  const sizes = await bundleSizes(app.dir);
  const results: Record<string, unknown>[] = [];
  const screenshot = arg('screenshot');
  const browser = await launchChromium(['--enable-unsafe-webgpu', '--enable-features=Vulkan']);
  const chromiumVersion = browser.version();
  try {
    for (const backend of (arg('backends') ?? 'wasm,webgl,webgpu').split(',')) {
      const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
      try {
        const page = await context.newPage();
        page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
        const settled = (): Promise<unknown> => page.waitForFunction(PAGE_SETTLED, undefined, { timeout: Number(arg('timeout') ?? 300) * 1000 });
        await page.goto(`${server.url}?backend=${backend}`);
        await settled();
        await page.setInputFiles('#checkpoint-folder', folder);
        await settled();
        const used = await page.locator('#backend-used').getAttribute('data-backend');
        const message = (await page.locator('#message').isVisible()) ? await page.locator('#message').textContent() : null;
        if (used !== backend || message) {
          results.push({ backend, available: false, note: message ?? `the page runs ${used}` });
          continue;
        }
        await page.setInputFiles('#source-file', SOURCE);
        await page.setInputFiles('#target-file', TARGET);
        await settled();
        const firstDetect = Number(await page.locator('#target-info').getAttribute('data-ms'));
        const swaps: number[] = [];
        for (let i = 0; i < SWAPS; i++) {
          await page.click('#swap');
          await settled();
          swaps.push(Number(await page.locator('#result-info').getAttribute('data-ms')));
        }
        await page.setInputFiles('#target-file', TARGET);
        await settled();
        const detect = Number(await page.locator('#target-info').getAttribute('data-ms'));
        await page.click('#swap');
        await settled();
        const adapter = backend === 'webgpu' ? await page.evaluate(WEBGPU_ADAPTER) : null;
        const later = swaps.slice(1).sort((a, b) => a - b);
        results.push({
          backend,
          available: true,
          firstSwapMs: Math.round(swaps[0]!),
          swapMsMedian: Math.round(later[Math.floor(later.length / 2)]!),
          swapsMs: swaps.map(Math.round),
          firstDetectTargetMs: Math.round(firstDetect),
          detectTargetMs: Math.round(detect),
          ...(adapter ? { adapter } : {}),
        });
        if (screenshot && backend === 'wasm') {
          const png = await page.screenshot({ fullPage: true });
          // A 64-colour palette keeps the README's picture small; the app's flat UI loses nothing visible.
          const small = await sharp(png).png({ palette: true, colours: 64, effort: 10, compressionLevel: 9 }).toBuffer();
          await writeFile(path.resolve(screenshot), small);
          console.error(`[measure] screenshot ${screenshot}: ${(small.length / 1024).toFixed(0)} KiB`);
        }
      } catch (e) {
        results.push({ backend, available: false, note: e instanceof Error ? e.message.split('\n')[0] : String(e) });
      } finally {
        await context.close();
      }
    }
  } finally {
    await browser.close();
    await server.close();
    if (app.built) await rm(app.dir, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  }
  const report = { checkpoint: given ?? `tiny, random weights (${AEI_CHECKPOINT})`, chromium: chromiumVersion, sizes, results };
  console.log(JSON.stringify(report, null, 2));
  console.log('\n| part | files | size | gzip |\n|---|---|---|---|');
  for (const [kind, g] of Object.entries(sizes)) console.log(`| ${kind} | ${g.files} | ${mb(g.bytes)} | ${mb(g.gzip)} |`);
  console.log('\n| backend | first swap | swap (median of later) | target detection (first / later) |\n|---|---|---|---|');
  for (const r of results) {
    console.log(
      r.available
        ? `| ${r.backend}${r.adapter ? ` (${r.adapter})` : ''} | ${r.firstSwapMs} ms | ${r.swapMsMedian} ms | ${r.firstDetectTargetMs} / ${r.detectTargetMs} ms |`
        : `| ${r.backend} | unavailable: ${r.note} | | |`,
    );
  }
}

await main();
