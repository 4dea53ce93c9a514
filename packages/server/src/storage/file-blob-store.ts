/**
 * Embedded blob store: one file per key under a root folder. put() writes to a temp file in the
 * same folder, fsyncs it and renames it over the target, so an object is either complete or absent
 * (restic-style write order; a crash leaves at most a temp file, removed at the next open).
 */

import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { CofferError } from '@coffer/crypto';
import { assertBlobKey, assertBlobPrefix, type BlobStore } from './blob-store.ts';

const TMP_DIR = '.tmp';

export class FileBlobStore implements BlobStore {
  readonly root: string;
  #ready: Promise<void> | undefined;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  #init(): Promise<void> {
    this.#ready ??= (async () => {
      await fs.mkdir(path.join(this.root, TMP_DIR), { recursive: true });
      // Leftovers of interrupted puts are garbage by construction.
      for (const f of await fs.readdir(path.join(this.root, TMP_DIR))) {
        await fs.rm(path.join(this.root, TMP_DIR, f), { force: true });
      }
    })();
    return this.#ready;
  }

  #file(key: string): string {
    assertBlobKey(key);
    const p = path.join(this.root, 'o', key);
    // Belt and braces after the key check: the path must stay inside the root.
    if (!p.startsWith(path.join(this.root, 'o') + path.sep)) {
      throw new CofferError('COFFER_ERR_INVALID_KEY', 'the blob key leaves the store');
    }
    return p;
  }

  async put(
    key: string,
    body: AsyncIterable<Uint8Array> | Uint8Array,
    opts?: { length?: number },
  ): Promise<{ size: number }> {
    const target = this.#file(key);
    await this.#init();
    const tmp = path.join(this.root, TMP_DIR, `${randomBytes(12).toString('hex')}.part`);
    const fh = await fs.open(tmp, 'wx');
    let size = 0;
    try {
      if (body instanceof Uint8Array) {
        await fh.write(body);
        size = body.length;
      } else {
        for await (const chunk of body) {
          await fh.write(chunk);
          size += chunk.length;
        }
      }
      if (opts?.length !== undefined && opts.length !== size) {
        throw new CofferError(
          'COFFER_ERR_SOURCE_LENGTH',
          'the object length differs from the declared length',
          {
            details: { expected: opts.length, actual: size },
          },
        );
      }
      await fh.sync();
      await fh.close();
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.rename(tmp, target);
      await fsyncDir(path.dirname(target));
      return { size };
    } catch (err) {
      await fh.close().catch(() => {});
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  /**
   * Stores a finished local file (a tus upload) under `key` without copying its bytes: a hard link
   * in the temp folder, fsync, then the same rename as put(). The source file stays where it is
   * (the caller removes it after its metadata transaction), so a crash before that transaction
   * leaves the upload intact and resumable, exactly as a copy would. Returns undefined when the file
   * cannot be linked here (another filesystem, no hard links): the caller falls back to put().
   */
  async putFile(
    key: string,
    file: string,
    opts?: { length?: number },
  ): Promise<{ size: number } | undefined> {
    const target = this.#file(key);
    await this.#init();
    const tmp = path.join(this.root, TMP_DIR, `${randomBytes(12).toString('hex')}.part`);
    try {
      await fs.link(file, tmp);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (
        code === 'EXDEV' ||
        code === 'EPERM' ||
        code === 'ENOTSUP' ||
        code === 'EMLINK' ||
        code === 'ENOENT'
      ) {
        return undefined;
      }
      throw err;
    }
    try {
      const fh = await fs.open(tmp, 'r');
      let size: number;
      try {
        size = (await fh.stat()).size;
        if (opts?.length !== undefined && opts.length !== size) {
          throw new CofferError(
            'COFFER_ERR_SOURCE_LENGTH',
            'the object length differs from the declared length',
            { details: { expected: opts.length, actual: size } },
          );
        }
        // The tus store wrote these bytes without fsync: make them durable before they become visible.
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.rename(tmp, target);
      await fsyncDir(path.dirname(target));
      return { size };
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  async get(
    key: string,
    range?: { start: number; end?: number },
  ): Promise<{ size: number; body: AsyncIterable<Uint8Array> }> {
    const file = this.#file(key);
    const st = await fs.stat(file).catch(() => undefined);
    if (!st?.isFile()) throw new CofferError('COFFER_ERR_BLOB_NOT_FOUND', 'the stored object does not exist');
    if (!range) return { size: st.size, body: createReadStream(file) };
    const end = Math.min(range.end ?? st.size - 1, st.size - 1);
    if (
      !Number.isSafeInteger(range.start) ||
      range.start < 0 ||
      range.start >= st.size ||
      end < range.start
    ) {
      throw new CofferError('COFFER_ERR_RANGE_NOT_SATISFIABLE', 'the byte range is outside the object', {
        details: { size: st.size },
      });
    }
    return { size: end - range.start + 1, body: createReadStream(file, { start: range.start, end }) };
  }

  async stat(key: string): Promise<{ size: number; modifiedAt: Date } | undefined> {
    const st = await fs.stat(this.#file(key)).catch(() => undefined);
    return st?.isFile() ? { size: st.size, modifiedAt: st.mtime } : undefined;
  }

  async *list(
    prefix: string,
    opts?: { after?: string; limit?: number },
  ): AsyncIterable<{ key: string; size: number }> {
    assertBlobPrefix(prefix);
    const all: { key: string; size: number }[] = [];
    // Walk only the folder that can contain the prefix.
    const slash = prefix.lastIndexOf('/');
    const baseKey = slash >= 0 ? prefix.slice(0, slash) : '';
    const base = baseKey ? this.#file(baseKey) : path.join(this.root, 'o');
    await walk(base, baseKey, all);
    const keys = all.filter(
      (e) => e.key.startsWith(prefix) && (opts?.after === undefined || e.key > opts.after),
    );
    keys.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    let n = 0;
    for (const e of keys) {
      if (opts?.limit !== undefined && n++ >= opts.limit) return;
      yield e;
    }
  }

  async delete(key: string): Promise<void> {
    await fs.rm(this.#file(key), { force: true });
  }

  async deletePrefix(prefix: string): Promise<number> {
    let n = 0;
    const keys: string[] = [];
    for await (const e of this.list(prefix)) keys.push(e.key);
    for (const k of keys) {
      await this.delete(k);
      n++;
    }
    return n;
  }

  async close(): Promise<void> {}
}

async function walk(dir: string, keyPrefix: string, out: { key: string; size: number }[]): Promise<void> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const key = keyPrefix ? `${keyPrefix}/${e.name}` : e.name;
    if (e.isDirectory()) await walk(path.join(dir, e.name), key, out);
    else if (e.isFile()) out.push({ key, size: (await fs.stat(path.join(dir, e.name))).size });
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r').catch(() => undefined);
  if (!fh) return;
  await fh.sync().catch(() => {});
  await fh.close();
}
