// SDK behaviours issue 5 asks for that the other suites do not pin down: "no backup found" on its
// own, cancellation mid-upload, the media concurrency limit, the media restore order, and a failed
// key rotation that must leave the old key working. Real server in-process, real sockets.
import http from 'node:http';
import type { MessageModel } from '@coffer/chatstore';
import { afterAll, describe, expect, it } from 'vitest';
import { freePortInRange } from '../../../test-support/services.ts';
import { type Device, makeDevice, startServer } from './harness.ts';
import { startProxy } from './proxy.ts';

const devices: Device[] = [];
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const d of devices) d.close();
  for (const c of cleanups.reverse()) await c();
});

// Ports 31200-31599: clear of the harness (27000-27999), faults.test.ts (27500-27899), the web suite
// (28000-28999), the security/reliability suites (29000-29899) and the bench (30100).
const freePort = () => freePortInRange(31200, 31599);

const id = (name: string) => `${name}-${Math.random().toString(36).slice(2)}@example.org`;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

async function server() {
  const srv = await startServer({}, { port: await freePort() });
  cleanups.push(() => srv.close());
  return srv;
}

async function device(url: string, opts: Parameters<typeof makeDevice>[1] = {}) {
  const d = await makeDevice(url, opts);
  devices.push(d);
  return d;
}

/**
 * A request-level HTTP proxy (tus-js-client talks node:http, not the injected fetch, so uploads are
 * observed here): counts the requests `count` selects that are in flight at once (held `holdMs`
 * before forwarding, so overlapping requests really overlap), and answers 503 to those `fail`
 * selects. Request-level matters: fetch and node:http keep connections alive, so refusing only new
 * connections (proxy.ts `unavailable`) would let pooled ones through.
 */
interface HttpProxy {
  url: string;
  count: ((method: string, path: string) => boolean) | undefined;
  fail: ((method: string, path: string) => boolean) | undefined;
  holdMs: number;
  inFlight: number;
  peak: number;
  counted: number;
  failed: number;
  close(): Promise<void>;
}

const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'upgrade'];
function endToEnd(h: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = { ...h };
  for (const k of HOP_BY_HOP) delete out[k];
  return out;
}

async function startHttpProxy(targetPort: number): Promise<HttpProxy> {
  const port = await freePort();
  const agent = new http.Agent({ keepAlive: false });
  const p: HttpProxy = {
    url: `http://127.0.0.1:${port}`,
    count: undefined,
    fail: undefined,
    holdMs: 0,
    inFlight: 0,
    peak: 0,
    counted: 0,
    failed: 0,
    close: async () => {},
  };
  const srv = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    if (p.fail?.(method, path)) {
      p.failed++;
      req.resume();
      res.writeHead(503, { 'content-length': '0', connection: 'close' });
      res.end();
      return;
    }
    const counted = p.count?.(method, path) ?? false;
    if (counted) {
      p.counted++;
      p.inFlight++;
      p.peak = Math.max(p.peak, p.inFlight);
      let done = false;
      res.on('close', () => {
        if (!done) {
          done = true;
          p.inFlight--;
        }
      });
    }
    const forward = () => {
      const up = http.request(
        { host: '127.0.0.1', port: targetPort, method, path, headers: endToEnd(req.headers), agent },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, endToEnd(upRes.headers));
          upRes.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      req.pipe(up);
    };
    if (counted && p.holdMs > 0) setTimeout(forward, p.holdMs);
    else forward();
  });
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
  p.close = async () => {
    srv.closeAllConnections();
    await new Promise<void>((r) => srv.close(() => r()));
    agent.destroy();
  };
  cleanups.push(() => p.close());
  return p;
}

/** `n` plain text messages appended at the end of the history (a new message arrived). */
function appendTextMessages(d: Device, n: number, label: string): void {
  const template = [...d.store.messages()].find(
    (m) => m.kind === 'standard' && m.body !== null && m.attachments.length === 0,
  )!;
  const now = Date.now();
  const fresh: MessageModel[] = Array.from({ length: n }, (_, i) => ({
    ...template,
    dateSent: now + i,
    dateReceived: now + i + 10,
    body: `${label} ${i}`,
    quote: null,
    reactions: [],
    revisions: [],
    attachments: [],
  }));
  d.store.appendMessages(fresh);
}

