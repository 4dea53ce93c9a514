// Connection faults over real sockets (issue 7): a connection dropped mid-upload, a stalled
// connection, slow-loris uploads and headers, and a kept-alive connection gone silent (the server
// must close idle sockets). After each: the previous backup is intact and byte-identical, nothing
// half-written became current, the upload resumes, and every error answer carries a documented
// code. Runs on the embedded store and, in .ci/run's second pass, on PostgreSQL + S3
// (COFFER_TEST_STORAGE=pg-s3). Storage outages are in storage-faults.test.ts.
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startFaultProxy } from '../../test-support/proxy.ts';
import {
  account,
  cleanups,
  current,
  form,
  runCleanups,
  server,
  tusErrorCode,
  upload,
} from './fault-helpers.ts';

afterAll(runCleanups);

/** A raw TCP connection to the server of `url`, for requests no HTTP client would send. */
async function rawSocket(url: URL): Promise<{ sock: Socket; closed: Promise<number> }> {
  const sock = connect(Number(url.port), url.hostname);
  await new Promise<void>((r) => sock.once('connect', () => r()));
  sock.on('error', () => undefined);
  return { sock, closed: new Promise<number>((r) => sock.once('close', () => r(Date.now()))) };
}

/** When the connection closed (a Date.now() time), or -1 if it was still open after 15 s. */
function closeTime(closed: Promise<number>): Promise<number> {
  return Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 15_000))]);
}

