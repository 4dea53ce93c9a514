/**
 * Cheap per-frame test for unknown fields (spec 3.5 "Unknown fields are soft"). The detailed
 * listing (../unknown-fields.ts, shared with the codec) runs only for frames that have some.
 */

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
