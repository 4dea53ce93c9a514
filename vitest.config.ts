import { defineConfig } from 'vitest/config';

// One runner for the whole monorepo. Packages export their TypeScript sources directly
// ("internal packages"), so tests need no build step.
export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Starts a throwaway S3 store on first use when COFFER_TEST_S3_URL is unset (test-support/services.ts).
    globalSetup: ['test-support/global-setup.ts'],
    reporters: ['default'],
  },
});
