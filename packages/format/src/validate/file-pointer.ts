import type { FilePointer, FilePointer_LocatorInfo, MessageAttachment } from '../gen/Backup.ts';
import { fail, prefixError, within } from './rule-error.ts';
import type { ValidationState } from './state.ts';
import { checkTimestamp } from './timestamp.ts';

// spec 3.5 "FilePointer / LocatorInfo" (libsignal backup/file.rs).

function isEmptyLocator(l: FilePointer_LocatorInfo): boolean {
  // An all-default LocatorInfo means "invalid/unavailable attachment" and is accepted as such.
  return (
    l.key.length === 0 &&
    l.integrityCheck === undefined &&
    l.size === 0 &&
    l.transitCdnKey === undefined &&
    l.transitCdnNumber === undefined &&
    l.transitTierUploadTimestamp === undefined &&
    l.mediaTierCdnNumber === undefined &&
    l.localKey === undefined &&
    !hasUnknown(l)
  );
}

function hasUnknown(m: { _unknownFields?: Record<number, Uint8Array[]> | undefined }): boolean {
  const u = m._unknownFields;
  if (u === undefined) return false;
  for (const _ in u) return true;
  return false;
}

function checkLocator(l: FilePointer_LocatorInfo): void {
  if (isEmptyLocator(l)) return;
  const p = 'Locator info: ';
  let transit = false;
  const hasCdnKey = l.transitCdnKey !== undefined;
  const hasCdnNumber = l.transitCdnNumber !== undefined;
  if (hasCdnKey !== hasCdnNumber)
    fail('locator-transit-cdn-mismatch', `${p}Locator had exactly one of transitCdnKey and transitCdnNumber`);
  if (!hasCdnKey) {
    if (l.transitTierUploadTimestamp !== undefined) {
      fail(
        'locator-upload-timestamp-without-cdn-key',
        `${p}Locator had transitCdnUploadTimestamp but not transitCdnKey`,
      );
    }
  } else {
    if (l.transitCdnKey === '')
      fail('locator-empty-transit-cdn-key', `${p}transitCdnKey was present but empty`);
    if (l.transitTierUploadTimestamp !== undefined) {
      within(p, () =>
        checkTimestamp(l.transitTierUploadTimestamp as bigint, 'LocatorInfo.transitTierUploadTimestamp'),
      );
    }
    transit = true;
  }
  const ic = l.integrityCheck;
  const hasKey = l.key.length > 0;
  let plaintextHash = false;
  if (ic === undefined)
    fail('locator-missing-integrity-check', `${p}Missing integrity check (digest or plaintextHash)`);
  if (ic.$case === 'encryptedDigest') {
    if (ic.encryptedDigest.length === 0)
      fail('locator-missing-integrity-check', `${p}Missing integrity check (digest or plaintextHash)`);
    if (!transit || !hasKey) {
      fail(
        'locator-digest-without-transit',
        `${p}encryptedDigest requires transitCdnKey, transitCdnNumber, and key`,
      );
    }
  } else {
    if (ic.plaintextHash.length === 0)
      fail('locator-missing-integrity-check', `${p}Missing integrity check (digest or plaintextHash)`);
    plaintextHash = true;
  }
  const hasContent = transit || plaintextHash;
  if (hasContent && !hasKey) fail('locator-missing-key', `${p}Missing key`);
  if (!hasContent && hasKey)
    fail('locator-unexpected-key', `${p}key is present but neither transitCdnKey nor plaintextHash are set`);
  if (!plaintextHash) {
    if (l.localKey !== undefined)
      fail('locator-local-key-without-hash', `${p}localKey is present but plaintextHash is not set`);
    if (l.mediaTierCdnNumber !== undefined) {
      fail(
        'locator-media-cdn-without-hash',
        `${p}mediaTierCdnNumber is present but plaintextHash is not set`,
      );
    }
  }
}

/** Validates a FilePointer; messages are relative (callers add "attachment: file pointer: " etc.). */
export function checkFilePointer(fp: FilePointer): void {
  const l = fp.locatorInfo;
  if (l === undefined) fail('file-pointer-no-locator', 'FilePointer.locatorInfo is missing');
  checkLocator(l);
  if ((fp.incrementalMac !== undefined) !== (fp.incrementalMacChunkSize !== undefined)) {
    fail(
      'file-pointer-incremental-mac-mismatch',
      'Found exactly one of incrementalMac and incrementalMacChunkSize',
    );
  }
  if (fp.incrementalMac !== undefined && fp.incrementalMac.length === 0) {
    fail('file-pointer-empty-incremental-mac', 'incrementalMac was present but empty');
  }
}

/** MessageAttachment: optional clientUuid must be 16 bytes; the pointer is required. */
export function checkAttachment(a: MessageAttachment, _st?: ValidationState): void {
  if (a.clientUuid !== undefined && a.clientUuid.length !== 16) {
    fail('attachment-invalid-uuid', 'clientUuid is present but invalid');
  }
  const fp = a.pointer;
  if (fp === undefined) fail('attachment-no-file-pointer', 'missing file pointer');
  try {
    checkFilePointer(fp);
  } catch (e) {
    throw prefixError(e, 'file pointer: ');
  }
}
