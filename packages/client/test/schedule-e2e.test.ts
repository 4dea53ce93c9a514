import { afterAll, describe, expect, it } from 'vitest';
import type { ProgressEvent, Timers } from '../src/index.ts';
import { type Device, makeDevice, startServer, type TestServer } from './harness.ts';
import { startProxy } from './proxy.ts';

const devices: Device[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const d of devices) d.close();
  for (const c of cleanups.reverse()) await c();
});

describe('scheduled backups against a server', () => {
  it('a fresh backup is only refreshed; a stale one runs; network failures retry with backoff', async () => {
    const port = 27700 + (process.pid % 40) * 4;
    const srv: TestServer = await startServer({}, { port });
    cleanups.push(() => srv.close());
    let proxy = await startProxy({ host: '127.0.0.1', port: srv.port }, { port: port + 1 });
    cleanups.push(() => proxy.close());
    const delays: number[] = [];
    // Timers that record the backoff delay and fire after a short real pause.
    const timers: Timers = {
      setTimeout: (fn, ms) => {
        delays.push(ms);
        return setTimeout(fn, Math.min(ms, 300));
      },
      clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    };
    const a = await makeDevice(proxy.url, {
      generate: { chats: 2, messages: 300, media: 2, seed: 'sched', mediaSize: 1000 },
      timers,
    });
    devices.push(a);
    await a.client.registerWithDevOutbox(`sched-${Date.now()}@example.org`);
    await a.client.enableBackups();

    const first = await a.client.runScheduledBackup();
    expect(first.ran).toBe(true);
    // A fresh backup is not made again, but the server copy is refreshed so retention keeps it:
    // the refresh days, set back here, are today again after the run (both backup ids).
    const db = srv.server.ctx.db;
    await db.updateTable('backups').set({ last_refresh: 0 }).execute();
    const fresh = await a.client.runScheduledBackup();
    expect(fresh).toEqual({ ran: false, reason: 'fresh' });
    const refreshed = await db.selectFrom('backups').select('last_refresh').execute();
    expect(refreshed).toHaveLength(2);
    const today = Math.floor(Date.now() / 86_400_000) * 86_400_000;
    for (const row of refreshed) expect(Number(row.last_refresh)).toBeGreaterThanOrEqual(today - 86_400_000);

    // Network down: the run fails with COFFER_ERR_NETWORK, backs off, and succeeds once it is back.
    // Keep-alive connections would bypass the 503: start from fresh ones.
    await proxy.close();
    proxy = await startProxy({ host: '127.0.0.1', port: srv.port }, { port: port + 1 });
    proxy.unavailable = true;
    const events: ProgressEvent[] = [];
    const run = a.client.runScheduledBackup({
      freshForMs: 0,
      retryDelaysMs: [1000, 2000, 4000, 8000, 16000, 32000],
      onProgress: (e) => events.push(e),
    });
    await new Promise((r) => setTimeout(r, 1000));
    proxy.unavailable = false;
    const r = await run;
    expect(r.ran).toBe(true);
    expect(r.ran && r.attempts).toBeGreaterThan(1);
    expect(delays.slice(0, 2)).toEqual([1000, 2000]);
    expect(events.some((e) => e.phase === 'retry' && e.code === 'COFFER_ERR_NETWORK')).toBe(true);
  }, 180_000);
});
