import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { staticModelFiles } from './vite/static_files.js';

// Cross-origin isolation (COOP + COEP) makes SharedArrayBuffer available, which the wasm backend's threads need; the
// page loads nothing from other origins, so require-corp blocks nothing. Hosts of the built app must send the same.
const CROSS_ORIGIN_ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

const source = (pkg: string): string => fileURLToPath(new URL(`../${pkg}/src/index.ts`, import.meta.url));

// `yarn web` serves this folder on localhost; `yarn web:build` writes packages/web/dist, a static folder with
// relative URLs (base './'), so it can be hosted under any path or opened from any static server.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  resolve: {
    // The app bundles the core's sources (as the tests run them), so nothing must be built first.
    alias: [{ find: /^@faceshifter\/core$/, replacement: source('core') }],
  },
  plugins: [staticModelFiles()],
  server: { host: '127.0.0.1', port: 5173, headers: CROSS_ORIGIN_ISOLATION },
  preview: { host: '127.0.0.1', port: 4173, headers: CROSS_ORIGIN_ISOLATION },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // tfjs alone is over 1 MB minified; the warning would fire on every build without saying anything new.
    chunkSizeWarningLimit: 4000,
    reportCompressedSize: false,
  },
});
