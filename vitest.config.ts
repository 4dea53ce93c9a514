import { defineConfig } from 'vitest/config';

// One runner for the whole monorepo. Packages export their TypeScript sources directly
// ("internal packages"), so tests need no build step.
export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
