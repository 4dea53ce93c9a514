// Secrets hygiene (issue 7): after a full cycle (verification, register, enable, backup with a real
// history, restore on a second device) plus a round of failing requests that carry the secrets, the
// server's logs (pino output at debug level), /metrics, every error body, the metadata database and
// every file in the data folder (blobs, tus uploads, database, WAL) are scanned for: the recovery key
// (raw and display form), the backup key, the message backup keys, the backup-id private key (hex,
// base64, base64url and raw bytes), the verification codes, the identifier, the ACI (it must not
// appear next to backup data: anywhere outside the accounts tables) and plaintext strings from the
// history.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { deriveBackupKeys } from '@coffer/client';
import { formatRecoveryKey } from '@coffer/crypto';
import type { Frame } from '@coffer/format';
import { createCofferServer, DevSender, loadConfig } from '@coffer/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Device, makeDevice } from '../../packages/client/test/harness.ts';
import { freePortInRange } from '../../test-support/services.ts';

interface Needle {
  what: string;
  text: string[];
  bytes?: Uint8Array;
}

function encodings(what: string, b: Uint8Array): Needle {
  const buf = Buffer.from(b);
  return {
    what,
    text: [buf.toString('hex'), buf.toString('base64').replace(/=+$/, ''), buf.toString('base64url')],
    bytes: b,
  };
}

function findIn(hay: Buffer, needles: Needle[]): string[] {
  const found: string[] = [];
  const asText = hay.toString('latin1');
  const lower = asText.toLowerCase();
  for (const n of needles) {
    for (const t of n.text)
      if (t.length >= 6 && (asText.includes(t) || lower.includes(t.toLowerCase())))
        found.push(`${n.what} (${t.slice(0, 12)}...)`);
    if (n.bytes && n.bytes.length >= 16 && hay.indexOf(Buffer.from(n.bytes)) >= 0)
      found.push(`${n.what} (raw bytes)`);
  }
  return found;
}

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

