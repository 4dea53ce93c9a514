// SIGKILL of `coffer serve` (embedded: SQLite + files) at random points of upload, commit, media
// store, media deletion, delete-everything and retention; 20 trials in CI, 100 in the soak profile.
import { describe, expect, it } from 'vitest';
import { isSoak, trials } from '../../test-support/profile.ts';
import { runCrashTrials } from './crash-trials.ts';

const n = trials('crash', 12, 100);

describe('SIGKILL fault injection (embedded; 12 of the 20 CI trials, 8 more in crash-pg-s3)', () => {
  it(
    `${n} random kills: committed backups intact, nothing half-written current, uploads resume`,
    async () => {
      const r = await runCrashTrials({ trials: n, label: 'embedded' });
      console.log(`crash trials (embedded): ${n}, seed ${r.seed}, by operation ${JSON.stringify(r.byOp)}`);
      expect(Object.values(r.byOp).reduce((x, y) => x + y, 0)).toBe(n);
    },
    (isSoak ? 60 : 15) * 60_000,
  );
});
