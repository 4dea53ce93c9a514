/**
 * tus on S3 with the PostgreSQL locker: two tus servers that share nothing but PostgreSQL and the
 * bucket (each its own store, S3 client, locker and database session - as two processes would),
 * driven over real sockets with raw tus requests.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { Server as TusServer } from '@tus/server';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  createS3Prefix,
  listenInRange,
  pgBaseUrl,
  type S3Prefix,
} from '../../../../test-support/services.ts';
import { parseS3BlobStoreUrl } from '../../src/storage/blob-store-factory.ts';
import { S3BlobStore } from '../../src/storage/s3-blob-store.ts';
import { S3TusStore } from '../../src/storage/s3-tus-store.ts';
import { PostgresLocker } from '../../src/tus/postgres-locker.ts';

const MiB = 1024 * 1024;
const TUS = { 'Tus-Resumable': '1.0.0' };

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

function gate(): { wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => {
    open = r;
  });
  return { wait, open };
}

interface Node {
  url: string;
  store: S3TusStore;
  locker: PostgresLocker;
  released: string[];
  stop(): Promise<void>;
}

describe('PostgresLocker between two processes', () => {
  const lockers: PostgresLocker[] = [];
  const mk = (timeout = 5000) => {
    const l = new PostgresLocker(pgBaseUrl(), { acquireLockTimeout: timeout, pollMs: 20 });
    lockers.push(l);
    return l;
  };
  afterEach(async () => {
    for (const l of lockers.splice(0)) await l.close();
  });

  it('hands a lock over only after the holder, asked through NOTIFY, lets go', async () => {
    const [a, b] = [mk(), mk()];
    const id = `u${randomBytes(8).toString('hex')}`;
    const lockA = a.newLock(id);
    const asked = gate();
    await lockA.lock(new AbortController().signal, () => asked.open());
    expect(a.held()).toEqual([id]);
    let bHasIt = false;
    const lockB = b.newLock(id);
    const bDone = lockB
      .lock(new AbortController().signal, () => {})
      .then(() => {
        bHasIt = true;
      });
    await asked.wait; // B's request reached A's holder...
    await new Promise((r) => setTimeout(r, 200));
    expect(bHasIt).toBe(false); // ...but B waits until A really unlocks.
    await lockA.unlock();
    await bDone;
    expect(bHasIt).toBe(true);
    expect(b.held()).toEqual([id]);
    // Other ids are independent.
    const other = a.newLock(`${id}x`);
    await other.lock(new AbortController().signal, () => {});
    await other.unlock();
    await lockB.unlock();
  });

  it('times out when the holder never lets go, and recovers the lock when the holder dies', async () => {
    const [a, b] = [mk(), mk(400)];
    const id = `u${randomBytes(8).toString('hex')}`;
    const lost = gate();
    await a.newLock(id).lock(new AbortController().signal, () => lost.open());
    await expect(b.newLock(id).lock(new AbortController().signal, () => {})).rejects.toMatchObject({
      body: 'failed to acquire lock before timeout',
    });
    // Kill A's database session (a crashed process): PostgreSQL frees its locks, A's holders are told.
    const admin = new pg.Client({ connectionString: pgBaseUrl() });
    await admin.connect();
    try {
      await admin.query(
        "select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory' and granted and pid <> pg_backend_pid() and objid = (hashtextextended('coffer:tus:' || $1, 0) & 4294967295)::oid",
        [id],
      );
    } finally {
      await admin.end();
    }
    await lost.wait;
    const lockB = b.newLock(id);
    await lockB.lock(new AbortController().signal, () => {});
    expect(b.held()).toEqual([id]);
    await lockB.unlock();
  });
});

describe('tus uploads on S3 across two processes', () => {
  let prefix: S3Prefix;
  let nodes: Node[] = [];

  async function startNode(): Promise<Node> {
    const store = new S3TusStore({ s3: parseS3BlobStoreUrl(prefix.url) });
    const locker = new PostgresLocker(pgBaseUrl(), { acquireLockTimeout: 15_000, pollMs: 20 });
    const released: string[] = [];
    const tus = new TusServer({ path: '/files', datastore: store, locker, lockDrainTimeout: 200 });
    const server = http.createServer((req, res) => void tus.handle(req, res));
    const port = await listenInRange(server);
    return {
      url: `http://127.0.0.1:${port}/files`,
      store,
      locker,
      released,
      async stop() {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
        await locker.close();
        store.close();
      },
    };
  }

  beforeAll(async () => {
    prefix = await createS3Prefix('tus');
  });
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop();
  });
  afterAll(async () => {
    await prefix?.cleanup();
  });

  async function create(node: Node, length: number): Promise<string> {
    const r = await fetch(node.url, { method: 'POST', headers: { ...TUS, 'Upload-Length': String(length) } });
    expect(r.status).toBe(201);
    const loc = r.headers.get('location')!;
    return loc.slice(loc.lastIndexOf('/') + 1);
  }

  async function offsetOf(node: Node, id: string): Promise<number> {
    const r = await fetch(`${node.url}/${id}`, { method: 'HEAD', headers: TUS });
    expect(r.status).toBe(200);
    return Number(r.headers.get('upload-offset'));
  }

  async function patch(node: Node, id: string, offset: number, body: Uint8Array): Promise<Response> {
    return fetch(`${node.url}/${id}`, {
      method: 'PATCH',
      headers: { ...TUS, 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' },
      body: body as Uint8Array<ArrayBuffer>,
    });
  }

  it('continues on the second process an upload begun on the first, byte-identical', async () => {
    nodes = [await startNode(), await startNode()];
    const [n1, n2] = nodes as [Node, Node];
    const data = randomBytes(7 * MiB + 12_345);
    const id = await create(n1, data.length);
    const r1 = await patch(n1, id, 0, data.subarray(0, 3 * MiB));
    expect(r1.status).toBe(204);
    expect(await offsetOf(n2, id)).toBe(3 * MiB);
    const r2 = await patch(n2, id, 3 * MiB, data.subarray(3 * MiB));
    expect(r2.status).toBe(204);
    expect(Number(r2.headers.get('upload-offset'))).toBe(data.length);
    expect(await offsetOf(n1, id)).toBe(data.length);
    expect((await readAll(await n1.store.read(id))).equals(data)).toBe(true);
    // Objects live under the store prefix: nothing at the bucket root.
    expect(n1.store.keyPrefix).toBe(`${prefix.prefix}tus/`);
    await n2.store.remove(id);
    await expect(n1.store.getUpload(id)).rejects.toMatchObject({ status_code: 404 });
    // remove() of a finished upload deletes its objects (@tus/s3-store alone leaves them behind).
    const blobs = new S3BlobStore(parseS3BlobStoreUrl(prefix.url));
    const left: string[] = [];
    for await (const e of blobs.list('tus/')) left.push(e.key);
    await blobs.close();
    expect(left).toEqual([]);
  });

  it('lets a resumed PATCH on another process take over from a stalled writer, without corruption', async () => {
    nodes = [await startNode(), await startNode()];
    const [n1, n2] = nodes as [Node, Node];
    const data = randomBytes(6 * MiB);
    const id = await create(n1, data.length);

    // Writer 1 sends 1 MiB, then stalls (a half-open connection).
    const stalled = gate();
    const stall = new ReadableStream<Uint8Array>({
      async start(c) {
        c.enqueue(data.subarray(0, MiB));
        await stalled.wait;
        c.close();
      },
    });
    let firstSettled = false;
    const first = fetch(`${n1.url}/${id}`, {
      method: 'PATCH',
      headers: { ...TUS, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
      body: stall,
      duplex: 'half',
    } as RequestInit)
      .then(
        (r) => r.status,
        () => 'failed',
      )
      .finally(() => {
        firstSettled = true;
      });
    await new Promise((r) => setTimeout(r, 500));
    expect(n1.locker.held()).toEqual([id]);

    // The client gives up on that connection and resumes through process 2: HEAD then PATCH.
    // The HEAD needs the lock too: process 1 is asked to release it and its PATCH is cut short.
    // (tus ends a preempted PATCH gracefully: it stores what it received and answers 204.)
    const offset = await offsetOf(n2, id);
    await new Promise((r) => setTimeout(r, 50));
    expect(firstSettled).toBe(true); // writer 1 had finished before writer 2 got the lock
    expect([204, 'failed']).toContain(await first);
    expect(n1.locker.held()).toEqual([]);
    stalled.open();
    expect(offset).toBeGreaterThanOrEqual(0);
    expect(offset).toBeLessThanOrEqual(MiB);
    const rest = await patch(n2, id, offset, data.subarray(offset));
    expect(rest.status).toBe(204);
    expect(await offsetOf(n1, id)).toBe(data.length);
    expect((await readAll(await n2.store.read(id))).equals(data)).toBe(true);
    await n1.store.remove(id);
  });
});
