// spec 3.1 / 7: the two on-disk layouts of a sealed messages backup and the unauthenticated
// forward-secrecy header (`SBACKUP\x01 || varint32(L) || MetadataPb`) of the modern one.
import { abytes } from './_assert.ts';
import { CofferError } from './errors.ts';

/** `SBACKUP` followed by the structural version byte 0x01 (spec 3.1). */
export const SEALED_MAGIC: Uint8Array = Uint8Array.of(0x53, 0x42, 0x41, 0x43, 0x4b, 0x55, 0x50, 0x01);

/**
 * Upper bound on the MetadataPb length we accept. A real header is under 200 bytes (two pairs of
 * 48 + 32 bytes plus a 12-byte IV); the cap keeps a damaged length prefix from making a reader
 * buffer a large part of the file before it has checked anything.
 */
export const MAX_METADATA_LENGTH = 64 * 1024;

export type BackupLayout = 'modern' | 'legacy';

/** One forward-secrecy token encryption (spec 7): 48-byte ct (token + truncated MAC), 32-byte salt. */
export interface ForwardSecrecyPair {
  readonly ct: Uint8Array;
  readonly pwSalt: Uint8Array;
}

/** What a reader learns from a file before any key is needed. */
export interface SealedHeader {
  readonly layout: BackupLayout;
  /** Offset of the IV: 0 for legacy files, `8 + len(varint) + L` for modern ones. */
  readonly bodyOffset: number;
  /** Modern files only: the raw MetadataPb bytes (what SVR-B `restore` takes). */
  readonly metadata?: Uint8Array;
  /** Modern files only: the parsed pairs, in file order (writers put the previous pair first). */
  readonly pairs?: readonly ForwardSecrecyPair[];
  /** Modern files only: the 12-byte IV shared by the pairs' token ciphertexts. */
  readonly metadataIv?: Uint8Array;
  /** Numbers of MetadataPb fields this reader does not know (libsignal only logs them). */
  readonly unknownMetadataFields?: readonly number[];
}

/**
 * spec 3.1: a file is modern exactly when its first 8 bytes are `SBACKUP\x01`. Anything else,
 * including `SBACKUP` with another version byte (libsignal logs a warning), is read as legacy,
 * where those bytes are the start of the IV.
 */
export function detectBackupLayout(first8: Uint8Array): BackupLayout {
  abytes('first8', first8);
  if (first8.length < 8) return 'legacy';
  for (let i = 0; i < 8; i++) if (first8[i] !== SEALED_MAGIC[i]) return 'legacy';
  return 'modern';
}

/** Builds the modern prefix `SBACKUP\x01 || varint32(len) || metadata` for a MetadataPb. */
export function encodeSealedHeader(metadata: Uint8Array): Uint8Array {
  abytes('metadata', metadata);
  parseMetadataPb(metadata); // refuse to write what a reader (ours or libsignal's) would reject
  const len = encodeVarint32(metadata.length);
  const out = new Uint8Array(8 + len.length + metadata.length);
  out.set(SEALED_MAGIC, 0);
  out.set(len, 8);
  out.set(metadata, 8 + len.length);
  return out;
}

/**
 * Reads a varint32 at `pos`. Returns undefined when `bytes` ends first (the caller decides whether
 * that is truncation); throws on a varint longer than 5 bytes or above 2^32-1.
 */
export function readVarint32(bytes: Uint8Array, pos: number): { value: number; next: number } | undefined {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    if (pos + i >= bytes.length) return undefined;
    const b = bytes[pos + i] as number;
    if (i === 4 && b > 0x0f) throw headerError('the length prefix is not a valid 32-bit varint');
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return { value, next: pos + i + 1 };
  }
  throw headerError('the length prefix is not a valid 32-bit varint');
}

