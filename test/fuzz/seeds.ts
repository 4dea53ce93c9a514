/**
 * Seed corpora for the fuzz targets, written into a fresh corpus folder before each run: the shared
 * test vectors (read from COFFER_VECTORS_DIR / ../shared/vectors, never copied into the repository)
 * plus a few inputs generated here (valid recovery keys, backups sealed under the fuzz key, one
 * request per route for the server target).
 */
import fs from 'node:fs';
import path from 'node:path';
import { closeGzipWorkers, formatRecoveryKey, generateRecoveryKey, sealBackupToBytes } from '@coffer/crypto';
import { PATHS } from '@coffer/protocol';
import { vectorPath } from '../../test-support/vectors.ts';
import { SEALED_FUZZ_KEY } from './targets.ts';

/** Seeds larger than this are left out: libFuzzer's -max_len follows the largest seed. */
const MAX_SEED = 16 * 1024;

const message = (...p: string[]) => vectorPath('libsignal', 'rust', 'message-backup', 'tests', 'res', ...p);

/** Plaintext framed backups: libsignal's canonical backup and every ~4th signal-message-backup-tests case. */
function plaintextBackups(): Buffer[] {
  const dir = vectorPath('signal-message-backup-tests', 'test-cases');
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.binproto'))
    .sort()
    .filter((_, i) => i % 4 === 0)
    .map((f) => path.join(dir, f));
  return [message('canonical-backup.binproto'), ...files]
    .map((f) => fs.readFileSync(f))
    .filter((b) => b.length <= MAX_SEED);
}

async function sealedBackups(): Promise<Buffer[]> {
  const out = [
    fs.readFileSync(message('test-cases', 'valid-encrypted', 'legacy-account.binproto.encrypted')),
  ];
  for (const plain of plaintextBackups().slice(0, 6)) {
    out.push(Buffer.from(await sealBackupToBytes([new Uint8Array(plain)], SEALED_FUZZ_KEY, { workers: 0 })));
  }
  await closeGzipWorkers();
  return out;
}

function recoveryKeys(): Buffer[] {
  const keys = [generateRecoveryKey(), generateRecoveryKey(), 'm'.repeat(64)];
  return [
    ...keys,
    formatRecoveryKey(keys[0] as string),
    formatRecoveryKey(keys[1] as string, '-'),
    (keys[0] as string).toUpperCase(),
    '',
  ].map((k) => Buffer.from(k, 'utf8'));
}

/** Requests in the server target's encoding (server-target.ts): route, method, flags, fields. */
function requests(): Buffer[] {
  const routes = Object.values(PATHS) as string[];
  const methods = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];
  const req = (route: string, method: string, flags: number, ...f: string[]) =>
    Buffer.concat([
      Buffer.from([routes.indexOf(route), methods.indexOf(method), flags]),
      Buffer.from(f.join('\0'), 'latin1'),
    ]);
  const signed = 64 | 16; // validly signed, JSON body
  return [
    ...routes.map((r) => req(r, 'GET', 0, 'AAAAAAAAAAAAAAAAAAAAAA')),
    req(PATHS.archive, 'GET', signed),
    req(PATHS.archiveKeys, 'PUT', signed, '', '', '', '', '', '{"backupIdPublicKey":"AAAA"}'),
    req(PATHS.archiveUploadForm, 'GET', signed, '', 'uploadLength=1000'),
    req(PATHS.archiveVersions, 'GET', signed, '', 'limit=5&cursor=x'),
    req(PATHS.media, 'GET', signed, '', 'limit=10&cursor=abc'),
    req(PATHS.media, 'GET', signed, '', 'limit=10'),
    req(PATHS.media, 'PUT', signed | 128, '', '', '', '', '', '{"sourceUploadId":"x","objectLength":10}'),
    req(PATHS.mediaBatch, 'PUT', signed | 128, '', '', '', '', '', '{"items":[{"mediaId":"a"}]}'),
    req(PATHS.mediaDelete, 'POST', signed | 128, '', '', '', '', '', '{"mediaToDelete":[{"mediaId":"a"}]}'),
    req(PATHS.mediaUsage, 'GET', signed | 128),
    req(PATHS.cdnBackup, 'GET', 1 | 4, 'messageBackup', '', 'token', 'bytes=0-10'),
    req(PATHS.uploads, 'POST', 1 | 8, '', '', 'token', '100', 'filename ZmlsZQ=='),
    req(PATHS.verificationSessions, 'POST', 16, '', '', '', '', '', '{"identifier":"a@example.org"}'),
    req(PATHS.credentials, 'GET', 1, '', 'redemptionStartSeconds=0&redemptionEndSeconds=86400', 'token'),
  ];
}

/** Writes the seeds of `target` into `dir`; returns how many. */
export async function writeSeeds(target: string, dir: string): Promise<number> {
  const seeds =
    target === 'recovery-key'
      ? recoveryKeys()
      : target === 'frame-reader' || target === 'validator'
        ? plaintextBackups()
        : target === 'sealed-reader'
          ? await sealedBackups()
          : target === 'server-requests'
            ? requests()
            : [];
  if (seeds.length === 0) throw new Error(`no seeds for fuzz target ${target}`);
  fs.mkdirSync(dir, { recursive: true });
  seeds.forEach((s, i) => {
    fs.writeFileSync(path.join(dir, `seed-${String(i).padStart(4, '0')}`), s);
  });
  return seeds.length;
}

/**
 * libFuzzer dictionary entries (printable ASCII) for targets whose input has a grammar the fuzzer
 * would take long to guess: the server's query keys, odd numbers and JSON field names.
 */
export function dictionary(target: string): string[] {
  if (target !== 'server-requests') return [];
  const keys = ['limit', 'cursor', 'uploadLength', 'start', 'end', 'version', 'identifier', 'level'];
  const numbers = ['Infinity', '-Infinity', 'NaN', '1e400', '-0', '0x10', '9007199254740993', '1.5', '-1'];
  const fields = ['backupIdPublicKey', 'sourceUploadId', 'objectLength', 'mediaId', 'mediaToDelete', 'items'];
  return [
    ...keys.map((k) => `${k}=`),
    ...numbers,
    ...fields.map((f) => `"${f}":`),
    'bytes=',
    'Bearer ',
    '%00',
    '%2e%2e',
    'null',
    'true',
    '{}',
    '[]',
  ];
}
