import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createPgSchema, createS3Prefix, testS3Client } from '../../../../test-support/services.ts';

// The test-service helpers themselves: isolation between tests is what lets suites run concurrently.
describe('test services', () => {
  it('gives each test its own PostgreSQL schema', async () => {
    const a = await createPgSchema('iso_a');
    const b = await createPgSchema('iso_b');
    const ca = new pg.Client({ connectionString: a.url });
    const cb = new pg.Client({ connectionString: b.url });
    await ca.connect();
    await cb.connect();
    try {
      await ca.query('CREATE TABLE t (x int)');
      await ca.query('INSERT INTO t VALUES (1)');
      await cb.query('CREATE TABLE t (x int)');
      const ra = await ca.query('SELECT count(*)::int AS n FROM t');
      const rb = await cb.query('SELECT count(*)::int AS n FROM t');
      expect([ra.rows[0].n, rb.rows[0].n]).toEqual([1, 0]);
      const { rows } = await ca.query('SELECT current_schema() AS s');
      expect(rows[0].s).toBe(a.schema);
    } finally {
      await ca.end();
      await cb.end();
      await a.drop();
      await b.drop();
    }
  });

  it('gives each test its own S3 prefix and cleans it up', async () => {
    const p = await createS3Prefix('iso');
    const s3 = testS3Client(p.target);
    try {
      await s3.send(new PutObjectCommand({ Bucket: p.bucket, Key: `${p.prefix}k`, Body: 'hello' }));
      const got = await s3.send(new GetObjectCommand({ Bucket: p.bucket, Key: `${p.prefix}k` }));
      expect(await got.Body?.transformToString()).toBe('hello');
      await p.cleanup();
      await expect(
        s3.send(new GetObjectCommand({ Bucket: p.bucket, Key: `${p.prefix}k` })),
      ).rejects.toThrow();
    } finally {
      s3.destroy();
    }
  });
});
