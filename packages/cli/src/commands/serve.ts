// `coffer serve`: runs the whole server in one process (embedded default: SQLite + files under
// ./data, a lock on the folder), prints its URL, and shuts down gracefully on SIGINT/SIGTERM.
// Also serves the web app's built bundle at / when packages/web/dist exists.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { createCofferServer, DeepPartial, ServerConfig } from '@coffer/server';
import type { Command } from 'commander';

interface ServeOptions {
  data?: string;
  port?: string;
  host?: string;
  config?: string;
  publicUrl?: string;
  db?: string;
  blobs?: string;
  devOutbox?: boolean;
  web?: string | false;
}

function defaultWebDir(): string | undefined {
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web/dist');
  return fs.existsSync(path.join(dir, 'index.html')) ? dir : undefined;
}

// The server (Fastify, S3 and PostgreSQL drivers) is imported when this command runs, not at
// start-up: the client commands never load it (bench/README.md, performance notes > Memory).
export function register(program: Command): void {
  program
    .command('serve')
    .description('run the Coffer backup server (embedded: SQLite + files in the data folder)')
    .option('--data <dir>', 'data folder (env COFFER_DATA; default ./data)')
    .option('--port <port>', 'TCP port (env COFFER_PORT; default 8080)')
    .option('--host <host>', 'interface to listen on (env COFFER_HOST; default 127.0.0.1)')
    .option('--config <file>', 'JSON config file (see docs/operating.md; env COFFER_CONFIG)')
    .option('--public-url <url>', 'URL clients use to reach this server (env COFFER_PUBLIC_URL)')
    // Scale-out (docs/operating.md): keep secrets out of argv - pass passwords and S3 keys by env.
    .option('--db <url>', 'metadata database: sqlite:FILE or postgres://... (env COFFER_DATABASE_URL)')
    .option('--blobs <url>', 'blob store: file:DIR or s3://BUCKET?endpoint=... (env COFFER_BLOB_URL)')
    .option(
      '--dev-outbox',
      'enable the development outbox endpoint for verification codes (never in production)',
    )
    .option('--web <dir>', 'serve this built web app at / (default: packages/web/dist when it exists)')
    .option('--no-web', 'do not serve the web app')
    .action(async (o: ServeOptions) => {
      const overrides: DeepPartial<ServerConfig> = {};
      if (o.data) overrides.dataDir = o.data;
      if (o.port !== undefined) overrides.port = Number(o.port);
      if (o.host) overrides.host = o.host;
      if (o.publicUrl) overrides.publicUrl = o.publicUrl;
      if (o.db) overrides.databaseUrl = o.db;
      if (o.blobs) overrides.blobUrl = o.blobs;
      if (o.devOutbox) overrides.verification = { devOutbox: true };
      const webDir = o.web === false ? undefined : (o.web ?? defaultWebDir());
      if (webDir) overrides.webDir = webDir;
      const file = o.config ?? process.env.COFFER_CONFIG;
      const { createCofferServer, loadConfig } = await import('@coffer/server');
      const config = loadConfig({ ...(file ? { file } : {}), overrides });
      const faultDelay = Number(process.env.COFFER_FAULT_DELAY_COMMIT_MS ?? 0);
      let server: Awaited<ReturnType<typeof createCofferServer>>;
      try {
        server = await createCofferServer(config, faultDelay > 0 ? { faultDelayCommitMs: faultDelay } : {});
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (!code?.startsWith('COFFER_ERR_')) throw err;
        process.stderr.write(`${code}: ${(err as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      const url = await server.listen();
      process.stdout.write(`Coffer server listening on ${url}\n`);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          process.stdout.write(`received ${signal}, shutting down\n`);
          server.close().then(resolve, (err: unknown) => {
            process.stderr.write(`shutdown error: ${String(err)}\n`);
            resolve();
          });
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
    });
}
