// `coffer admin set-level` as an operator runs it: a separate process on the server's data folder
// and database (SQLite in the folder, or the PostgreSQL schema of COFFER_TEST_STORAGE=pg-s3).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../../test-support/vectors.ts';
import { createDb } from '../src/db/create-db.ts';
import { startTestServer, TestClient } from './helpers.ts';

const run = promisify(execFile);

describe('coffer admin set-level', () => {
  it('sets an account to paid and refuses unknown accounts and levels', async () => {
    const ts = await startTestServer();
    const c = TestClient.forServer(ts);
    await c.register(ts.sender);
    const dir = ts.dir;
    const { databaseUrl } = ts.server.ctx.config;
    await ts.server.close(); // the folder and the database stay; the server is stopped
    const cli = (...args: string[]) =>
      run(process.execPath, ['packages/cli/bin/coffer.js', 'admin', 'set-level', ...args, '--data', dir], {
        cwd: repoRoot,
        env: { ...process.env, COFFER_DATABASE_URL: databaseUrl },
      }).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
    const ok = await cli(c.aci, 'paid');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('paid (201)');
    const db = await createDb(databaseUrl, { baseDir: dir });
    const row = await db.db
      .selectFrom('accounts')
      .select('level')
      .where('aci', '=', c.aci)
      .executeTakeFirst();
    expect(row?.level).toBe(201);
    await db.close();
    const unknown = await cli('00000000-0000-4000-8000-000000000000', 'paid');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('COFFER_ERR_ACCOUNT_NOT_FOUND');
    const badLevel = await cli(c.aci, 'gold');
    expect(badLevel.code).toBe(2);
    await ts.close();
  });
});