export function encodeVarint32(n: number): Uint8Array {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/**
 * Parses a modern header from the first bytes of a file (`prefix` must hold the whole header; if
 * it is too short the function returns the number of bytes it needs). Checks MetadataPb the way
 * libsignal does when it reads a file (spec 3.1): 1 or 2 pairs, each ct 48 bytes and pw_salt 32
 * bytes, iv 12 bytes; unknown fields are tolerated and reported.
 */
export function parseModernHeader(prefix: Uint8Array): SealedHeader | { need: number } {
  const v = readVarint32(prefix, 8);
  if (v === undefined) return { need: Math.min(prefix.length + 5, 8 + 5) };
  if (v.value > MAX_METADATA_LENGTH) {
    throw headerError(`the metadata header claims ${v.value} bytes (at most ${MAX_METADATA_LENGTH} allowed)`);
  }
  const end = v.next + v.value;
  if (prefix.length < end) return { need: end };
  const metadata = prefix.slice(v.next, end);
  const parsed = parseMetadataPb(metadata);
  return { layout: 'modern', bodyOffset: end, metadata, ...parsed };
}

/** Strict parse of `svrb.backup_metadata.MetadataPb` (spec 3.1, 7), written by hand: it has two fields. */
export function parseMetadataPb(bytes: Uint8Array): {
  pairs: ForwardSecrecyPair[];
  metadataIv: Uint8Array;
  unknownMetadataFields: number[];
} {
  const pairs: ForwardSecrecyPair[] = [];
  const unknown: number[] = [];
  let iv: Uint8Array = new Uint8Array(0);
  for (const f of protoFields(bytes, 'MetadataPb')) {
    if (f.field === 1) {
      if (f.wire !== 2) throw headerError('MetadataPb.pair has the wrong wire type');
      let ct: Uint8Array = new Uint8Array(0);
      let pwSalt: Uint8Array = new Uint8Array(0);
      for (const g of protoFields(f.value as Uint8Array, 'MetadataPb.Pair')) {
        if (g.field === 1 || g.field === 2) {
          if (g.wire !== 2) throw headerError('MetadataPb.Pair field has the wrong wire type');
          if (g.field === 1) ct = g.value as Uint8Array;
          else pwSalt = g.value as Uint8Array;
        } else unknown.push(g.field);
      }
      if (ct.length !== 48)
        throw headerError(`a forward-secrecy pair's ct is ${ct.length} bytes, expected 48`);
      if (pwSalt.length !== 32) {
        throw headerError(`a forward-secrecy pair's pw_salt is ${pwSalt.length} bytes, expected 32`);
      }
      pairs.push({ ct, pwSalt });
    } else if (f.field === 2) {
      if (f.wire !== 2) throw headerError('MetadataPb.iv has the wrong wire type');
      iv = f.value as Uint8Array; // proto3: the last occurrence wins
    } else unknown.push(f.field);
  }
  if (pairs.length === 0) throw headerError('the metadata header has no forward-secrecy pair');
  if (pairs.length > 2)
    throw headerError(`the metadata header has ${pairs.length} forward-secrecy pairs (at most 2)`);
  if (iv.length !== 12) throw headerError(`the metadata header's iv is ${iv.length} bytes, expected 12`);
  return { pairs, metadataIv: iv, unknownMetadataFields: unknown };
}

interface ProtoField {
  field: number;
  wire: number;
  value: Uint8Array | number;
}

function* protoFields(bytes: Uint8Array, what: string): Generator<ProtoField> {
  let pos = 0;
  while (pos < bytes.length) {
    const tag = readVarint64ish(bytes, pos, what);
    pos = tag.next;
    const field = Math.floor(tag.value / 8);
    const wire = tag.value % 8;
    if (field === 0) throw headerError(`${what} has a field number 0`);
    if (wire === 0) {
      const v = readVarint64ish(bytes, pos, what);
      pos = v.next;
      yield { field, wire, value: v.value };
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (pos + n > bytes.length) throw headerError(`${what} ends inside a fixed-size field`);
      pos += n;
      yield { field, wire, value: 0 };
    } else if (wire === 2) {
      const len = readVarint64ish(bytes, pos, what);
      pos = len.next;
      if (pos + len.value > bytes.length) throw headerError(`${what} ends inside a length-delimited field`);
      yield { field, wire, value: bytes.slice(pos, pos + len.value) };
      pos += len.value;
    } else {
      // Groups (3, 4) are not proto3; 6 and 7 do not exist.
      throw headerError(`${what} has an unsupported wire type ${wire}`);
    }
  }
}

/** Protobuf varint up to 10 bytes; values above 2^53 are rejected (never legitimate here). */
function readVarint64ish(bytes: Uint8Array, pos: number, what: string): { value: number; next: number } {
  let value = 0;
  for (let i = 0; i < 10; i++) {
    if (pos + i >= bytes.length) throw headerError(`${what} ends inside a varint`);
    const b = bytes[pos + i] as number;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) {
      if (!Number.isSafeInteger(value)) throw headerError(`${what} has an oversized varint`);
      return { value, next: pos + i + 1 };
    }
  }
  throw headerError(`${what} has a varint longer than 10 bytes`);
}

function headerError(reason: string): CofferError {
  return new CofferError(
    'COFFER_ERR_BACKUP_CORRUPT',
    'the backup file is damaged: its forward-secrecy header cannot be read (try downloading it again)',
    { details: { part: 'header', reason } },
  );
}
