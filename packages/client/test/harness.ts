// Test harness: a real Coffer server in-process on a loopback port (27000-27999), and devices
// (a reference chat store + a profile key store + a CofferClient).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateIntoStore, SqliteChatStore } from '@coffer/chatstore';
import { type CofferServer, createCofferServer, DevSender, loadConfig } from '@coffer/server';
import { CofferClient, type CofferClientOptions } from '../src/index.ts';
import { FileKeyStore, nodePlatform } from '../src/node.ts';

let nextPort = 27000 + Math.floor(Math.random() * 400) + (process.pid % 7) * 80;

export interface TestServer {
  url: string;
  dir: string;
  port: number;
  server: CofferServer;
  close(): Promise<void>;
}

export async function startServer(
  overrides: Record<string, unknown> = {},
  opts: { dir?: string; port?: number } = {},
): Promise<TestServer> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'coffer-e2e-server-'));
  const port = opts.port ?? nextPort++;
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: dir,
      host: '127.0.0.1',
      port,
      credentials: { keyBits: 1024 },
      verification: { devOutbox: true },
      ...overrides,
    } as never,
  });
  const server = await createCofferServer(config, {
    logger: false,
    jobs: false,
    sender: new DevSender(false),
  });
  await server.listen();
  return {
    url: `http://127.0.0.1:${port}`,
    dir,
    port,
    server,
    async close() {
      await server.close();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Device {
  dir: string;
  store: SqliteChatStore;
  keys: FileKeyStore;
  client: CofferClient;
  close(): void;
}

export async function makeDevice(
  serverUrl: string | undefined,
  opts: Partial<CofferClientOptions> & { generate?: Parameters<typeof generateIntoStore>[1] } = {},
): Promise<Device> {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-e2e-device-'));
  const store = await SqliteChatStore.open(join(dir, 'chats'));
  if (opts.generate) await generateIntoStore(store, opts.generate);
  const keys = new FileKeyStore(join(dir, 'keys'));
  const client = new CofferClient({
    store,
    keyStore: keys,
    ...(serverUrl ? { serverUrl } : {}),
    platform: nodePlatform(),
    uploadRetryDelays: [100, 200, 400, 800, 1600, 3200],
    ...opts,
  });
  return {
    dir,
    store,
    keys,
    client,
    close() {
      client.stopSchedule();
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
