import { defineConfig } from 'vitest/config';

// The long ("soak") profile: `npm run test:soak` (COFFER_PROFILE=soak). The same test files as
// `npm test` - suites read bigger trial counts from test-support/profile.ts (100+ SIGKILL trials per
// storage, 10,000 tamper positions, 5,000 fuzz runs per property, 1,000 load clients) - plus the
// soak-only file test/fuzz/jazzer.soak.ts: the Jazzer.js coverage-guided targets, 30 s each.
// Override any count with COFFER_TRIALS_<NAME>, the fuzz budget with COFFER_FUZZ_SECONDS, the load
// with COFFER_LOAD_*. README.md says what it runs and how long it takes.
export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'test/**/*.soak.ts'],
    testTimeout: 60 * 60_000,
    hookTimeout: 10 * 60_000,
    pool: 'forks',
    // the long suites are CPU-heavy: run files one at a time so their figures are meaningful
    fileParallelism: false,
    globalSetup: ['test-support/global-setup.ts'],
    reporters: ['default'],
    env: { COFFER_PROFILE: 'soak' },
  },
});