describe('secrets hygiene after a full cycle', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-secrets-'));
  let logs = '';
  const sender = new DevSender(false);
  let server: Awaited<ReturnType<typeof createCofferServer>>;
  let url: string;
  let a: Device;
  let b: Device;
  const identifier = `hygiene.${Date.now()}@example.org`;
  let recoveryKey = '';
  let aci = '';
  const markers: string[] = [];
  const errorBodies: { status: number; body: string }[] = [];

  beforeAll(async () => {
    const port = await freePortInRange(29600, 29699);
    const stream = new Writable({
      write(chunk, _enc, cb) {
        logs += chunk.toString();
        cb();
      },
    });
    const config = loadConfig({
      env: {},
      overrides: {
        dataDir: dir,
        host: '127.0.0.1',
        port,
        credentials: { keyBits: 1024 },
        verification: { devOutbox: true },
      },
    });
    server = await createCofferServer(config, { logger: { level: 'debug', stream }, jobs: false, sender });
    await server.listen();
    url = `http://127.0.0.1:${port}`;

    a = await makeDevice(url, {
      generate: { chats: 3, messages: 120, media: 4, seed: 'hygiene', mediaSize: 2048 },
    });
    for await (const f of a.store.exportFrames() as unknown as AsyncIterable<Frame>) {
      const json = JSON.stringify(f, (_k, v) =>
        typeof v === 'bigint' ? String(v) : v instanceof Uint8Array ? undefined : v,
      );
      for (const m of json.matchAll(/"body":"([^"\\]{16,})"/g))
        if (markers.length < 25) markers.push(m[1] as string);
    }
    expect(markers.length).toBeGreaterThan(5);
    await a.client.registerWithDevOutbox(identifier);
    recoveryKey = (await a.client.enableBackups()).recoveryKey;
    await a.client.backupNow();
    aci = (await a.client.status()).aci as string;
    b = await makeDevice(url);
    await b.client.registerWithDevOutbox(identifier);
    const restored = await b.client.restore({ recoveryKey });
    await restored.media;
    expect(await b.store.digest()).toBe(await a.store.digest());

    // failing requests that carry secrets: the error bodies must not echo them
    const post = async (p: string, body: unknown, headers: Record<string, string> = {}) => {
      const r = await fetch(url + p, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
      errorBodies.push({ status: r.status, body: await r.text() });
    };
    await post('/v1/verification/sessions', { identifier: `${identifier} ${recoveryKey}` });
    await post('/v1/verification/sessions', { identifier, extra: markers[0] });
    await post('/v1/accounts', { sessionId: recoveryKey });
    await post('/v1/credentials', { level: 200, requests: [] }, { authorization: `Bearer ${recoveryKey}` });
    await post(
      '/v1/archives',
      {},
      { 'x-coffer-credential': recoveryKey, 'x-coffer-timestamp': '1', 'x-coffer-signature': aci },
    );
    const s = await fetch(`${url}/v1/verification/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ identifier: `second.${identifier}` }),
    });
    const sid = ((await s.json()) as { sessionId: string }).sessionId;
    const wrong = await fetch(`${url}/v1/verification/sessions/${sid}/code`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: '000000' }),
    });
    errorBodies.push({ status: wrong.status, body: await wrong.text() });
  }, 300_000);

  afterAll(async () => {
    a?.close();
    b?.close();
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const secretNeedles = (): Needle[] => {
    const keys = deriveBackupKeys(recoveryKey, aci);
    const codes = [...sender.outbox.values()].flat().map((m) => m.code);
    const needles: Needle[] = [
      {
        what: 'recovery key',
        text: [
          recoveryKey,
          formatRecoveryKey(recoveryKey),
          formatRecoveryKey(recoveryKey).replaceAll(' ', '-'),
        ],
      },
      encodings('backup key', keys.backupKey),
      encodings('message backup HMAC key', keys.messageKey.hmacKey),
      encodings('message backup AES key', keys.messageKey.aesKey),
      encodings('backup-id private key', keys.backupIdKeyPair.privateKey),
      { what: 'identifier', text: [identifier, identifier.split('@')[0] as string] },
      ...markers.map((m, i) => ({ what: `plaintext marker ${i}`, text: [m] })),
    ];
    // six-digit codes are too short to search in binary files; they are checked in text sources
    return needles.concat(
      codes.map((c) => ({ what: 'verification code (text)', text: [`"${c}"`, `code ${c}`, `:${c}`] })),
    );
  };

  it('logs, /metrics and error bodies hold no secret, identifier, ACI or plaintext', async () => {
    expect(logs.length).toBeGreaterThan(1000); // the logger really captured the cycle
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('# TYPE');
    const needles = [...secretNeedles(), { what: 'ACI', text: [aci] }];
    expect(findIn(Buffer.from(logs), needles), 'server log').toEqual([]);
    expect(findIn(Buffer.from(metrics), needles), '/metrics').toEqual([]);
    expect(errorBodies.filter((e) => e.status >= 400).length).toBeGreaterThanOrEqual(5);
    for (const { status, body } of errorBodies) {
      if (status >= 400) expect(body).toContain('"code":"COFFER_ERR_');
      expect(findIn(Buffer.from(body), needles), `error body ${body}`).toEqual([]);
    }
  });

  it('the database and every stored file hold no key, identifier, ACI next to backup data, or plaintext', async () => {
    const needles = secretNeedles().filter((n) => !n.what.startsWith('verification code'));
    const files = walk(dir);
    expect(files.some((f) => f.includes(`${path.sep}blobs${path.sep}`))).toBe(true);
    for (const f of files) {
      const content = fs.readFileSync(f);
      expect(findIn(content, needles), f).toEqual([]);
      // the ACI may only be in the accounts tables of the database, never in blobs or uploads
      if (!/coffer\.db/.test(path.basename(f)))
        expect(findIn(content, [{ what: 'ACI', text: [aci] }]), f).toEqual([]);
    }
    // inside the database: no table that holds backup data mentions the ACI (credential_issuance
    // counts issuance per account and day; it never sees a backup id, which is blinded)
    const db = server.ctx.db;
    for (const t of ['backups', 'backup_versions', 'media', 'uploads', 'seen_signatures']) {
      // biome-ignore lint/suspicious/noExplicitAny: dynamic table names
      const rows = await (db as any).selectFrom(t).selectAll().execute();
      const text = JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? String(v) : v));
      expect(text.includes(aci), `table ${t} mentions the ACI`).toBe(false);
    }
  });
});
