import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CofferError } from '@coffer/crypto';
import type { KeyStore } from './key-store.ts';

// scrypt cost: N=2^15, r=8, p=1 (32 MiB, ~100 ms): slows passphrase guessing on a stolen profile.
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const NAME = /^[a-z0-9-]{1,64}$/;

interface Wrapped {
  v: 1;
  kdf: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  iv: string;
  ct: string;
  tag: string;
}

function derive(passphrase: string, salt: Buffer, w: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(passphrase.normalize('NFKC'), salt, 32, { ...SCRYPT, N: w.N, r: w.r, p: w.p }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/**
 * Key store in a profile folder (Node): one file per entry, folder 0700, files 0600, written
 * atomically (temp file + rename). With a passphrase, each value is wrapped with AES-256-GCM under
 * a scrypt-derived key (the entry name is the associated data, so files cannot be swapped).
 */
export class FileKeyStore implements KeyStore {
  readonly dir: string;
  readonly #passphrase: string | undefined;

  constructor(dir: string, opts: { passphrase?: string } = {}) {
    this.dir = dir;
    this.#passphrase = opts.passphrase;
  }

  #path(name: string): string {
    if (!NAME.test(name)) throw new TypeError(`key store entry name must match ${NAME}`);
    return join(this.dir, `${name}.key`);
  }

  async read(name: string): Promise<string | undefined> {
    let raw: string;
    try {
      raw = await readFile(this.#path(name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    let parsed: { plain?: string } & Partial<Wrapped>;
    try {
      parsed = JSON.parse(raw);
    } catch (cause) {
      throw new CofferError(
        'COFFER_ERR_KEYSTORE_CORRUPT',
        'A key store file is damaged; restore it from a copy.',
        {
          cause,
          details: { entry: name },
        },
      );
    }
    if (typeof parsed.plain === 'string') return parsed.plain;
    if (this.#passphrase === undefined) {
      throw new CofferError(
        'COFFER_ERR_KEYSTORE_LOCKED',
        'The key store is protected by a passphrase; provide it (--passphrase or COFFER_PASSPHRASE).',
      );
    }
    const w = parsed as Wrapped;
    const key = await derive(this.#passphrase, Buffer.from(w.salt, 'base64'), w);
    try {
      const d = createDecipheriv('aes-256-gcm', key, Buffer.from(w.iv, 'base64'));
      d.setAAD(Buffer.from(name));
      d.setAuthTag(Buffer.from(w.tag, 'base64'));
      return Buffer.concat([d.update(Buffer.from(w.ct, 'base64')), d.final()]).toString('utf8');
    } catch {
      throw new CofferError('COFFER_ERR_KEYSTORE_LOCKED', 'The key store passphrase is wrong.');
    }
  }

  async write(name: string, value: string): Promise<void> {
    const path = this.#path(name);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700);
    let body: string;
    if (this.#passphrase === undefined) {
      body = JSON.stringify({ plain: value });
    } else {
      const salt = randomBytes(16);
      const iv = randomBytes(12);
      const key = await derive(this.#passphrase, salt, SCRYPT);
      const c = createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(Buffer.from(name));
      const ct = Buffer.concat([c.update(value, 'utf8'), c.final()]);
      const w: Wrapped = {
        v: 1,
        kdf: 'scrypt',
        N: SCRYPT.N,
        r: SCRYPT.r,
        p: SCRYPT.p,
        salt: salt.toString('base64'),
        iv: iv.toString('base64'),
        ct: ct.toString('base64'),
        tag: c.getAuthTag().toString('base64'),
      };
      body = JSON.stringify(w);
    }
    const tmp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
    await writeFile(tmp, body, { mode: 0o600 });
    await rename(tmp, path);
  }

  async delete(name: string): Promise<void> {
    await rm(this.#path(name), { force: true });
  }

  async wipe(): Promise<void> {
    let files: string[];
    try {
      files = await readdir(this.dir);
    } catch {
      return;
    }
    for (const f of files) {
      if (f.endsWith('.key') || f.includes('.key.tmp-')) {
        // Overwrite before unlinking so the secret does not linger in the file's old blocks as often.
        const p = join(this.dir, f);
        await writeFile(p, randomBytes(256)).catch(() => undefined);
        await rm(p, { force: true });
      }
    }
  }
}
