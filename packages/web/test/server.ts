import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCofferServer, defaultConfig } from '@coffer/server';

/** A real Coffer server, in-process, serving the built bundle at `/` with the dev outbox on. */
export interface RunningServer {
  url: string;
  /** What the server holds, read from its own metadata and blob store (not through the UI). */
  stored(): Promise<{ backups: number; versions: number; blobs: number }>;
  /** Flips one byte in the middle of every stored messages backup (a damaged server copy). */
  damageMessagesBackups(): Promise<number>;
  close(): Promise<void>;
}

export async function startServer(opts: { webDist: string; port: number }): Promise<RunningServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'coffer-web-server-'));
  const config = defaultConfig(dataDir);
  config.host = '127.0.0.1';
  config.port = opts.port;
  config.webDir = opts.webDist;
  config.verification.devOutbox = true;
  const server = await createCofferServer(config, { logger: false, jobs: false });
  const listened = await server.listen();
  // crypto.subtle needs a secure origin: 127.0.0.1 counts (INFRA-NOTES).
  const url = `http://127.0.0.1:${new URL(listened).port}/`;
  return {
    url,
    stored: async () => {
      const db = server.ctx.db;
      const backups = await db
        .selectFrom('backups')
        .select(db.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      const versions = await db
        .selectFrom('backup_versions')
        .select(db.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      let blobs = 0;
      for await (const _ of server.ctx.blobs.list('')) blobs++;
      return { backups: Number(backups.n), versions: Number(versions.n), blobs };
    },
    damageMessagesBackups: async () => {
      const rows = await server.ctx.db.selectFrom('backup_versions').select('blob_key').execute();
      for (const { blob_key } of rows) {
        const { body } = await server.ctx.blobs.get(blob_key);
        const parts: Uint8Array[] = [];
        for await (const c of body) parts.push(c);
        const bytes = Buffer.concat(parts);
        const i = bytes.length >> 1;
        bytes[i] = (bytes[i] ?? 0) ^ 0x01;
        await server.ctx.blobs.put(blob_key, bytes);
      }
      return rows.length;
    },
    close: async () => {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
