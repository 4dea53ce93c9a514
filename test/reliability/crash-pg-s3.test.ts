// The SIGKILL trials of crash-embedded.test.ts on PostgreSQL + S3 (a fresh schema and key prefix),
// 8 in CI (with the 12 embedded ones, the 20 CI kills), 100 in the soak profile.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSoak, trials } from '../../test-support/profile.ts';
import { createPgSchema, createS3Prefix, type PgSchema, type S3Prefix } from '../../test-support/services.ts';
import { runCrashTrials } from './crash-trials.ts';

const n = trials('crash_pg_s3', 8, 100);

describe('SIGKILL fault injection (PostgreSQL + S3)', () => {
  let schema: PgSchema;
  let prefix: S3Prefix;
  beforeAll(async () => {
    schema = await createPgSchema('crash');
    prefix = await createS3Prefix('crash');
  });
  afterAll(async () => {
    await schema?.drop();
    await prefix?.cleanup();
  });

  it(
    `${n} random kills on PostgreSQL + S3`,
    async () => {
      const r = await runCrashTrials({
        trials: n,
        label: 'pgs3',
        env: { COFFER_DATABASE_URL: schema.url, COFFER_BLOB_URL: prefix.url },
      });
      console.log(`crash trials (pg-s3): ${n}, seed ${r.seed}, by operation ${JSON.stringify(r.byOp)}`);
      expect(Object.values(r.byOp).reduce((x, y) => x + y, 0)).toBe(n);
    },
    (isSoak ? 90 : 15) * 60_000,
  );
});
