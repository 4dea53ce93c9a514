// Mutation tests: break valid backups one change at a time and check that Coffer's validator
// rejects exactly when libsignal's does (OnlineBackupValidator, devDependency, test-only).
import { readdirSync, readFileSync } from 'node:fs';
import * as MessageBackup from '@signalapp/libsignal-client/dist/MessageBackup.js';
import { describe, expect, it } from 'vitest';
import { vectorPath } from '../../../test-support/vectors.ts';
import { readBackupAll } from '../src/frame-reader.ts';
import { BackupInfo, Frame } from '../src/gen/Backup.ts';
import { BackupValidator, type ValidationPurpose } from '../src/index.ts';
import { parseJsonProto } from '../src/json-form.ts';

type Backup = { info: BackupInfo; frames: Frame[] };
type Mutation = (b: Backup, r: Rng) => string | undefined; // returns a label, or undefined if not applicable

const MUTATIONS = Number(process.env.COFFER_MUTATIONS ?? 3000);
const SEED = Number(process.env.COFFER_MUTATION_SEED ?? 20261125);

/** Small deterministic PRNG (mulberry32), so every run makes the same mutations. */
class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  next(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)] as T;
  }
}

// ---------------------------------------------------------------- model helpers

type Slot = { obj: Record<string, unknown>; key: string; value: unknown; path: string };

/** Every field slot under `v` (skipping unknown-field storage), depth first. */
function slots(v: unknown, path: string, out: Slot[]): Slot[] {
  if (typeof v !== 'object' || v === null || v instanceof Uint8Array) return out;
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k === '_unknownFields' || k === '$case') continue;
    const val = o[k];
    out.push({ obj: o, key: k, value: val, path: `${path}.${k}` });
    if (Array.isArray(val)) {
      val.forEach((e, i) => {
        out.push({
          obj: val as unknown as Record<string, unknown>,
          key: String(i),
          value: e,
          path: `${path}.${k}[${i}]`,
        });
        slots(e, `${path}.${k}[${i}]`, out);
      });
    } else slots(val, `${path}.${k}`, out);
  }
  return out;
}

const kind = (f: Frame) => f.item?.$case ?? 'empty';
const framesOf = (b: Backup, k: string) =>
  b.frames.map((f, i) => [f, i] as const).filter(([f]) => kind(f) === k);
function recipientIds(b: Backup): bigint[] {
  return b.frames.flatMap((f) => (f.item?.$case === 'recipient' ? [f.item.recipient.id] : []));
}
function selfIndex(b: Backup): number {
  return b.frames.findIndex(
    (f) => f.item?.$case === 'recipient' && f.item.recipient.destination?.$case === 'self',
  );
}
function filePointers(b: Backup): Slot[] {
  const out: Slot[] = [];
  b.frames.forEach((f, i) => {
    for (const s of slots(f, `frames[${i}]`, [])) if (s.key === 'locatorInfo' && s.value) out.push(s);
  });
  return out;
}

// ---------------------------------------------------------------- targeted mutations (spec 3.5)

