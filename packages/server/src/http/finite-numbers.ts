/**
 * Refuses requests whose query, path parameters or JSON body hold a number that is not finite.
 *
 * Ajv's type coercion (Fastify coerces query strings) turns "Infinity", "-Infinity" and "1e400"
 * into ±Infinity and then lets them through `integer` with `minimum`/`maximum` bounds; JSON.parse
 * also reads 1e400 as Infinity. A limit of Infinity reached SQLite's LIMIT as a 500 (found by the
 * soak run's request fuzzer). One check after validation covers every route, including ones added
 * later, instead of a guard in each handler.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from './errors.ts';

/** Whether `value` holds a non-finite number, looking at most `budget` values deep into it. */
function hasNonFinite(value: unknown, budget = { left: 100_000 }): boolean {
  if (typeof value === 'number') return !Number.isFinite(value);
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return false;
  // Bodies are bounded by the body limit; the budget only keeps a pathological one cheap.
  for (const v of Array.isArray(value) ? value : Object.values(value)) {
    if (--budget.left < 0) return false;
    if (hasNonFinite(v, budget)) return true;
  }
  return false;
}

export async function refuseNonFiniteNumbers(req: FastifyRequest, reply: FastifyReply) {
  if (hasNonFinite(req.query) || hasNonFinite(req.params) || hasNonFinite(req.body)) {
    return reply
      .status(400)
      .send(errorBody('COFFER_ERR_BAD_REQUEST', 'invalid request: a number is out of range'));
  }
}
