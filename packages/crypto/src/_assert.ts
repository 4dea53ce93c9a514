// Tiny named asserts for the public boundary (house style: a wrong type is a TypeError, a wrong
// length a RangeError, and the message names the parameter). Internal: not exported from index.ts.

/** Throws TypeError unless `value` is a Uint8Array; RangeError unless its length is one of `lengths`. */
export function abytes(name: string, value: unknown, ...lengths: number[]): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new TypeError(`${name} must be a Uint8Array, got ${describe(value)}`);
  }
  if (lengths.length > 0 && !lengths.includes(value.length)) {
    throw new RangeError(`${name} must be ${lengths.join(' or ')} bytes long, got ${value.length}`);
  }
}

/** Throws TypeError unless `value` is a string. */
export function astring(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a string, got ${describe(value)}`);
}

/** Throws TypeError unless `value` is a function. */
export function afunction(name: string, value: unknown): asserts value is (...args: never[]) => unknown {
  if (typeof value !== 'function') throw new TypeError(`${name} must be a function, got ${describe(value)}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return (value as object).constructor?.name ?? 'an object';
  return typeof value;
}