const targeted: Record<string, Mutation> = {
  dropSelf: (b) => {
    const i = selfIndex(b);
    if (i < 0) return undefined;
    b.frames.splice(i, 1);
    return 'drop the Self recipient';
  },
  dropAccountData: (b) => {
    const i = b.frames.findIndex((f) => kind(f) === 'account');
    if (i < 0) return undefined;
    b.frames.splice(i, 1);
    return 'drop AccountData';
  },
  secondAccountData: (b, r) => {
    const a = b.frames.find((f) => kind(f) === 'account');
    if (!a) return undefined;
    b.frames.splice(1 + r.int(b.frames.length), 0, structuredClone(a));
    return 'second AccountData';
  },
  duplicateRecipientId: (b, r) => {
    const rs = framesOf(b, 'recipient');
    if (rs.length < 2) return undefined;
    const [a] = r.pick(rs);
    const [c] = r.pick(rs);
    if (a === c || a.item?.$case !== 'recipient' || c.item?.$case !== 'recipient') return undefined;
    c.item.recipient.id = a.item.recipient.id;
    return 'duplicate a recipient id';
  },
  duplicateRecipientFrame: (b, r) => {
    const rs = framesOf(b, 'recipient');
    if (rs.length === 0) return undefined;
    const [f, i] = r.pick(rs);
    const copy = structuredClone(f);
    if (copy.item?.$case !== 'recipient') return undefined;
    copy.item.recipient.id = 900_000n + BigInt(r.int(1000));
    b.frames.splice(i + 1, 0, copy);
    return `duplicate a ${f.item?.$case === 'recipient' ? f.item.recipient.destination?.$case : ''} recipient under a new id`;
  },
  zeroRecipientId: (b, r) => {
    const rs = framesOf(b, 'recipient');
    if (rs.length === 0) return undefined;
    const [f] = r.pick(rs);
    if (f.item?.$case === 'recipient') f.item.recipient.id = 0n;
    return 'zero recipient id';
  },
  zeroChatId: (b, r) => {
    const cs = framesOf(b, 'chat');
    if (cs.length === 0) return undefined;
    const [f] = r.pick(cs);
    if (f.item?.$case === 'chat') f.item.chat.id = 0n;
    return 'zero chat id';
  },
  duplicateChatId: (b, r) => {
    const cs = framesOf(b, 'chat');
    if (cs.length < 2) return undefined;
    const [a] = cs[0] as (typeof cs)[0];
    const [c] = r.pick(cs.slice(1));
    if (a.item?.$case === 'chat' && c.item?.$case === 'chat') c.item.chat.id = a.item.chat.id;
    return 'duplicate chat id';
  },
  itemMissingChat: (b, r) => {
    const is = framesOf(b, 'chatItem');
    if (is.length === 0) return undefined;
    const [f] = r.pick(is);
    if (f.item?.$case === 'chatItem') f.item.chatItem.chatId = 777_777n;
    return 'chat item points at a missing chat';
  },
  itemMissingAuthor: (b, r) => {
    const is = framesOf(b, 'chatItem');
    if (is.length === 0) return undefined;
    const [f] = r.pick(is);
    if (f.item?.$case === 'chatItem') f.item.chatItem.authorId = 777_778n;
    return 'chat item author missing';
  },
  itemOtherAuthor: (b, r) => {
    const is = framesOf(b, 'chatItem');
    const ids = recipientIds(b);
    if (is.length === 0 || ids.length === 0) return undefined;
    const [f] = r.pick(is);
    if (f.item?.$case === 'chatItem') f.item.chatItem.authorId = r.pick(ids);
    return 'chat item author replaced by another recipient';
  },
  chatMissingRecipient: (b, r) => {
    const cs = framesOf(b, 'chat');
    if (cs.length === 0) return undefined;
    const [f] = r.pick(cs);
    if (f.item?.$case === 'chat') f.item.chat.recipientId = 777_779n;
    return 'chat points at a missing recipient';
  },
  chatOtherRecipient: (b, r) => {
    const cs = framesOf(b, 'chat');
    const ids = recipientIds(b);
    if (cs.length === 0 || ids.length === 0) return undefined;
    const [f] = r.pick(cs);
    if (f.item?.$case === 'chat') f.item.chat.recipientId = r.pick(ids);
    return 'chat recipient replaced by another recipient';
  },
  useBeforeDefine: (b, r) => {
    const i = 1 + r.int(Math.max(1, b.frames.length - 1));
    const j = r.int(i);
    const [f] = b.frames.splice(i, 1);
    if (!f) return undefined;
    b.frames.splice(j, 0, f);
    return `move frame ${i} (${kind(f)}) to ${j}`;
  },
  mediaRootKeyLength: (b, r) => {
    const n = r.pick([0, 16, 31, 33, 64]);
    b.info.mediaRootBackupKey = new Uint8Array(n).fill(7);
    return `mediaRootBackupKey of ${n} bytes`;
  },
  backupTimeFarFuture: (b) => {
    b.info.backupTimeMs = 8_640_000_000_000_001n;
    return 'backupTimeMs beyond the safe range';
  },
  pinnedOrderClash: (b, r) => {
    const cs = framesOf(b, 'chat');
    if (cs.length < 2) return undefined;
    const order = 1 + r.int(3);
    for (const [f] of cs.slice(0, 2)) if (f.item?.$case === 'chat') f.item.chat.pinnedOrder = order;
    return 'two chats with the same pinnedOrder';
  },
  shortExpiry: (b, r) => {
    const is = framesOf(b, 'chatItem');
    if (is.length === 0) return undefined;
    const [f] = r.pick(is);
    if (f.item?.$case !== 'chatItem') return undefined;
    const ci = f.item.chatItem;
    ci.expiresInMs = BigInt(r.pick([1000, 3_600_000, 86_399_999, 86_400_000, 30 * 86_400_000]));
    if (r.int(2) === 0) ci.expireStartDate = b.info.backupTimeMs - BigInt(r.int(3)) * 86_400_000n;
    else ci.expireStartDate = undefined;
    return `expiring message (expiresIn ${ci.expiresInMs}, start ${ci.expireStartDate ?? 'unset'})`;
  },
  expireStartWithoutDuration: (b, r) => {
    const is = framesOf(b, 'chatItem');
    if (is.length === 0) return undefined;
    const [f] = r.pick(is);
    if (f.item?.$case !== 'chatItem') return undefined;
    f.item.chatItem.expireStartDate = b.info.backupTimeMs;
    f.item.chatItem.expiresInMs = undefined;
    return 'expireStartDate without expiresInMs';
  },
  viewOnce: (b, r) => {
    const is = framesOf(b, 'chatItem').filter(
      ([f]) => f.item?.$case === 'chatItem' && f.item.chatItem.item?.$case === 'standardMessage',
    );
    if (is.length === 0) return undefined;
    const [f] = r.pick(is);
    if (f.item?.$case !== 'chatItem' || f.item.chatItem.item?.$case !== 'standardMessage') return undefined;
    const sm = f.item.chatItem.item.standardMessage;
    const att = sm.attachments[0];
    f.item.chatItem.item = { $case: 'viewOnceMessage', viewOnceMessage: { attachment: att, reactions: [] } };
    f.item.chatItem.revisions = [];
    return `standard message turned view-once (${att ? 'with' : 'without'} attachment)`;
  },
  filePointerCombo: (b, r) => {
    const fps = filePointers(b);
    if (fps.length === 0) return undefined;
    const s = r.pick(fps);
    const l = s.value as Record<string, unknown>;
    const fp = s.obj;
    const op = r.int(12);
    switch (op) {
      case 0:
        l.key = new Uint8Array(0);
        return 'locator without key';
      case 1:
        l.transitCdnKey = 'abc';
        l.transitCdnNumber = undefined;
        return 'transitCdnKey without number';
      case 2:
        l.integrityCheck = undefined;
        return 'no integrity check';
      case 3:
        l.integrityCheck = { $case: 'encryptedDigest', encryptedDigest: new Uint8Array(32).fill(1) };
        return 'integrity check switched to encryptedDigest';
      case 4:
        l.localKey = new Uint8Array(32).fill(2);
        return 'localKey added';
      case 5:
        l.mediaTierCdnNumber = 2;
        return 'mediaTierCdnNumber added';
      case 6:
        l.transitTierUploadTimestamp = b.info.backupTimeMs;
        return 'upload timestamp added';
      case 7:
        fp.incrementalMac = new Uint8Array(16).fill(3);
        fp.incrementalMacChunkSize = undefined;
        return 'incrementalMac without chunk size';
      case 8:
        fp.incrementalMac = new Uint8Array(0);
        fp.incrementalMacChunkSize = 65536;
        return 'empty incrementalMac';
      case 9:
        fp.locatorInfo = {
          key: new Uint8Array(0),
          integrityCheck: undefined,
          size: 0,
        };
        return 'empty (all-default) LocatorInfo';
      case 10:
        fp.locatorInfo = undefined;
        return 'no locatorInfo';
      default:
        l.transitCdnKey = '';
        l.transitCdnNumber = 3;
        return 'empty transitCdnKey';
    }
  },
  accountDataField: (b, r) => {
    const a = b.frames.find((f) => kind(f) === 'account');
    if (a?.item?.$case !== 'account') return undefined;
    const ad = a.item.account;
    const s = ad.accountSettings;
    switch (r.int(9)) {
      case 0:
        ad.profileKey = ad.profileKey.subarray(0, 31);
        return 'profile key 31 bytes';
      case 1:
        if (!s) return undefined;
        s.appTheme = 0;
        return 'appTheme UNKNOWN';
      case 2:
        if (!s) return undefined;
        s.backupTier = BigInt(r.pick([0, 199, 200, 201, 202]));
        return `backupTier ${s.backupTier}`;
      case 3:
        if (!s) return undefined;
        s.optimizeOnDeviceStorage = true;
        return 'optimizeOnDeviceStorage';
      case 4:
        ad.username = undefined;
        return 'username removed';
      case 5:
        ad.username = r.pick(['a.12', 'abc.1', 'abc.012', '1abc.12', 'abc', 'ab_c.42']);
        return `username ${ad.username}`;
      case 6:
        if (!s) return undefined;
        s.phoneNumberSharingMode = 0;
        return 'phone sharing UNKNOWN';
      case 7:
        ad.accountSettings = undefined;
        return 'no account settings';
      default:
        ad.usernameLink = {
          entropy: new Uint8Array(r.pick([31, 32])),
          serverId: new Uint8Array(r.pick([15, 16])),
          color: 0,
        };
        return 'username link replaced';
    }
  },
  chatFolder: (b, r) => {
    const fs = framesOf(b, 'chatFolder');
    if (fs.length === 0) return undefined;
    const [f, i] = r.pick(fs);
    if (f.item?.$case !== 'chatFolder') return undefined;
    switch (r.int(4)) {
      case 0:
        b.frames.splice(i, 1);
        return 'drop a chat folder';
      case 1:
        f.item.chatFolder.folderType = r.pick([0, 1, 2]);
        return `folder type ${f.item.chatFolder.folderType}`;
      case 2:
        b.frames.splice(i, 0, structuredClone(f));
        return 'duplicate a chat folder';
      default:
        f.item.chatFolder.id = new Uint8Array(r.pick([0, 15, 16]));
        return `folder id of ${f.item.chatFolder.id.length} bytes`;
    }
  },
};

