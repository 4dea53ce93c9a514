// biome-ignore-all lint/suspicious/noExplicitAny: the harness reads arbitrary JSON responses
// Test harness: a server in a temp folder with a settable clock, and a client that speaks the API
// the way @coffer/client will (verify, register, blind credentials, signed requests).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { deriveBackupId, deriveBackupIdKeyPair, xeddsaSign } from '@coffer/crypto';
import {
  blindCredentialRequest,
  type CredentialKeyInfo,
  DAY_SECONDS,
  dayStart,
  finalizeCredential,
  fromBase64Url,
  signRequest,
  toBase64Url,
} from '@coffer/protocol';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { testStorageFor } from '../../../test-support/services.ts';
import { type CofferServer, type CofferServerOptions, createCofferServer } from '../src/app.ts';
import { type DeepPartial, loadConfig, type ServerConfig } from '../src/config.ts';
import { DevSender } from '../src/identity/senders.ts';

export interface TestServer {
  server: CofferServer;
  dir: string;
  clock: { t: number };
  sender: DevSender;
  close(): Promise<void>;
}

export async function startTestServer(
  overrides: DeepPartial<ServerConfig> = {},
  opts: CofferServerOptions & { dir?: string } = {},
): Promise<TestServer> {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-server-'));
  const clock = { t: Date.now() };
  const sender = new DevSender(false);
  // COFFER_TEST_STORAGE=pg-s3 runs the same tests on PostgreSQL + S3 (one schema and prefix per folder).
  const storage = await testStorageFor(dir);
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: dir,
      port: 0,
      credentials: { keyBits: 1024, maxRequestsPerDay: 20 },
      verification: { devOutbox: true },
      ...storage.overrides,
      ...overrides,
    },
  });
  const server = await createCofferServer(config, {
    logger: false,
    jobs: false,
    now: () => clock.t,
    sender,
    ...opts,
  });
  return {
    server,
    dir,
    clock,
    sender,
    async close() {
      await server.close();
      if (!opts.dir) {
        fs.rmSync(dir, { recursive: true, force: true });
        await storage.cleanup();
      }
    },
  };
}

type Inject = (o: InjectOptions) => Promise<LightMyRequestResponse>;

export class TestClient {
  aci = '';
  deviceToken = '';
  level = 200;
  backupKey = new Uint8Array(randomBytes(32));
  mediaRootKey = new Uint8Array(randomBytes(32));
  creds = new Map<string, Uint8Array>();

  constructor(
    readonly inject: Inject,
    readonly now: () => number,
    readonly identifier = `user${randomBytes(4).toString('hex')}@example.org`,
  ) {}

  static forServer(ts: TestServer, identifier?: string): TestClient {
    return new TestClient(
      (o) => ts.server.app.inject(o),
      () => ts.clock.t,
      identifier,
    );
  }

  async json(o: InjectOptions): Promise<{ status: number; body: any; headers: Record<string, unknown> }> {
    const r = await this.inject(o);
    let body: any;
    try {
      body = r.body ? JSON.parse(r.body) : undefined;
    } catch {
      body = r.body;
    }
    return { status: r.statusCode, body, headers: r.headers };
  }

  async verify(sender: DevSender): Promise<string> {
    const s = await this.json({
      method: 'POST',
      url: '/v1/verification/sessions',
      payload: { identifier: this.identifier },
    });
    if (s.status !== 200) throw new Error(`session: ${s.status} ${JSON.stringify(s.body)}`);
    const code = sender.outbox.get(this.identifier)?.at(-1)?.code as string;
    const v = await this.json({
      method: 'PUT',
      url: `/v1/verification/sessions/${s.body.sessionId}/code`,
      payload: { code },
    });
    if (v.status !== 200) throw new Error(`code: ${v.status} ${JSON.stringify(v.body)}`);
    return s.body.sessionId;
  }

