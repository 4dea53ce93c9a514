// Unknown fields (spec 3.5: soft, reported, never silently dropped). The generated decoders keep
// every unknown field's raw bytes in `_unknownFields` (keyed by tag) and the encoders write them
// back, so a binary round trip is lossless; this module finds them so they can be reported.

/** One unknown field: a dotted path to the message holding it, and its field number. */
export interface UnknownField {
  path: string;
  fieldNumber: number;
  wireType: number;
  occurrences: number;
}

/** Lists the unknown fields anywhere inside a decoded message (depth-first, stable order). */
export function collectUnknownFields(message: object, path = ''): UnknownField[] {
  const out: UnknownField[] = [];
  walk(message, path, out);
  return out;
}

/** True when the message or anything inside it has unknown fields (cheaper than collecting). */
export function hasUnknownFields(message: object): boolean {
  return collectUnknownFields(message).length > 0;
}

function walk(value: object, path: string, out: UnknownField[]): void {
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined || v === null || typeof v !== 'object' || v instanceof Uint8Array) continue;
    if (key === '_unknownFields') {
      for (const tag in v) {
        const list = (v as Record<string, Uint8Array[]>)[tag] as Uint8Array[];
        const t = Number(tag);
        out.push({ path, fieldNumber: t >>> 3, wireType: t & 7, occurrences: list.length });
      }
      continue;
    }
    // `$case` unions: {$case: 'chatItem', chatItem: {...}}; the union object itself adds no path.
    if ('$case' in v) {
      walk(v, path, out);
      continue;
    }
    const sub = path === '' ? key : `${path}.${key}`;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const e = v[i] as unknown;
        if (typeof e === 'object' && e !== null && !(e instanceof Uint8Array)) walk(e, `${sub}[${i}]`, out);
      }
    } else {
      walk(v, sub, out);
    }
  }
}
