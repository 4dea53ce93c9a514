import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { codesUsedInSources, collectErrorCodes, docsPath, renderErrorDocs } from '../scripts/error-codes.ts';

describe('error codes', () => {
  it('docs/errors.md is exactly what the packages declare', async () => {
    expect(existsSync(docsPath)).toBe(true);
    expect(readFileSync(docsPath, 'utf8')).toBe(renderErrorDocs(await collectErrorCodes()));
  });

  it('every code thrown in the sources is declared, with a description, in a stable format', async () => {
    const declared = new Map<string, string>();
    for (const { pkg, codes } of await collectErrorCodes()) {
      for (const [code, text] of Object.entries(codes)) {
        expect(code).toMatch(/^COFFER_ERR_[A-Z0-9_]+$/);
        expect(text.trim().length, `${code} needs a description`).toBeGreaterThan(10);
        declared.set(code, pkg);
      }
    }
    const missing: string[] = [];
    for (const [pkg, codes] of codesUsedInSources()) {
      for (const code of codes) if (!declared.has(code)) missing.push(`${pkg}: ${code}`);
    }
    expect(missing).toEqual([]);
  });
});
