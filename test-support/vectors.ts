import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (this file lives in <root>/test-support). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The shared test vectors. They are fixtures outside the repository (their licences do not let
 * us redistribute them): COFFER_VECTORS_DIR, or ../shared/vectors beside the clone.
 */
export const vectorsDir = process.env.COFFER_VECTORS_DIR ?? resolve(repoRoot, '../shared/vectors');

export function vectorPath(...parts: string[]): string {
  const p = join(vectorsDir, ...parts);
  if (!existsSync(p)) throw new Error(`test vector missing: ${p} (set COFFER_VECTORS_DIR)`);
  return p;
}
