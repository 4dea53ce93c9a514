// SIGKILL trials against a `coffer serve` child process (issue 7, fault injection). Shared by
// crash-embedded.test.ts (SQLite + files) and crash-pg-s3.test.ts (PostgreSQL + S3).
//
// Each trial picks an operation (messages upload, the commit right after the last byte, media store,
// media deletion, delete-everything of a second account, or background retention deleting a third
// account's idle backup: the job runs every 250 ms in these servers), kills the server with SIGKILL
// at a random moment inside it, restarts it on the same data, and checks:
//   - the current backup is byte-identical to the last acknowledged upload or to the interrupted one
//     (when its commit finished before the kill): never a half-written or unknown object;
//   - every listed version and every listed media object downloads byte-identical to what was sent;
//   - a deleted backup is either wholly there or wholly gone;
//   - an idle backup whose deletion by retention was interrupted is deleted after the restart;
//   - the interrupted upload resumes from the server's offset and completes;
//   - every HTTP error answer carried a documented code.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ERROR_CODES } from '@coffer/protocol';
import { createDb } from '@coffer/server';
import * as tus from 'tus-js-client';
import { expect } from 'vitest';
import {
  type CofferProcess,
  type PreparedProcess,
  prepareCofferProcess,
  startCofferProcess,
} from '../../test-support/coffer-process.ts';
import { runSeed, seededRandom } from '../../test-support/profile.ts';
import { SocketClient } from '../../test-support/security-client.ts';
import { freePortInRange } from '../../test-support/services.ts';

type Op = 'upload' | 'commit' | 'media' | 'media-delete' | 'delete-all' | 'retention';
const OPS: Op[] = ['upload', 'commit', 'media', 'media-delete', 'delete-all', 'retention'];

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Form {
  uploadUrl: string;
  headers: Record<string, string>;
  uploadId: string;
}

/** tus upload with progress; resolves with the tus URL or rejects (connection killed). */
function upload(
  form: Form,
  data: Buffer,
  o: { chunkSize?: number; uploadUrl?: string; onAllSent?: () => void; onUrl?: (u: string) => void } = {},
): Promise<string | null> {
  return new Promise((resolve, reject) => {
    let sentAll = false;
    const u: tus.Upload = new tus.Upload(data, {
      endpoint: form.uploadUrl,
      headers: form.headers,
      chunkSize: o.chunkSize ?? 64 * 1024,
      retryDelays: [],
      storeFingerprintForResuming: false,
      ...(o.uploadUrl ? { uploadUrl: o.uploadUrl } : {}),
      onUploadUrlAvailable() {
        if (u.url) o.onUrl?.(u.url);
      },
      onProgress(sent, total) {
        if (!sentAll && sent === total) {
          sentAll = true;
          o.onAllSent?.();
        }
      },
      onSuccess: () => resolve(u.url),
      onError: (err) => reject(err),
    });
    u.start();
  });
}

/**
 * An HTTP error answer (not a dropped connection) must carry a documented code. A failed assertion
 * inside the operation (an answer it did not expect) is passed on, not taken for a dropped connection.
 */
function expectDocumented(err: unknown, where: string): void {
  if ((err as { name?: string } | null)?.name === 'AssertionError') throw err;
  const res = (err as { originalResponse?: { getStatus(): number; getBody(): string } }).originalResponse;
  if (!res) return; // connection refused / reset: the client library reports a network error
  const status = res.getStatus();
  if (status === 0) return;
  let code: string | undefined;
  try {
    code = JSON.parse(res.getBody()).error?.code;
  } catch {
    code = undefined;
  }
  expect(code && code in ERROR_CODES, `${where}: HTTP ${status} without a documented code`).toBe(true);
}

export interface CrashRunOptions {
  trials: number;
  env?: Record<string, string>;
  label: string;
}

