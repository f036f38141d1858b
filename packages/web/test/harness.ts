import { createReadStream } from 'node:fs';
import { mkdtemp, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type LaunchOptions } from 'playwright-core';

/**
 * What the browser tests and the measurement script share: building the app as `yarn web:build` does, serving it
 * (and test files beside it) from 127.0.0.1, and Debian's chromium driven by playwright-core.
 */

export const WEB_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const REPO_ROOT = path.resolve(WEB_ROOT, '..', '..');

/**
 * Builds the app into a fresh temporary folder (the same Vite config as `yarn web:build`); returns the folder.
 * FACESHIFTER_WEB_DIST names an app already built (CI builds it with `yarn web:build` first) to use instead.
 */
export async function buildApp(outDir?: string): Promise<{ dir: string; built: boolean }> {
  const given = process.env.FACESHIFTER_WEB_DIST;
  if (given && !outDir) {
    const dir = path.resolve(REPO_ROOT, given);
    try {
      await stat(path.join(dir, 'index.html'));
    } catch {
      throw new Error(`FACESHIFTER_WEB_DIST=${given}: no built app there (no index.html); run \`yarn web:build\` first, or unset it`);
    }
    return { dir, built: false };
  }
  const { build } = await import('vite');
  const out = outDir ?? (await mkdtemp(path.join(tmpdir(), 'faceshifter-web-')));
  await build({ configFile: path.join(WEB_ROOT, 'vite.config.ts'), logLevel: 'warn', build: { outDir: out, emptyOutDir: true } });
  return { dir: out, built: true };
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.yaml': 'text/yaml; charset=utf-8',
};

export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

/**
 * A static file server on 127.0.0.1 (a free port): `/` is `root`, and each `mounts` key (e.g. `/runs/`) another
 * folder. Paths cannot leave their folder.
 */
export async function serveStatic(root: string, mounts: Record<string, string> = {}): Promise<StaticServer> {
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
      const mount = Object.keys(mounts).find((m) => url.startsWith(m));
      const base = mount ? mounts[mount]! : root;
      const rel = mount ? url.slice(mount.length) : url.slice(1);
      const file = path.resolve(base, rel || 'index.html');
      if (file !== base && !file.startsWith(base + path.sep)) {
        res.writeHead(403).end();
        return;
      }
      try {
        const s = await stat(file);
        const target = s.isDirectory() ? path.join(file, 'index.html') : file;
        const size = s.isDirectory() ? (await stat(target)).size : s.size;
        res.writeHead(200, { 'Content-Type': CONTENT_TYPES[path.extname(target)] ?? 'application/octet-stream', 'Content-Length': size, 'Cache-Control': 'no-store' });
        createReadStream(target).pipe(res);
      } catch {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end(`not found: ${url}`);
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('static server: no TCP address');
  return {
    url: `http://127.0.0.1:${address.port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * A page expression: true when the app has no action queued or running (it counts them on <body data-pending>).
 * A string, since it runs in the page, not here.
 */
export const PAGE_SETTLED = "document.body.dataset.pending === '0'";

/** Debian's chromium (the package .ci/run installs); CHROMIUM_PATH overrides it. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Headless chromium, no sandbox (CI runs as root), no background networking; `extraArgs` e.g. to enable WebGPU. */
export async function launchChromium(extraArgs: string[] = [], options: LaunchOptions = {}): Promise<Browser> {
  try {
    await stat(CHROMIUM);
  } catch {
    throw new Error(`${CHROMIUM}: no chromium here; install Debian's chromium (apt-get install chromium, as .ci/run does) or set CHROMIUM_PATH`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-default-apps', '--no-first-run', ...extraArgs],
    ...options,
  });
}