// ---------------------------------------------------------------- generic field mutations

const generic: Record<string, Mutation> = {
  fieldZeroOrOther: (b, r) => {
    const i = r.int(b.frames.length);
    const all = slots(b.frames[i], `frames[${i}]`, []).filter((s) => typeof s.value === 'bigint');
    if (all.length === 0) return undefined;
    const s = r.pick(all);
    const ids = recipientIds(b);
    const v = r.pick([0n, 1n, 999_999n, 8_640_000_000_000_001n, ...(ids.length ? [r.pick(ids)] : [])]);
    s.obj[s.key] = v;
    return `${s.path} = ${v}`;
  },
  bytesLength: (b, r) => {
    const i = r.int(b.frames.length);
    const all = slots(b.frames[i], `frames[${i}]`, []).filter((s) => s.value instanceof Uint8Array);
    if (all.length === 0) return undefined;
    const s = r.pick(all);
    const u = s.value as Uint8Array;
    const n = r.pick([0, Math.max(0, u.length - 1), u.length + 1]);
    const w = new Uint8Array(n);
    w.set(u.subarray(0, n));
    s.obj[s.key] = w;
    return `${s.path}: ${u.length} -> ${n} bytes`;
  },
  clearMessageField: (b, r) => {
    const i = r.int(b.frames.length);
    const all = slots(b.frames[i], `frames[${i}]`, []).filter(
      (s) =>
        typeof s.value === 'object' &&
        s.value !== null &&
        !(s.value instanceof Uint8Array) &&
        !Array.isArray(s.obj),
    );
    if (all.length === 0) return undefined;
    const s = r.pick(all);
    if (Array.isArray(s.value)) s.obj[s.key] = [];
    else s.obj[s.key] = undefined;
    return `${s.path} cleared`;
  },
  numberField: (b, r) => {
    const i = r.int(b.frames.length);
    const all = slots(b.frames[i], `frames[${i}]`, []).filter(
      (s) => typeof s.value === 'number' && !Array.isArray(s.obj),
    );
    if (all.length === 0) return undefined;
    const s = r.pick(all);
    const v = r.pick([0, 1, 2, 3, 99, 2400, 0xff00ff00 | 0]);
    s.obj[s.key] = v;
    return `${s.path} = ${v}`;
  },
  stringField: (b, r) => {
    const i = r.int(b.frames.length);
    const all = slots(b.frames[i], `frames[${i}]`, []).filter((s) => typeof s.value === 'string');
    if (all.length === 0) return undefined;
    const s = r.pick(all);
    s.obj[s.key] = r.pick(['', 'x', 'ab.12']);
    return `${s.path} = ${JSON.stringify(s.obj[s.key])}`;
  },
  flipBool: (b, r) => {
    const i = r.int(b.frames.length);
    const all = slots(b.frames[i], `frames[${i}]`, []).filter((s) => typeof s.value === 'boolean');
    if (all.length === 0) return undefined;
    const s = r.pick(all);
    s.obj[s.key] = !s.value;
    return `${s.path} flipped`;
  },
  dropFrame: (b, r) => {
    if (b.frames.length === 0) return undefined;
    const i = r.int(b.frames.length);
    const [f] = b.frames.splice(i, 1);
    return `drop frame ${i} (${f ? kind(f) : ''})`;
  },
  duplicateFrame: (b, r) => {
    if (b.frames.length === 0) return undefined;
    const i = r.int(b.frames.length);
    b.frames.splice(i, 0, structuredClone(b.frames[i] as Frame));
    return `duplicate frame ${i} (${kind(b.frames[i] as Frame)})`;
  },
};

