// The sealed stream and media code in real Chromium: the whole package entry point is bundled
// for the browser (esbuild, platform=browser: a static Node import would fail the build), files
// sealed in Chromium (WebCrypto + CompressionStream + noble) open in Node, and Node's open there.
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bytesSource,
  closeGzipWorkers,
  encodeSealedHeader,
  openAttachment,
  openBackup,
  sealAttachmentToBytes,
  sealBackupToBytes,
} from '../src/index.ts';
import { collect } from '../src/sealed-writer.ts';
import {
  ACI_1,
  AEP_M,
  FS_TOKEN_AB,
  messageBackupKey,
  modernMetadata,
  upstreamEncrypted,
  upstreamExpectedPlaintext,
} from './_seal-helpers.ts';

type Browser = Awaited<ReturnType<typeof chromium.launch>>;
type Page = Awaited<ReturnType<Browser['newPage']>>;
let browser: Browser;
let page: Page;
const key = messageBackupKey(AEP_M, ACI_1, FS_TOKEN_AB);
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

beforeAll(async () => {
  const bundle = await build({
    entryPoints: [new URL('../src/index.ts', import.meta.url).pathname],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    globalName: 'Coffer',
    write: false,
    logLevel: 'silent',
  });
  browser = await chromium.launch({
    executablePath: process.env.COFFER_TEST_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  page = await browser.newPage();
  // WebCrypto needs a secure context: serve an empty page as http://localhost (no socket is opened;
  // Playwright answers the request itself).
  const origin = 'http://localhost:22100';
  await page.route(`${origin}/**`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>coffer</title>' }),
  );
  await page.goto(`${origin}/`);
  await page.addScriptTag({ content: bundle.outputFiles[0]?.text ?? '' });
});

afterAll(async () => {
  await browser?.close();
  await closeGzipWorkers();
});

/** Runs `body` in the page with the bundle as `C` and base64 helpers; returns what it returns. */
function inPage<T>(body: string, arg: unknown): Promise<T> {
  return page.evaluate(
    ([src, a]) => {
      const g = globalThis as unknown as { Coffer: unknown };
      const u = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
      const e = (b: Uint8Array) => {
        let s = '';
        for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
        return btoa(s);
      };
      return new Function('C', 'u', 'e', 'arg', `return (async () => { ${src} })();`)(g.Coffer, u, e, a);
    },
    [body, arg] as const,
  ) as Promise<T>;
}

describe('sealed backups in Chromium', () => {
  it('the browser bundle opens both upstream vectors', async () => {
    const out = await inPage<string[]>(
      `const k = { hmacKey: u(arg.h), aesKey: u(arg.a) };
       const lk = { hmacKey: u(arg.lh), aesKey: u(arg.la) };
       const res = [];
       for (const f of [arg.modern, arg.legacy]) {
         const it = C.openBackup(C.bytesSource(u(f)), (h) => (h.layout === 'modern' ? k : lk));
         const parts = []; for await (const p of it) parts.push(...p);
         res.push(e(Uint8Array.from(parts)));
       }
       return res;`,
      {
        h: b64(key.hmacKey),
        a: b64(key.aesKey),
        lh: b64(messageBackupKey(AEP_M, ACI_1).hmacKey),
        la: b64(messageBackupKey(AEP_M, ACI_1).aesKey),
        modern: b64(upstreamEncrypted('new-account')),
        legacy: b64(upstreamEncrypted('legacy-account')),
      },
    );
    expect(out[0]).toBe(b64(upstreamExpectedPlaintext('new-account')));
    expect(out[1]).toBe(b64(upstreamExpectedPlaintext('legacy-account')));
  });

  it('Chromium seals, Node opens; Node seals, Chromium opens (2 MB, modern header)', async () => {
    const plain = new Uint8Array(2_000_000).map((_, i) => (i % 251) ^ (i >> 12));
    const header = encodeSealedHeader(modernMetadata());
    const sealedInPage = unb64(
      await inPage<string>(
        `const parts = [];
         for await (const p of C.sealBackup([u(arg.p)], { hmacKey: u(arg.h), aesKey: u(arg.a) }, { header: u(arg.hd) })) parts.push(p);
         const n = parts.reduce((s, p) => s + p.length, 0); const all = new Uint8Array(n); let o = 0;
         for (const p of parts) { all.set(p, o); o += p.length; }
         return e(all);`,
        { p: b64(plain), h: b64(key.hmacKey), a: b64(key.aesKey), hd: b64(header) },
      ),
    );
    expect(
      Buffer.from(await collect(openBackup(bytesSource(sealedInPage), key))).equals(Buffer.from(plain)),
    ).toBe(true);

    const sealedInNode = await sealBackupToBytes([plain], key, { header });
    const back = await inPage<string>(
      `const parts = []; let n = 0;
       for await (const p of C.openBackup(C.bytesSource(u(arg.f)), { hmacKey: u(arg.h), aesKey: u(arg.a) })) { parts.push(p); n += p.length; }
       const all = new Uint8Array(n); let o = 0; for (const p of parts) { all.set(p, o); o += p.length; }
       return e(all);`,
      { f: b64(sealedInNode), h: b64(key.hmacKey), a: b64(key.aesKey) },
    );
    expect(back).toBe(b64(plain));
  });

  it('Chromium reports a wrong key with the same code and message', async () => {
    const sealed = await sealBackupToBytes([new Uint8Array(5000)], key);
    const err = await inPage<{ code: string; message: string }>(
      `try { for await (const _ of C.openBackup(C.bytesSource(u(arg.f)), { hmacKey: new Uint8Array(32), aesKey: new Uint8Array(32) })) {} return { code: 'none', message: '' }; }
       catch (x) { return { code: x.code, message: x.message }; }`,
      { f: b64(sealed) },
    );
    expect(err).toEqual({
      code: 'COFFER_ERR_BACKUP_KEY_MISMATCH',
      message: 'this recovery key does not open this backup (or the file is damaged)',
    });
  });

  it('attachments sealed in Chromium are byte-identical to Node and open in Node', async () => {
    const plain = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
    const keys = new Uint8Array(64).fill(5);
    const node = await sealAttachmentToBytes(plain, keys, { rng: () => new Uint8Array(16).fill(1) });
    const r = await inPage<{ blob: string; imac: string }>(
      `const r = await C.sealAttachmentToBytes(u(arg.p), u(arg.k), { rng: () => new Uint8Array(16).fill(1) });
       return { blob: e(r.blob), imac: e(r.incrementalMac) };`,
      { p: b64(plain), k: b64(keys) },
    );
    expect(r.blob).toBe(b64(node.blob));
    expect(r.imac).toBe(b64(node.incrementalMac as Uint8Array));
    const back = await collect(
      openAttachment(unb64(r.blob), keys, { size: plain.length, digest: node.digest }),
    );
    expect(Buffer.from(back).equals(Buffer.from(plain))).toBe(true);
  });
});
