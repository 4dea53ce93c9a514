import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));
const ownSrc = fileURLToPath(new URL('./src/', import.meta.url));
const STUB = '\0coffer-node-seam:';

/**
 * The SDK packages keep Node fast paths (node:crypto, node:zlib, worker threads, node:fs) behind
 * lazily imported modules that browsers never load (@coffer/crypto platform.ts picks the web
 * platform when there is no `process`). Rollup still bundles those modules, so their Node imports
 * resolve here to a stub that throws if anything ever calls it. The app's own code may not import
 * Node modules at all: that is a build error.
 */
function nodeSeamStub(): Plugin {
  return {
    name: 'coffer-node-seam-stub',
    enforce: 'pre',
    apply: 'build',
    resolveId(id, importer) {
      if (!id.startsWith('node:')) return null;
      if (importer?.startsWith(ownSrc)) {
        this.error(`${importer} imports ${id}: the web app must stay browser-only`);
      }
      return { id: `${STUB}${id}`, syntheticNamedExports: '__exports' };
    },
    load(id) {
      if (!id.startsWith(STUB)) return null;
      const name = JSON.stringify(id.slice(STUB.length));
      return `const fail = () => { throw new Error(${name} + ' is not available in browsers'); };
const stub = new Proxy(fail, { get: (_t, p) => (p === 'then' ? undefined : stub), apply: fail, construct: fail });
export const __exports = stub;
export default stub;`;
    },
  };
}

// The bundle is self-contained: no CDN, no web fonts, no analytics. Relative asset URLs ('./')
// so `coffer serve` can mount it at `/` (or under a prefix) without rebuilding.
export default defineConfig({
  root: here,
  base: './',
  plugins: [nodeSeamStub(), react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    // React + the SDK (crypto, protocol schemas, tus) make one ~870 kB chunk (~215 kB gzip).
    chunkSizeWarningLimit: 1200,
  },
  server: {
    port: 28173,
    strictPort: true,
    // `npm run dev -w @coffer/web` talks to a local `coffer serve` through this proxy.
    proxy: { '/v1': process.env.COFFER_DEV_SERVER ?? 'http://127.0.0.1:8080' },
  },
});