export async function runCrashTrials(
  o: CrashRunOptions,
): Promise<{ seed: number; byOp: Record<string, number> }> {
  const seed = runSeed();
  const rnd = seededRandom(seed);
  const pick = <T>(a: readonly T[]) => a[Math.floor(rnd() * a.length)] as T;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `coffer-crash-${o.label}-`));
  const port = await freePortInRange(29000, 29299);
  const config = {
    credentials: { keyBits: 1024, maxRequestsPerDay: 1000 },
    retention: { intervalMs: 250 },
    verification: { perAddress: { limit: 1000, windowMs: 60_000 } },
    limits: { requestsPerMinutePerAddress: 100_000 },
  };
  const env = { COFFER_FAULT_DELAY_COMMIT_MS: '40', ...o.env };
  // The first start runs the real `coffer` bin; restarts use a pre-warmed standby process running the
  // same CLI command (test-support/serve-standby.ts) so a trial costs the server start, not module loading.
  let standby: PreparedProcess | undefined;
  const warm = async () => {
    standby = await prepareCofferProcess({ dataDir, port, config, env, timeoutMs: 60_000, standby: true });
  };
  const start = async () => {
    if (!standby) await warm();
    const s = standby as PreparedProcess;
    standby = undefined;
    const p = await s.go();
    await warm();
    return p;
  };
  let proc: CofferProcess = await startCofferProcess({ dataDir, port, config, env, timeoutMs: 60_000 });
  await warm();
  const byOp: Record<string, number> = {};
  try {
    const base = proc.url;
    const a = new SocketClient(base);
    await a.register(undefined as never);
    expect((await a.fetchCredentials([0, 1])).status).toBe(200);
    expect((await a.setKey(1)).status).toBe(204);
    expect((await a.setKey(2)).status).toBe(204);

    const known = new Set<string>(); // hashes of every messages upload ever sent
    const idle: SocketClient[] = []; // accounts whose backups retention must delete
    // The server's own database, opened beside the running process (SQLite allows a second
    // writer with its busy timeout; PostgreSQL is shared anyway).
    const backdateRefresh = async (idHash: string) => {
      const db = await createDb(o.env?.COFFER_DATABASE_URL ?? `sqlite:${path.join(dataDir, 'coffer.db')}`, {
        migrate: false,
      });
      try {
        await db.db
          .updateTable('backups')
          .set({ last_refresh: 0 })
          .where('backup_id_hash', '=', idHash)
          .execute();
      } finally {
        await db.close();
      }
    };
    /** Waits until retention has deleted every idle account's backup (the job resumes after a kill). */
    const expectIdleGone = async (trial: number) => {
      for (const r of idle.splice(0)) {
        let code: string | undefined;
        for (let i = 0; i < 100 && code !== 'COFFER_ERR_BACKUP_ID_UNKNOWN'; i++) {
          if (i > 0) await sleep(100);
          code = (await r.signed('GET', '/v1/archives')).body?.error?.code;
        }
        expect(code, `trial ${trial}: retention did not delete an idle backup after the restart`).toBe(
          'COFFER_ERR_BACKUP_ID_UNKNOWN',
        );
      }
    };
    let current: Buffer | undefined; // last acknowledged current backup
    let pending: { data: Buffer; form: Form; url?: string } | undefined;
    const media = new Map<string, Buffer>(); // media acknowledged as stored (and not deleted)
    const mediaMaybe = new Map<string, Buffer>(); // in flight at a kill: may or may not exist

    const readAuth = async (type = 1) => {
      const r = await a.signed('GET', '/v1/archives/auth/read', undefined, { type });
      expect(r.status).toBe(200);
      return r.body as { headers: Record<string, string>; backupUrl: string; mediaUrlPrefix: string };
    };
    const form = async (kind: 'messages' | 'media', len: number) => {
      const r =
        kind === 'messages'
          ? await a.signed('GET', `/v1/archives/upload/form?uploadLength=${len}`)
          : await a.signed('GET', `/v1/archives/media/upload/form?uploadLength=${len}`, undefined, {
              type: 2,
            });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      return r.body as Form;
    };

    const check = async (trial: number, op: Op) => {
      const info = await a.signed('GET', '/v1/archives');
      expect(info.status).toBe(200);
      const auth = await readAuth();
      const dl = await fetch(auth.backupUrl, { headers: auth.headers });
      if (current === undefined && !info.body.current) {
        expect(dl.status).toBe(404);
      } else {
        expect(dl.status, `trial ${trial} (${op}): current backup must download`).toBe(200);
        const got = Buffer.from(await dl.arrayBuffer());
        if (pending && got.equals(pending.data)) {
          // the kill came after the commit transaction: the interrupted upload is now current
          current = pending.data;
          pending = undefined;
        }
        expect(got.equals(current as Buffer), `trial ${trial} (${op}): current backup differs`).toBe(true);
      }
      const versions = await a.signed('GET', '/v1/archives/versions');
      expect(versions.status).toBe(200);
      for (const v of versions.body.versions as { versionId: string; size: number }[]) {
        const r = await fetch(`${auth.backupUrl}?version=${v.versionId}`, { headers: auth.headers });
        expect(r.status).toBe(200);
        const b = Buffer.from(await r.arrayBuffer());
        expect(b.length).toBe(v.size);
        expect(known.has(sha(b)), `trial ${trial}: version ${v.versionId} is not an uploaded backup`).toBe(
          true,
        );
      }
      const listed = await a.signed('GET', '/v1/archives/media?limit=1000', undefined, { type: 2 });
      expect(listed.status).toBe(200);
      const ids = new Set((listed.body.storedMediaObjects as { mediaId: string }[]).map((m) => m.mediaId));
      const mauth = await readAuth(2);
      for (const id of ids) {
        const want = media.get(id) ?? mediaMaybe.get(id);
        expect(want, `trial ${trial}: unknown media ${id}`).toBeDefined();
        const r = await fetch(mauth.mediaUrlPrefix + id, { headers: mauth.headers });
        expect(r.status).toBe(200);
        expect(Buffer.from(await r.arrayBuffer()).equals(want as Buffer)).toBe(true);
      }
      for (const id of media.keys())
        expect(ids.has(id), `trial ${trial}: stored media ${id} lost`).toBe(true);
      for (const [id, b] of mediaMaybe) if (ids.has(id)) media.set(id, b);
      mediaMaybe.clear();
    };

    /** Resumes (or restarts) the interrupted messages upload and checks it becomes current. */
    const resume = async () => {
      if (!pending) return;
      const p = pending;
      if (p.url) {
        await upload(p.form, p.data, { uploadUrl: p.url });
      } else {
        // killed before the upload was created: the token may or may not have been spent
        const head = await fetch(`${p.form.uploadUrl}/${p.form.uploadId}`, {
          method: 'HEAD',
          headers: { ...p.form.headers, 'tus-resumable': '1.0.0' },
        });
        if (head.status === 200)
          await upload(p.form, p.data, { uploadUrl: `${p.form.uploadUrl}/${p.form.uploadId}` });
        else await upload(await form('messages', p.data.length), p.data);
      }
      current = p.data;
      pending = undefined;
      const auth = await readAuth();
      const got = Buffer.from(await (await fetch(auth.backupUrl, { headers: auth.headers })).arrayBuffer());
      expect(got.equals(current), 'the resumed upload must become current').toBe(true);
    };

    for (let trial = 0; trial < o.trials; trial++) {
      const op = pick(OPS);
      byOp[op] = (byOp[op] ?? 0) + 1;
      let work: Promise<unknown> = Promise.resolve();
      let killAt: Promise<unknown>;
      if (op === 'upload' || op === 'commit') {
        const data = randomBytes(100_000 + Math.floor(rnd() * 900_000));
        known.add(sha(data));
        const f = await form('messages', data.length);
        pending = { data, form: f };
        const p = pending;
        let allSent: () => void = () => {};
        const sent = new Promise<void>((r) => {
          allSent = r;
        });
        work = upload(f, data, {
          chunkSize: op === 'commit' ? data.length : 64 * 1024,
          onUrl: (u) => {
            p.url = u;
          },
          onAllSent: allSent,
        }).then(
          () => {
            current = data;
            pending = undefined;
          },
          (err) => expectDocumented(err, `trial ${trial} ${op}`),
        );
        killAt =
          op === 'upload' ? sleep(rnd() * 400) : Promise.race([sent, work]).then(() => sleep(rnd() * 120));
      } else if (op === 'media') {
        const data = randomBytes(2000 + Math.floor(rnd() * 200_000));
        const mediaId = randomBytes(15).toString('base64url');
        work = (async () => {
          const f = await form('media', data.length);
          await upload(f, data);
          mediaMaybe.set(mediaId, data);
          const r = await a.signed(
            'PUT',
            '/v1/archives/media',
            { sourceUploadId: f.uploadId, objectLength: data.length, mediaId },
            { type: 2 },
          );
          expect(r.status, JSON.stringify(r.body)).toBe(200);
          mediaMaybe.delete(mediaId);
          media.set(mediaId, data);
        })().catch((err) => expectDocumented(err, `trial ${trial} media`));
        killAt = sleep(rnd() * 500);
      } else if (op === 'media-delete' && media.size > 0) {
        const id = pick([...media.keys()]);
        const data = media.get(id) as Buffer;
        media.delete(id);
        mediaMaybe.set(id, data);
        work = a
          .signed('POST', '/v1/archives/media/delete', { mediaToDelete: [{ mediaId: id }] }, { type: 2 })
          .then(
            (r) => {
              expect(r.status).toBe(204);
              mediaMaybe.delete(id);
            },
            () => undefined,
          );
        killAt = sleep(rnd() * 60);
      } else if (op === 'delete-all') {
        // a second account with one backup, deleted whole while the server dies
        const b = new SocketClient(base);
        await b.register(undefined as never);
        expect((await b.fetchCredentials([0])).status).toBe(200);
        expect((await b.setKey(1)).status).toBe(204);
        const data = randomBytes(50_000);
        const bf = await b.signed('GET', `/v1/archives/upload/form?uploadLength=${data.length}`);
        await upload(bf.body, data);
        work = b.signed('DELETE', '/v1/archives').catch(() => undefined);
        killAt = sleep(rnd() * 80);
        await killAt;
        await proc.kill();
        await work;
        proc = await start();
        const info = await b.signed('GET', '/v1/archives');
        const ra = await b.signed('GET', '/v1/archives/auth/read');
        if (info.status === 200 && info.body.current) {
          const r = await fetch(ra.body.backupUrl, { headers: ra.body.headers });
          expect(r.status, `trial ${trial}: a backup that is listed must download whole`).toBe(200);
          expect(Buffer.from(await r.arrayBuffer()).equals(data)).toBe(true);
        } else if (ra.status === 200) {
          expect((await fetch(ra.body.backupUrl, { headers: ra.body.headers })).status).toBe(404);
        }
        await check(trial, op);
        await resume();
        continue;
      } else if (op === 'retention') {
        // A third account's backup made idle (its refresh day set back to 1970), so the retention
        // job, every 250 ms here, deletes it (rows, then blobs) while the server dies. After the
        // restart the job must finish the deletion, and nothing of account a may be touched (check).
        const r = new SocketClient(base);
        await r.register(undefined as never);
        expect((await r.fetchCredentials([0])).status).toBe(200);
        expect((await r.setKey(1)).status).toBe(204);
        const data = randomBytes(20_000 + Math.floor(rnd() * 200_000));
        const rf = await r.signed('GET', `/v1/archives/upload/form?uploadLength=${data.length}`);
        expect(rf.status).toBe(200);
        await upload(rf.body, data);
        const idHash = createHash('sha256').update(r.backupId(1)).digest().subarray(0, 16).toString('hex');
        await backdateRefresh(idHash);
        idle.push(r);
        killAt = sleep(rnd() * 600);
      } else {
        // media-delete with nothing to delete: a kill while the timer jobs run
        killAt = sleep(rnd() * 600);
      }
      const t0 = Date.now();
      await killAt;
      await proc.kill();
      await work;
      const t1 = Date.now();
      proc = await start();
      const t2 = Date.now();
      await check(trial, op);
      await expectIdleGone(trial);
      const t3 = Date.now();
      await resume();
      if (process.env.COFFER_DEBUG_TRIALS)
        console.log(
          `trial ${trial} ${op}: op ${t1 - t0} ms, restart ${t2 - t1} ms, check ${t3 - t2} ms, resume ${Date.now() - t3} ms`,
        );
    }
    // a clean shutdown at the end, and one more full check on the restarted server
    await proc.stop();
    proc = await start();
    await check(o.trials, 'retention');
    return { seed, byOp };
  } catch (err) {
    throw new Error(
      `crash trials failed (replay with COFFER_SEED=${seed}): ${(err as Error).message}\n${proc.output().slice(-1500)}`,
      { cause: err },
    );
  } finally {
    await proc.kill();
    await standby?.discard();
    fs.rmSync(dataDir, { recursive: true, force: true });
    fs.rmSync(`${dataDir}.config.json`, { force: true });
  }
}