describe('SDK edges', () => {
  it('no backup yet: restoring with the right key says COFFER_ERR_NO_BACKUP_FOUND and changes nothing', async () => {
    const srv = await server();
    const ident = id('nobackup');
    const a = await device(srv.url, { generate: { chats: 2, messages: 50, media: 0, seed: 'nb' } });
    await a.client.registerWithDevOutbox(ident);
    const { recoveryKey } = await a.client.enableBackups(); // backup id committed, nothing uploaded
    const b = await device(srv.url);
    await b.client.registerWithDevOutbox(ident);
    const before = await b.store.digest({ media: true });
    await expect(b.client.restore({ recoveryKey })).rejects.toMatchObject({
      code: 'COFFER_ERR_NO_BACKUP_FOUND',
    });
    expect(await b.store.digest({ media: true })).toBe(before);
    expect((await b.client.status()).enabled).toBe(false);
  });

  it('cancelling mid-upload rejects with COFFER_ERR_CANCELLED and the server keeps the previous backup', async () => {
    const srv = await server();
    // 1 MB/s upstream: the ~1 MB sealed backup is still uploading when we abort.
    const proxy = await startProxy(
      { host: '127.0.0.1', port: srv.port },
      { port: await freePort(), upBytesPerSecond: 1_000_000 },
    );
    cleanups.push(() => proxy.close());
    const ident = id('cancel');
    const a = await device(proxy.url, { generate: { chats: 4, messages: 20_000, media: 0, seed: 'cancel' } });
    await a.client.registerWithDevOutbox(ident);
    const { recoveryKey } = await a.client.enableBackups();
    const first = await a.client.backupNow();
    expect(first.bytes).toBeGreaterThan(300_000);
    const firstDigest = await a.store.digest();
    const lastBackup = (await a.client.status()).lastBackup;

    appendTextMessages(a, 25, 'after the first backup');
    const secondDigest = await a.store.digest();
    expect(secondDigest).not.toBe(firstDigest);

    const controller = new AbortController();
    let abortedAt: { bytes: number; totalBytes: number } | undefined;
    const phasesAfterAbort: string[] = [];
    await expect(
      a.client.backupNow({
        signal: controller.signal,
        onProgress: (e) => {
          if (abortedAt) {
            phasesAfterAbort.push(e.phase);
            return;
          }
          if (e.phase === 'upload' && e.bytes && e.totalBytes && e.bytes < e.totalBytes) {
            abortedAt = { bytes: e.bytes, totalBytes: e.totalBytes };
            controller.abort();
          }
        },
      }),
    ).rejects.toMatchObject({ code: 'COFFER_ERR_CANCELLED' });
    // Aborted while bytes were on the wire, not before the upload started or after it finished.
    expect(abortedAt).toBeDefined();
    expect(abortedAt!.bytes).toBeGreaterThan(0);
    expect(abortedAt!.bytes).toBeLessThan(abortedAt!.totalBytes);
    expect(phasesAfterAbort).not.toContain('media');
    // A cancelled run is not recorded as a backup.
    expect((await a.client.status()).lastBackup).toEqual(lastBackup);

    // A new device gets the first backup's history, not the cancelled one's.
    const b = await device(srv.url);
    await b.client.registerWithDevOutbox(ident);
    const r = await b.client.restore({ recoveryKey });
    await r.media;
    expect(r.chatItems).toBe(20_000);
    const restored = await b.store.digest();
    expect(restored).toBe(firstDigest);
    expect(restored).not.toBe(secondDigest);
  });

  it('media uploads never run more than mediaConcurrency at once (and do run in parallel)', async () => {
    const srv = await server();
    const hp = await startHttpProxy(srv.port);
    const a = await device(hp.url, {
      generate: { chats: 3, messages: 400, media: 12, mediaSize: 2048, seed: 'concurrency' },
      mediaConcurrency: 2,
    });
    await a.client.registerWithDevOutbox(id('concurrency'));
    await a.client.enableBackups();
    // Every request of a media job: its upload form (fetch) and its tus requests (node:http). A job
    // makes them one after another, so requests in flight at once = jobs running at once. The
    // messages upload (also /v1/uploads) finishes before the media phase starts.
    hp.count = (_m, path) =>
      path.startsWith('/v1/archives/media/upload/form') || path.startsWith('/v1/uploads');
    hp.holdMs = 120;
    const r = await a.client.backupNow();
    const media = a.store.listMedia().length;
    expect(media).toBeGreaterThanOrEqual(12);
    expect(r.media.uploaded).toBeGreaterThanOrEqual(12); // files, plus the thumbnails of images
    // form + tus creation + tus PATCH per media object, plus the messages upload.
    expect(hp.counted).toBeGreaterThanOrEqual(3 * r.media.uploaded);
    expect(hp.peak).toBeLessThanOrEqual(2);
    expect(hp.peak).toBeGreaterThanOrEqual(2);
  });

  it('media restore: every thumbnail before any full file, each most recent message first', async () => {
    const srv = await server();
    const ident = id('order');
    const a = await device(srv.url, {
      generate: { chats: 4, messages: 600, media: 12, mediaSize: 2048, seed: 'order' },
    });
    await a.client.registerWithDevOutbox(ident);
    const { recoveryKey } = await a.client.enableBackups();
    await a.client.backupNow();

    const b = await device(srv.url, { mediaConcurrency: 1 });
    await b.client.registerWithDevOutbox(ident);
    const writes: Array<{ hash: string; thumbnail: boolean }> = [];
    const writeMedia = b.store.writeMedia.bind(b.store);
    b.store.writeMedia = async (plaintextHash, bytes, thumbnail = false) => {
      writes.push({ hash: hex(plaintextHash), thumbnail });
      return writeMedia(plaintextHash, bytes, thumbnail);
    };
    const r = await b.client.restore({ recoveryKey });
    const m = await r.media;
    expect(m.failed).toBe(0);
    expect(await b.store.digest({ media: true })).toBe(await a.store.digest({ media: true }));

    // Expected order from the restored messages themselves: each media by the newest message that
    // uses it, newest first (ties by plaintext hash, as the reference store lists them).
    const newest = new Map<string, number>();
    for (const msg of b.store.messages()) {
      for (const att of msg.attachments) {
        const h = hex(att.plaintextHash);
        newest.set(h, Math.max(newest.get(h) ?? Number.NEGATIVE_INFINITY, msg.dateSent));
      }
    }
    const expected = [...newest.entries()]
      .sort(([ha, ta], [hb, tb]) => tb - ta || (ha < hb ? -1 : ha > hb ? 1 : 0))
      .map(([h]) => h);
    // The order is not one a hash-sorted or oldest-first restore would also produce.
    expect(expected).not.toEqual([...expected].sort());

    // What the old device had (and so backed up): media files (attachments and stickers), and
    // thumbnails of images.
    const onA = async (thumbnail: boolean) => {
      const out: string[] = [];
      for (const h of expected) if (await a.store.hasMedia(Buffer.from(h, 'hex'), thumbnail)) out.push(h);
      return out;
    };
    const expectedFiles = await onA(false);
    const expectedThumbs = await onA(true);
    expect(expectedFiles.length).toBeGreaterThanOrEqual(12);
    expect(expectedThumbs.length).toBeGreaterThan(1);

    const firstFile = writes.findIndex((w) => !w.thumbnail);
    const lastThumb = writes.map((w) => w.thumbnail).lastIndexOf(true);
    expect(lastThumb).toBeLessThan(firstFile);
    expect(writes.filter((w) => !w.thumbnail).map((w) => w.hash)).toEqual(expectedFiles);
    expect(writes.filter((w) => w.thumbnail).map((w) => w.hash)).toEqual(expectedThumbs);
  });

  it('a rotation whose upload fails rejects, keeps the old key, and the old key still restores', async () => {
    const srv = await server();
    const hp = await startHttpProxy(srv.port);
    const ident = id('rotate-fail');
    const a = await device(hp.url, {
      generate: { chats: 3, messages: 800, media: 3, mediaSize: 2048, seed: 'rotate-fail' },
      uploadRetryDelays: [50, 100],
    });
    await a.client.registerWithDevOutbox(ident);
    const { recoveryKey: oldKey } = await a.client.enableBackups();
    await a.client.backupNow();

    // Before the rotation does anything: the server is unreachable (every request 503).
    hp.fail = () => true;
    await expect(a.client.rotateRecoveryKey()).rejects.toMatchObject({ code: 'COFFER_ERR_NETWORK' });
    expect(hp.failed).toBeGreaterThan(0);

    // Mid-rotation: the new backup id is registered and the new backup sealed, then its upload fails.
    hp.failed = 0;
    hp.fail = (_m, path) => path.startsWith('/v1/uploads');
    const phases = new Set<string>();
    await expect(
      a.client.rotateRecoveryKey({ onProgress: (e) => phases.add(e.phase) }),
    ).rejects.toMatchObject({
      code: 'COFFER_ERR_NETWORK',
    });
    expect(phases.has('upload')).toBe(true);
    expect(hp.failed).toBeGreaterThan(0);
    hp.fail = undefined;

    expect(await a.client.confirmRecoveryKey(oldKey)).toBe(true);
    const b = await device(srv.url);
    await b.client.registerWithDevOutbox(ident);
    const r = await b.client.restore({ recoveryKey: oldKey });
    expect((await r.media).failed).toBe(0);
    expect(await b.store.digest({ media: true })).toBe(await a.store.digest({ media: true }));
    // And the device still backs up under the old key.
    await a.client.backupNow();
    expect(await a.client.confirmRecoveryKey(oldKey)).toBe(true);
  });
});
