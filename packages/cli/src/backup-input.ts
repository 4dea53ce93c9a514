// Opens what a user hands the CLI as a backup: an unencrypted `.binproto` (varint-delimited
// BackupInfo + Frames), a `.jsonproto` (proto3 JSON form), or a sealed backup file (spec 3),
// and gives back the plaintext stream. Shared by `coffer validate`, `inspect` and `export`.
import { readFile } from 'node:fs/promises';
import {
  CofferError,
  deriveBackupId,
  deriveBackupKey,
  deriveMessageBackupKey,
  fileSource,
  fromHex,
  openBackup,
  parseRecoveryKey,
  readSealedHeader,
  type SealedHeader,
} from '@coffer/crypto';
import { parseJsonProto, writeBackup } from '@coffer/format';

export type InputKind = 'binproto' | 'jsonproto' | 'sealed';

export interface InputOptions {
  key?: string;
  aci?: string;
  /** Hex forward-secrecy token for modern sealed files (normally fetched from SVR-B, spec 7). */
  fsToken?: string;
}

export interface BackupInput {
  kind: InputKind;
  /** Modern or legacy layout, for sealed files. */
  layout?: SealedHeader['layout'];
  size: number;
  /** The plaintext stream; for sealed files it ends normally only after the MAC checks passed. */
  plaintext(): AsyncIterable<Uint8Array>;
}

const MODERN_MAGIC = 'SBACKUP\x01';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export async function openBackupInput(path: string, opts: InputOptions): Promise<BackupInput> {
  if (/\.(jsonproto|json5?)$/i.test(path)) {
    const text = await readFile(path, 'utf8');
    const { info, frames } = parseJsonProto(text);
    return { kind: 'jsonproto', size: Buffer.byteLength(text), plaintext: () => writeBackup(info, frames) };
  }
  const source = await fileSource(path);
  if (opts.key === undefined && opts.aci === undefined) {
    const head = new Uint8Array(8);
    for await (const c of source.read(0, Math.min(8, source.size))) head.set(c, 0);
    if (Buffer.from(head).toString('latin1') === MODERN_MAGIC) {
      throw new CofferError(
        'COFFER_ERR_CLI_KEY_REQUIRED',
        'This file is an encrypted backup: pass --key RECOVERY_KEY and --aci UUID to open it.',
      );
    }
    return { kind: 'binproto', size: source.size, plaintext: () => source.read(0, source.size) };
  }
  if (opts.key === undefined || opts.aci === undefined) {
    throw new CofferError(
      'COFFER_ERR_CLI_KEY_REQUIRED',
      'An encrypted backup needs both --key RECOVERY_KEY and --aci UUID.',
    );
  }
  if (!UUID.test(opts.aci)) {
    throw new CofferError(
      'COFFER_ERR_CLI_ACI',
      'The --aci value must be a UUID like 11111111-2222-3333-4444-555555555555.',
    );
  }
  const backupKey = deriveBackupKey(parseRecoveryKey(opts.key));
  const backupId = deriveBackupId(backupKey, opts.aci);
  const token = opts.fsToken === undefined ? undefined : parseToken(opts.fsToken);
  const header = await readSealedHeader(source);
  return {
    kind: 'sealed',
    layout: header.layout,
    size: source.size,
    plaintext: () =>
      openBackup(source, (h) => {
        // spec 3.1: a modern file's key mixes in the forward-secrecy token; a legacy file's does not.
        if (h.layout === 'legacy') return deriveMessageBackupKey(backupKey, backupId);
        if (token === undefined) {
          throw new CofferError(
            'COFFER_ERR_CLI_FS_TOKEN_REQUIRED',
            'This backup uses forward secrecy: its key needs the token Signal keeps in SVR-B. Pass it as --fs-token (64 hex digits).',
          );
        }
        return deriveMessageBackupKey(backupKey, backupId, token);
      }),
  };
}

function parseToken(hex: string): Uint8Array {
  const ok = /^[0-9a-f]{64}$/i.test(hex);
  if (!ok) {
    throw new CofferError(
      'COFFER_ERR_CLI_FS_TOKEN_REQUIRED',
      'The --fs-token value must be 64 hex digits (32 bytes).',
    );
  }
  return fromHex(hex.toLowerCase());
}
