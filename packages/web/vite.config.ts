import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

// The bundle is self-contained: no CDN, no web fonts, no analytics. Relative asset URLs ('./')
// so `coffer serve` can mount it at `/` (or under a prefix) without rebuilding.
export default defineConfig({
  root: here,
  base: './',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
  server: {
    port: 28173,
    strictPort: true,
    // `npm run dev -w @coffer/web` talks to a local `coffer serve` through this proxy.
    proxy: { '/v1': process.env.COFFER_DEV_SERVER ?? 'http://127.0.0.1:8080' },
  },
});
