/**
 * Cheap per-frame test for unknown fields (spec 3.5 "Unknown fields are soft"). The detailed
 * listing (../unknown-fields.ts, shared with the codec) runs only for frames that have some.
 */

import type { ChatItem, FilePointer, Frame, StandardMessage } from '../gen/Backup.ts';

type Msg = Record<string, unknown>;

/** Fast yes/no version used on every frame; the detailed walk runs only when this says yes. */
export function hasUnknownFields(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (hasUnknownFields(value[i])) return true;
    return false;
  }
  if (value instanceof Uint8Array) return false;
  const m = value as Msg;
  const u = m._unknownFields;
  if (u !== undefined) for (const _ in u as object) return true;
  for (const k in m) {
    const v = m[k];
    if (typeof v === 'object' && v !== null && k !== '_unknownFields' && hasUnknownFields(v)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Hot path: chat items are nearly all of a backup, so their common shapes get a hand-written walk
// (plain property loads instead of a generic walk); anything unusual falls back to the generic one.

type WithUnknown = { _unknownFields?: Record<number, Uint8Array[]> | undefined };

function own(m: WithUnknown): boolean {
  const u = m._unknownFields;
  if (u !== undefined) for (const _ in u) return true;
  return false;
}

function filePointerHasUnknown(fp: FilePointer): boolean {
  return own(fp) || (fp.locatorInfo !== undefined && own(fp.locatorInfo));
}

function standardHasUnknown(sm: StandardMessage): boolean {
  if (own(sm)) return true;
  const t = sm.text;
  if (t !== undefined && (own(t) || (t.bodyRanges.length > 0 && hasUnknownFields(t.bodyRanges)))) return true;
  for (const a of sm.attachments) {
    if (own(a) || (a.pointer !== undefined && filePointerHasUnknown(a.pointer))) return true;
  }
  for (const r of sm.reactions) if (own(r)) return true;
  if (sm.quote !== undefined && hasUnknownFields(sm.quote)) return true;
  if (sm.linkPreview.length > 0 && hasUnknownFields(sm.linkPreview)) return true;
  return sm.longText !== undefined && filePointerHasUnknown(sm.longText);
}

export function chatItemHasUnknown(ci: ChatItem): boolean {
  if (own(ci)) return true;
  const d = ci.directionalDetails;
  if (d !== undefined) {
    if (d.$case === 'incoming') {
      if (own(d.incoming)) return true;
    } else if (d.$case === 'outgoing') {
      const o = d.outgoing;
      if (own(o)) return true;
      for (const s of o.sendStatus) {
        if (own(s)) return true;
        const ds = s.deliveryStatus;
        if (ds !== undefined && own((ds as unknown as Record<string, WithUnknown>)[ds.$case] as WithUnknown))
          return true;
      }
    } else if (own(d.directionless)) return true;
  }
  const it = ci.item;
  if (it !== undefined) {
    if (it.$case === 'standardMessage') {
      if (standardHasUnknown(it.standardMessage)) return true;
    } else if (hasUnknownFields(it)) return true;
  }
  if (ci.pinDetails !== undefined && own(ci.pinDetails)) return true;
  for (const r of ci.revisions) if (chatItemHasUnknown(r)) return true;
  return false;
}

/** Does this frame carry unknown fields anywhere? */
export function frameHasUnknownFields(f: Frame): boolean {
  if (own(f)) return true;
  const it = f.item;
  if (it === undefined) return false;
  if (it.$case === 'chatItem') return chatItemHasUnknown(it.chatItem);
  return hasUnknownFields(it);
}