  async register(sender: DevSender) {
    const sessionId = await this.verify(sender);
    const r = await this.json({ method: 'POST', url: '/v1/accounts', payload: { sessionId } });
    if (r.status !== 200) throw new Error(`register: ${r.status} ${JSON.stringify(r.body)}`);
    this.aci = r.body.aci;
    this.deviceToken = r.body.deviceToken;
    this.level = r.body.level;
    return r.body;
  }

  rootKey(type: number) {
    return type === 1 ? this.backupKey : this.mediaRootKey;
  }
  backupId(type: number) {
    return deriveBackupId(this.rootKey(type), this.aci);
  }
  keyPair(type: number) {
    return deriveBackupIdKeyPair(this.rootKey(type), this.aci);
  }

  /** Fetches credentials for `days` (offsets from today) and both types; stores them by `${type}/${day}`. */
  async fetchCredentials(days: number[] = [0, 1, 2, 3, 4, 5, 6], level = this.level, types = [1, 2]) {
    const today = dayStart(this.now());
    const times = days.map((d) => today + d * DAY_SECONDS);
    const k = await this.json({
      method: 'GET',
      url: `/v1/credentials/keys?start=${Math.min(...times)}&end=${Math.max(...times)}&level=${level}`,
    });
    if (k.status !== 200) throw new Error(`keys: ${k.status} ${JSON.stringify(k.body)}`);
    const keys = k.body.keys as CredentialKeyInfo[];
    const states = [];
    const requests = [];
    for (const t of times) {
      for (const type of types) {
        const key = keys.find(
          (x) => x.redemptionTime === t && x.level === level && x.type === type,
        ) as CredentialKeyInfo;
        const { blindedMessage, state } = await blindCredentialRequest(key, this.backupId(type));
        states.push(state);
        requests.push({ redemptionTime: t, type, blindedMessage: toBase64Url(blindedMessage) });
      }
    }
    const r = await this.json({
      method: 'POST',
      url: '/v1/credentials',
      headers: { authorization: `Bearer ${this.deviceToken}` },
      payload: { level, requests },
    });
    if (r.status !== 200) return r;
    for (let i = 0; i < states.length; i++) {
      const st = states[i] as (typeof states)[number];
      const c = r.body.credentials[i];
      const cred = await finalizeCredential(st, fromBase64Url(c.blindSignature));
      this.creds.set(`${c.type}/${c.redemptionTime}`, cred);
    }
    return r;
  }

  credential(type: number, dayOffset = 0): Uint8Array {
    const t = dayStart(this.now()) + dayOffset * DAY_SECONDS;
    const c = this.creds.get(`${type}/${t}`);
    if (!c) throw new Error(`no credential for ${type}/${t}`);
    return c;
  }

  /** A signed anonymous request. */
  async signed(
    method: string,
    url: string,
    body?: unknown,
    o: {
      type?: number;
      credential?: Uint8Array;
      privateKey?: Uint8Array;
      headers?: Record<string, string>;
      /** Sent as the JSON body instead of JSON.stringify(body) (text JSON.stringify cannot write). */
      rawJson?: string;
    } = {},
  ) {
    const type = o.type ?? 1;
    const payload = o.rawJson ?? (body === undefined ? undefined : JSON.stringify(body));
    const privateKey = o.privateKey ?? this.keyPair(type).privateKey;
    const headers = await signRequest({
      method,
      pathAndQuery: url,
      ...(payload === undefined ? {} : { body: payload }),
      credential: o.credential ?? this.credential(type),
      sign: (m) => xeddsaSign(privateKey, m),
      now: this.now,
    });
    const req = {
      method: method as 'GET',
      url,
      headers: {
        ...headers,
        ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        ...o.headers,
      } as Record<string, string>,
    };
    return this.json(payload === undefined ? req : { ...req, payload });
  }

  async setKey(type = 1) {
    return this.signed(
      'PUT',
      '/v1/archives/keys',
      { backupIdPublicKey: toBase64Url(this.keyPair(type).publicKey) },
      { type },
    );
  }
}

export async function readBody(r: LightMyRequestResponse): Promise<Buffer> {
  return r.rawPayload;
}