describe('connection faults', () => {
  it('a connection dropped mid-upload: previous backup intact, the upload resumes from the server offset', async () => {
    const { ts, base } = await server();
    const proxy = await startFaultProxy({ host: '127.0.0.1', port: Number(new URL(base).port) });
    cleanups.push(() => proxy.close());
    const c = await account(ts, proxy.url);
    const v1 = randomBytes(50_000);
    await upload(await form(c, v1.length), v1);
    const v2 = randomBytes(1_000_000);
    const f = await form(c, v2.length);
    proxy.cutAfterUpBytes(400_000);
    const err = await upload(f, v2).then(
      () => undefined,
      (e: unknown) => e as { url?: string },
    );
    expect(err, 'the cut must fail the upload').toBeDefined();
    expect(tusErrorCode(err)).toBe('network');
    proxy.cutAfterUpBytes(undefined);
    expect((await current(c)).equals(v1)).toBe(true);
    const head = await fetch(`${f.uploadUrl}/${f.uploadId}`, {
      method: 'HEAD',
      headers: { ...f.headers, 'tus-resumable': '1.0.0' },
    });
    const offset = Number(head.headers.get('upload-offset'));
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThan(v2.length);
    const before = proxy.bytesUp;
    await upload(f, v2, `${f.uploadUrl}/${f.uploadId}`);
    expect(proxy.bytesUp - before).toBeLessThan(v2.length - offset + 64 * 1024); // resumed, not restarted
    expect((await current(c)).equals(v2)).toBe(true);
  });

  it('a stalled connection is closed by the server after the idle timeout; the upload then resumes', async () => {
    const idleMs = 1500; // server()'s default limits.idleTimeoutMs
    const { ts, base } = await server({}, undefined, idleMs);
    const proxy = await startFaultProxy({ host: '127.0.0.1', port: Number(new URL(base).port) });
    cleanups.push(() => proxy.close());
    const c = await account(ts, proxy.url);
    const data = randomBytes(600_000);
    const f = await form(c, data.length);
    // The stall is armed before the upload starts and fires at a known byte, whatever the machine's
    // speed: the proxy forwards the tus POST and three 64 KiB PATCHes (each answered before
    // tus-js-client sends the next), then stops forwarding about 30 KiB into the fourth PATCH body.
    // (Mid-body on purpose: the idle timeout is re-armed once a request's headers are in, so the
    // stall must not land in the headers, which take well under 2 KiB per request.)
    const acknowledged = 3 * 64 * 1024;
    const stallAt = acknowledged + 32 * 1024;
    const before = proxy.bytesUp;
    proxy.stallAfterUpBytes(stallAt);
    const outcome = await upload(f, data).then(
      () => 'done',
      (e: unknown) => tusErrorCode(e),
    );
    const stall = proxy.stalled;
    // The stalled path ran: the proxy stopped after exactly stallAt bytes (the rest of the 600 kB
    // could not have reached the server, so the upload cannot have finished)...
    expect(stall, 'the proxy must have stalled the upload').toBeDefined();
    expect(stall!.bytesUp - before).toBe(stallAt);
    // ...and the client saw a dropped connection (no answer, no hang, not success).
    expect(outcome).toBe('network');
    // The server, not the client, closed the idle socket (tus-js-client has no timeout of its own),
    // and only once the idle timeout had passed: socket timeouts never fire early (the 50 ms margin
    // is for timer rounding), and 10 s bounds it from above.
    expect(stall!.closedBy).toBe('target');
    const waited = stall!.closedAt! - stall!.at;
    expect(waited).toBeGreaterThanOrEqual(idleMs - 50);
    expect(waited).toBeLessThan(10_000);
    proxy.setMode('pass');
    // The bytes the server acknowledged before the stall are kept (it may keep part of the stalled
    // PATCH too, never more than the proxy forwarded).
    await new Promise((r) => setTimeout(r, 300)); // the tus lock is released when the request ends
    const head = await fetch(`${f.uploadUrl}/${f.uploadId}`, {
      method: 'HEAD',
      headers: { ...f.headers, 'tus-resumable': '1.0.0' },
    });
    expect(head.status).toBe(200);
    const offset = Number(head.headers.get('upload-offset'));
    expect(offset).toBeGreaterThanOrEqual(acknowledged);
    expect(offset).toBeLessThan(stallAt);
    const resumedFrom = proxy.bytesUp;
    await upload(f, data, `${f.uploadUrl}/${f.uploadId}`);
    expect(proxy.bytesUp - resumedFrom).toBeLessThan(data.length - offset + 64 * 1024); // resumed, not restarted
    expect((await current(c)).equals(data)).toBe(true);
  });

  it('slow-loris: a PATCH that stops sending is cut by the server, and the bytes it sent are kept', async () => {
    const { ts, base } = await server();
    const c = await account(ts, base);
    const data = randomBytes(200_000);
    const f = await form(c, data.length);
    const create = await fetch(f.uploadUrl, {
      method: 'POST',
      headers: { ...f.headers, 'tus-resumable': '1.0.0', 'upload-length': String(data.length) },
    });
    expect(create.status).toBe(201);
    const url = new URL(`${f.uploadUrl}/${f.uploadId}`);
    const { sock, closed } = await rawSocket(url);
    const t0 = Date.now();
    sock.write(
      `PATCH ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: ${f.headers.Authorization ?? f.headers.authorization}\r\n` +
        `Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n` +
        `Content-Length: ${data.length}\r\n\r\n`,
    );
    sock.write(data.subarray(0, 70_000));
    const at = await closeTime(closed);
    sock.destroy();
    expect(at, 'the server must close an idle upload connection').toBeGreaterThan(0);
    expect(at - t0).toBeLessThan(10_000);
    // the upload is not lost: resume from whatever offset the server kept
    await new Promise((r) => setTimeout(r, 300)); // the tus lock is released when the request ends
    await upload(f, data, url.toString());
    expect((await current(c)).equals(data)).toBe(true);
  });

  it('a kept-alive connection that goes silent after a response is closed after the idle timeout', async () => {
    const { base } = await server();
    const { sock, closed } = await rawSocket(new URL(base));
    let received = '';
    let answeredAt = 0;
    sock.on('data', (d) => {
      received += d.toString('latin1');
      if (!answeredAt && received.includes('"status"')) answeredAt = Date.now();
    });
    sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    const at = await closeTime(closed);
    sock.destroy();
    expect(received).toMatch(/^HTTP\/1\.1 200/);
    expect(received.toLowerCase()).not.toContain('connection: close');
    expect(at, 'the silent keep-alive connection was still open after 15 s').toBeGreaterThan(0);
    // limits.idleTimeoutMs is 1.5 s here, so the 5 s floor applies (Node adds 1 s); Fastify's default was 73 s
    expect(received.toLowerCase()).toContain('keep-alive: timeout=5');
    expect(at - answeredAt).toBeGreaterThanOrEqual(4_900);
    expect(at - answeredAt).toBeLessThan(10_000);
  });

  it('slow-loris on headers: a request whose headers never finish is closed', async () => {
    const { base } = await server();
    const { sock, closed } = await rawSocket(new URL(base));
    sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    const at = await closeTime(closed);
    sock.destroy();
    expect(at).toBeGreaterThan(0);
  });
});
