// The key code is browser-safe: bundle it for the browser (esbuild, platform=browser, so a Node
// import would fail the build) and run it in real Chromium. Derivations must give the vector
// values, and XEdDSA (pure-JS path there: no node:crypto) must interoperate with libsignal.
import { existsSync, readFileSync } from 'node:fs';
import { PrivateKey, PublicKey } from '@signalapp/libsignal-client';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vectorPath } from '../../../test-support/vectors.ts';
import { fromHex, toHex } from '../src/index.ts';

const src = new URL('../src/', import.meta.url).pathname;
const entry = `
export { deriveBackupKey, deriveBackupId, deriveBackupIdKeyPair, deriveMessageBackupKey, deriveMediaId,
  deriveMediaEncryptionKey, deriveThumbnailTransitKey, deriveLocalBackupMetadataKey, deriveSvrKey } from './key-derivation.ts';
export { generateRecoveryKey, parseRecoveryKey, formatRecoveryKey } from './recovery-key.ts';
export { xeddsaSign, xeddsaVerify } from './xeddsa.ts';
export { _hasNativeEd25519 } from './_ed25519-native.ts';
export { toHex, fromHex } from './encoding.ts';
`;

type Browser = Awaited<ReturnType<typeof chromium.launch>>;
type Page = Awaited<ReturnType<Browser['newPage']>>;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  const bundle = await build({
    stdin: { contents: entry, resolveDir: src, loader: 'ts', sourcefile: 'keys-entry.ts' },
    bundle: true,
    platform: 'browser',
    format: 'iife',
    globalName: 'CofferKeys',
    write: false,
    logLevel: 'silent',
  });
  const code = bundle.outputFiles[0]?.text ?? '';
  const executablePath = process.env.COFFER_TEST_CHROMIUM || '/usr/bin/chromium';
  if (!existsSync(executablePath)) throw new Error(`Chromium not found at ${executablePath}`);
  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  page = await browser.newPage();
  await page.addScriptTag({ content: code });
});

afterAll(async () => {
  await browser?.close();
});

describe('keys in Chromium', () => {
  it('derivations match the libsignal-computed vectors', async () => {
    const vectors = JSON.parse(readFileSync(vectorPath('generated', 'key-derivation-vectors.json'), 'utf8'));
    const { input, derived } = vectors.libsignalComputed[0];
    const got = await page.evaluate((inp) => {
      // biome-ignore lint/suspicious/noExplicitAny: the bundle's global, typed on the Node side
      const K = (globalThis as any).CofferKeys;
      const bk = K.deriveBackupKey(inp.aep.toUpperCase());
      const id = K.deriveBackupId(bk, inp.aci);
      const kp = K.deriveBackupIdKeyPair(bk, inp.aci);
      const fs = K.deriveMessageBackupKey(bk, id, K.fromHex(inp.fsToken));
      const root = K.fromHex(inp.mediaRootKey);
      const mediaId = K.deriveMediaId(root, inp.mediaName);
      const mk = K.deriveMediaEncryptionKey(root, mediaId);
      return {
        native: K._hasNativeEd25519(),
        svrKey: K.toHex(K.deriveSvrKey(inp.aep)),
        backupKey: K.toHex(bk),
        backupId: K.toHex(id),
        pub: K.toHex(kp.publicKey),
        fsHmac: K.toHex(fs.hmacKey),
        local: K.toHex(K.deriveLocalBackupMetadataKey(bk)),
        mediaId: K.toHex(mediaId),
        mediaAes: K.toHex(mk.aesKey),
      };
    }, input);
    expect(got).toEqual({
      native: false,
      svrKey: derived.svrKey,
      backupKey: derived.backupKey,
      backupId: derived.backupId,
      pub: derived.backupIdPublicKey,
      fsHmac: derived.messageBackupKeyWithFsToken.hmacKey,
      local: derived.localBackupMetadataKey,
      mediaId: derived.media.mediaId,
      mediaAes: derived.media.mediaEncryptionKey.aesKey,
    });
  });

  it('recovery keys: generated with WebCrypto, precise errors', async () => {
    const got = await page.evaluate(() => {
      // biome-ignore lint/suspicious/noExplicitAny: the bundle's global
      const K = (globalThis as any).CofferKeys;
      const key = K.generateRecoveryKey();
      let code = '';
      let details: unknown;
      try {
        K.parseRecoveryKey(`${K.formatRecoveryKey(key).slice(0, 10)}!`);
      } catch (e) {
        code = (e as { code: string }).code;
        details = (e as { details: unknown }).details;
      }
      return { key, back: K.parseRecoveryKey(K.formatRecoveryKey(key)), code, details };
    });
    expect(got.key).toMatch(/^[0-9a-z]{64}$/);
    expect(got.back).toBe(got.key);
    expect(got.code).toBe('COFFER_ERR_RECOVERY_KEY_CHARACTER');
    expect(got.details).toMatchObject({ character: '!', position: 11, group: 3 });
  });

  it('XEdDSA both ways with libsignal, using the pure-JS verifier', async () => {
    for (let i = 0; i < 10; i++) {
      const ls = PrivateKey.generate();
      const msg = new Uint8Array(50 + i).fill(i);
      const lsSig = ls.sign(msg);
      const got = await page.evaluate(
        ([priv, pub, m, sig]) => {
          // biome-ignore lint/suspicious/noExplicitAny: the bundle's global
          const K = (globalThis as any).CofferKeys;
          const mine = K.xeddsaSign(K.fromHex(priv), K.fromHex(m));
          const tampered = K.fromHex(sig);
          tampered[5] ^= 1;
          return {
            sig: K.toHex(mine),
            theirsOk: K.xeddsaVerify(K.fromHex(pub), K.fromHex(m), K.fromHex(sig)),
            tamperedOk: K.xeddsaVerify(K.fromHex(pub), K.fromHex(m), tampered),
          };
        },
        [toHex(ls.serialize()), toHex(ls.getPublicKey().serialize()), toHex(msg), toHex(lsSig)] as const,
      );
      expect(got.theirsOk).toBe(true);
      expect(got.tamperedOk).toBe(false);
      const ourSig = new Uint8Array(fromHex(got.sig));
      expect(PublicKey.deserialize(ls.getPublicKey().serialize()).verify(msg, ourSig)).toBe(true);
    }
  });
});