// ---------------------------------------------------------------- the oracle

const PURPOSES: ValidationPurpose[] = ['remote-backup', 'device-transfer', 'takeout-export'];
const LIB_PURPOSE = {
  'remote-backup': MessageBackup.Purpose.RemoteBackup,
  'device-transfer': MessageBackup.Purpose.DeviceTransfer,
  'takeout-export': MessageBackup.Purpose.TakeoutExport,
} as const;

function libsignal(b: Backup, purpose: ValidationPurpose): string {
  try {
    const v = new MessageBackup.OnlineBackupValidator(
      BackupInfo.encode(b.info).finish(),
      LIB_PURPOSE[purpose],
    );
    for (const f of b.frames) v.addFrame(Frame.encode(f).finish());
    v.finalize();
    return 'ok';
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

function coffer(b: Backup, purpose: ValidationPurpose): string {
  try {
    const v = new BackupValidator({ purpose });
    v.addInfo(b.info);
    b.frames.forEach((f, i) => {
      v.addFrame(f, { index: i });
    });
    v.finish();
    return 'ok';
  } catch (e) {
    const d = (e as { details?: { reason?: string } }).details;
    return d?.reason ?? `THROWN: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** Wire round trip: what libsignal sees is the encoded message, so judge the decoded re-read. */
function reread(b: Backup): Backup {
  return {
    info: BackupInfo.decode(BackupInfo.encode(b.info).finish()),
    frames: b.frames.map((f) => Frame.decode(Frame.encode(f).finish())),
  };
}

// ---------------------------------------------------------------- the test

async function loadBases(): Promise<{ name: string; backup: Backup }[]> {
  const out: { name: string; backup: Backup }[] = [];
  const smbt = vectorPath('signal-message-backup-tests/test-cases');
  for (const f of readdirSync(smbt)
    .filter((x) => x.endsWith('.binproto'))
    .sort()) {
    out.push({ name: f, backup: await readBackupAll(readFileSync(`${smbt}/${f}`)) });
  }
  const valid = vectorPath('libsignal/rust/message-backup/tests/res/test-cases/valid');
  for (const f of readdirSync(valid)
    .filter((x) => x.endsWith('.jsonproto'))
    .sort()) {
    out.push({ name: f, backup: parseJsonProto(readFileSync(`${valid}/${f}`, 'utf8')) });
  }
  return out;
}

describe('mutation tests against libsignal', () => {
  it(`agrees with libsignal on ${MUTATIONS} deterministic mutations of valid backups`, async () => {
    const bases = await loadBases();
    const rng = new Rng(SEED);
    const ops = [...Object.entries(targeted), ...Object.entries(targeted), ...Object.entries(generic)];
    const disagreements: string[] = [];
    const textDiffs: string[] = [];
    const byOp = new Map<string, { n: number; rejected: number; sameText: number }>();
    let made = 0;
    let attempts = 0;
    while (made < MUTATIONS && attempts < MUTATIONS * 20) {
      attempts++;
      const [opName, op] = rng.pick(ops);
      const purpose = rng.pick(PURPOSES);
      // try bases until the mutation applies (some need chats, folders, file pointers, ...)
      let base = rng.pick(bases);
      let b = structuredClone(base.backup);
      let label = op(b, rng);
      for (let t = 0; label === undefined && t < 40; t++) {
        base = rng.pick(bases);
        b = structuredClone(base.backup);
        label = op(b, rng);
      }
      if (label === undefined) continue;
      let mutated: Backup;
      try {
        mutated = reread(b);
      } catch {
        continue; // not encodable (for example a value out of range): not a backup at all
      }
      made++;
      const lib = libsignal(mutated, purpose);
      const ours = coffer(mutated, purpose);
      const stat = byOp.get(opName) ?? { n: 0, rejected: 0, sameText: 0 };
      stat.n++;
      if (lib !== 'ok') stat.rejected++;
      if (lib === ours) stat.sameText++;
      else if (lib !== 'ok' && ours !== 'ok' && textDiffs.length < 40)
        textDiffs.push(`${opName}: ${label}\n    libsignal: ${lib}\n    coffer:    ${ours}`);
      byOp.set(opName, stat);
      if ((lib === 'ok') !== (ours === 'ok')) {
        disagreements.push(
          `${base.name} [${purpose}] ${label}\n    libsignal: ${lib}\n    coffer:    ${ours}`,
        );
      }
    }
    const lines = [...byOp].map(
      ([k, s]) =>
        `${k.padEnd(26)} ${String(s.n).padStart(5)} mutations, ${String(s.rejected).padStart(5)} rejected by libsignal, ${String(s.sameText).padStart(5)} with the same verdict text`,
    );
    console.log(`mutations: ${made} (seed ${SEED})\n${lines.join('\n')}`);
    if (process.env.COFFER_MUTATION_TEXT_DIFFS) console.log(textDiffs.join('\n'));
    expect(made).toBe(MUTATIONS);
    expect(disagreements.slice(0, 30)).toEqual([]);
    // Agreement is only worth something if the mutations break rules: every targeted kind must
    // produce backups the reference rejects, and most mutations overall must be rejections.
    for (const name of Object.keys(targeted)) {
      expect(byOp.get(name)?.rejected ?? 0, `${name}: no mutation that libsignal rejects`).toBeGreaterThan(0);
    }
    const rejected = [...byOp.values()].reduce((n, st) => n + st.rejected, 0);
    expect(rejected, 'mutations rejected by libsignal').toBeGreaterThan(made / 2);
  }, 120_000);
});
