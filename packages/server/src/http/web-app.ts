// Serves the web app's built bundle (packages/web/dist) at / when it exists: static files with a
// fallback to index.html for client-side routes. API paths are never shadowed.
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

export function serveWebApp(app: FastifyInstance, dir: string): void {
  const root = path.resolve(dir);
  app.get('/*', { schema: { hide: true } }, async (req, reply) => {
    const urlPath = decodeURIComponent((req.url.split('?')[0] ?? '/').replace(/^\/+/, ''));
    let file = path.resolve(root, urlPath || 'index.html');
    if (!file.startsWith(root + path.sep) && file !== root) file = path.join(root, 'index.html');
    let st = fs.statSync(file, { throwIfNoEntry: false });
    if (!st?.isFile()) {
      if (urlPath.startsWith('v1/')) {
        return reply
          .status(404)
          .send({ error: { code: 'COFFER_ERR_NOT_FOUND', message: 'no such endpoint' } });
      }
      file = path.join(root, 'index.html');
      st = fs.statSync(file, { throwIfNoEntry: false });
      if (!st?.isFile())
        return reply.status(404).send({ error: { code: 'COFFER_ERR_NOT_FOUND', message: 'no such file' } });
    }
    reply.header('content-type', TYPES[path.extname(file)] ?? 'application/octet-stream');
    return reply.send(fs.createReadStream(file));
  });
}
