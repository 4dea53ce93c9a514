// `coffer admin`: operator commands against the server's metadata database (works while the server
// runs: SQLite in WAL mode and PostgreSQL both allow it). Payment is out of scope: set-level is how
// an operator grants the paid level.
import type { Command } from 'commander';

const LEVELS: Record<string, number> = { free: 200, paid: 201, '200': 200, '201': 201 };

export function register(program: Command): void {
  const admin = program.command('admin').description('operator commands (levels)');
  admin
    .command('set-level')
    .description("set an account's backup level: free (200) or paid (201)")
    .argument('<aci>', 'account ACI (UUID)')
    .argument('<level>', 'free | paid')
    .option('--data <dir>', 'data folder (env COFFER_DATA; default ./data)')
    .option('--config <file>', 'JSON config file (env COFFER_CONFIG)')
    .action(async (aci: string, levelName: string, o: { data?: string; config?: string }) => {
      const level = LEVELS[levelName.toLowerCase()];
      if (level === undefined) {
        process.stderr.write('COFFER_ERR_BAD_REQUEST: the level must be free or paid\n');
        process.exitCode = 2;
        return;
      }
      const file = o.config ?? process.env.COFFER_CONFIG;
      // Loaded here, not at start-up: the other commands never parse the server (bench/README.md).
      const { createDb, loadConfig, setAccountLevel } = await import('@coffer/server');
      const config = loadConfig({ ...(file ? { file } : {}), overrides: o.data ? { dataDir: o.data } : {} });
      const db = await createDb(config.databaseUrl, { baseDir: config.dataDir });
      try {
        await setAccountLevel({ db: db.db }, aci, level);
        process.stdout.write(`account level set to ${level === 201 ? 'paid' : 'free'} (${level})\n`);
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'COFFER_ERR_INTERNAL';
        process.stderr.write(`${code}: ${(err as Error).message}\n`);
        process.exitCode = 1;
      } finally {
        await db.close();
      }
    });
}
